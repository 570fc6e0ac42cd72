import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { FileIssue } from '../../src/errors.js';
import { type Harness, PUMP_RULES, startHarness, waitFor } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const overheat = JSON.stringify({ temp: 95 });

describe('hot reload of rules', () => {
  it('applies a good edit without dropping the MQTT connection or a queued SMS', async () => {
    h = await startHarness();
    const device = await h.connect({ clientId: 'pump-7' });
    let closed = 0;
    device.on('close', () => closed++);
    await device.publishAsync('devices/pump-7/alerts/overheat', overheat, { qos: 1 });
    const reloaded = once(h.app.reloader, 'reloaded');
    writeFileSync(join(h.dir, 'rules.yaml'), PUMP_RULES.replace('overheating: ', 'TOO HOT: '));
    await reloaded;
    // another device: the same one would be inside the default cooldown
    await device.publishAsync('devices/pump-9/alerts/overheat', overheat, { qos: 1 });
    const sim = h.sim;
    const texts = await waitFor(
      () => sim.received.length >= 2 && sim.received.map((s) => s.text),
      'both SMS',
    );
    expect(texts).toEqual(['pump-7 overheating: 95C', 'pump-9 TOO HOT: 95C']);
    expect(closed).toBe(0);
    expect(device.connected).toBe(true);
  });

  it('keeps the last good rules after a bad edit and says where the mistake is', async () => {
    h = await startHarness();
    const rejected = once(h.app.reloader, 'rejected') as Promise<[{ issues: FileIssue[] }]>;
    writeFileSync(join(h.dir, 'rules.yaml'), PUMP_RULES.replace('when: temp > 90', 'when: temp >>> 90'));
    const [{ issues }] = await rejected;
    expect(issues).toEqual([
      expect.objectContaining({ file: join(h.dir, 'rules.yaml'), line: 10, col: 11, path: 'rules.0.when' }),
    ]);
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/overheat', overheat, { qos: 1 });
    const sim = h.sim;
    await waitFor(() => sim.received[0], 'SMS from the old rule');
    expect(sim.received[0]?.text).toBe('pump-7 overheating: 95C');
  });

  it('reloads on request (SIGHUP) even without a file event, and reports an unchanged bad file once', async () => {
    h = await startHarness();
    expect(h.app.reload('SIGHUP').status).toBe('reloaded');
    await h.app.reloader.stop(); // no watcher: only explicit reloads from here
    writeFileSync(join(h.dir, 'rules.yaml'), 'rules: [');
    expect(h.app.reloader.reload('test')).toMatchObject({ status: 'rejected' });
    expect(h.app.reloader.reload('test')).toEqual({ status: 'unchanged' });
    writeFileSync(
      join(h.dir, 'rules.yaml'),
      PUMP_RULES.replace('bob:', 'robert:').replace('[bob]', '[robert]'),
    );
    const outcome = h.app.reload();
    expect(outcome.status).toBe('reloaded');
    if (outcome.status === 'reloaded')
      expect([...outcome.set.rules.contacts.keys()]).toEqual(['alice', 'robert']);
  });
});
