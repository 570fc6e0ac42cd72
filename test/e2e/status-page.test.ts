import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bound, type HttpHarness, startHttpHarness, TOKEN } from '../integration/http-harness.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Runs in the page: every shown table or cell that reaches past its card's padding, named by the card's title. */
const OVERFLOWS = `[...document.querySelectorAll('table')].flatMap((table) => {
  const card = table.closest('section');
  const box = card.getBoundingClientRect();
  const style = getComputedStyle(card);
  const left = box.left + parseFloat(style.paddingLeft) - 0.5;
  const right = box.right - parseFloat(style.paddingRight) + 0.5;
  return [table, ...table.querySelectorAll('th, td')]
    .map((c) => [c, c.getBoundingClientRect()])
    .filter(([, r]) => r.width > 0 && (r.right > right || r.left < left))
    .map(([c]) => c)
    .map((c) => card.querySelector('h2').textContent + ': <' + c.tagName.toLowerCase() + '> ' + c.textContent);
})`;

describe('status page in headless Chromium', () => {
  let browser: Browser;
  let h: HttpHarness | undefined;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('shows the bound connection and a newly sent SMS without reloading', async () => {
    h = await startHttpHarness({ sim: { receipts: true, receiptDelayMs: 50 } });
    await bound(h);
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (msg) => {
      if (msg.type() === 'error') errors.push(msg.text());
    });
    await page.goto(`${h.url}/status#token=${TOKEN}`);
    await page.locator('[data-connection="main"][data-state="bound"]').waitFor({ timeout: 5000 });
    expect(page.url()).toBe(`${h.url}/status`); // the token left the address bar
    await expect.poll(() => page.locator('#recent').textContent()).toContain('No SMS yet');
    await page.evaluate(() => {
      (globalThis as unknown as { marker: number }).marker = 42;
    });

    await h.publish('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 97 }));
    const row = page.locator('[data-sms="1"]');
    await row.waitFor({ timeout: 5000 });
    expect(await row.textContent()).toContain('pump-7 overheating: 97C');
    await page.locator('[data-sms="1"][data-state="delivered"]').waitFor({ timeout: 5000 });
    expect(await page.locator('#rule-hits').textContent()).toBe('1');

    const sent = await h.api('/api/sms', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+447700900005', text: 'hello from the admin API' }),
    });
    expect(sent.status).toBe(201);
    await page.locator('[data-sms="2"]').waitFor({ timeout: 5000 });

    expect(await page.evaluate(() => (globalThis as unknown as { marker?: number }).marker)).toBe(42);
    expect(errors).toEqual([]);
    await page.close();
  });

  it.each([
    ['a phone', 375, 740],
    ['a tablet', 800, 1000],
    ['a 1,400 px desktop window', 1400, 900],
    ['a wide desktop', 1920, 1080],
  ])('on %s (%i px) no table is wider than its card', async (_name, width, height) => {
    h = await startHttpHarness();
    await bound(h);
    for (let i = 1; i <= 3; i++)
      await h.publish(
        `devices/north-field-irrigation-pump-${i}/alerts/overheat`,
        JSON.stringify({ temp: 95 }),
      );
    const page = await browser.newPage({ viewport: { width, height } });
    await page.goto(`${h.url}/status#token=${TOKEN}`);
    await page.locator('[data-alert]').nth(2).waitFor({ timeout: 5000 });
    await page.locator('[data-sms="3"]').waitFor({ timeout: 5000 });
    const overflows = await page.evaluate(OVERFLOWS);
    expect(overflows).toEqual([]);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    await page.close();
  });

  it('asks for the token and shows the down connection once given it', async () => {
    h = await startHttpHarness();
    await bound(h);
    await h.sim.stop();
    const page = await browser.newPage();
    await page.goto(`${h.url}/status`);
    await page.locator('#login').waitFor({ state: 'visible', timeout: 5000 });
    await page.fill('#token', 'wrong');
    await page.click('#login button');
    await expect.poll(() => page.locator('#login-msg').textContent()).toContain('bearer token');
    await page.fill('#token', TOKEN);
    await page.click('#login button');
    await page.locator('[data-connection="main"][data-state="down"]').waitFor({ timeout: 5000 });
    expect(await page.locator('#login').isHidden()).toBe(true);
    await page.close();
  });
});
