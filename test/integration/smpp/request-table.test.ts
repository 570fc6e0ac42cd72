import { createServer, type Server, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import smpp from 'smpp';
import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { RequestTable } from '../../../src/smpp/session-requests.js';
import { Cleanup } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A TCP peer that reads everything and answers nothing: every request times out. */
async function silentPeer(): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanup.add(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as { port: number }).port;
}

async function session(port: number): Promise<smpp.Session> {
  const s = smpp.connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => s.once('connect', () => resolve()));
  cleanup.add(async () => s.destroy());
  return s;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** When the promise rejected (performance.now()) and with what code; 'pending' when not within `maxMs`. */
async function rejection(p: Promise<unknown>, maxMs: number): Promise<{ at: number; code: string }> {
  return Promise.race([
    p.then(
      () => ({ at: performance.now(), code: 'resolved' }),
      (err: unknown) => ({
        at: performance.now(),
        code: isBridgeError(err) ? err.code : String(err),
      }),
    ),
    sleep(maxMs).then(() => ({ at: performance.now(), code: 'pending' })),
  ]);
}

describe('RequestTable: one timer for every request', () => {
  it('times out each request at its own deadline, never before, the later ones after the first', async () => {
    const timeoutMs = 150;
    const table = new RequestTable(await session(await silentPeer()), 'silent', timeoutMs, silentLogger());
    const sentA = performance.now();
    const a = rejection(table.request('enquire_link', {}), 5000);
    await sleep(60);
    const sentB = performance.now();
    const b = rejection(table.request('enquire_link', {}), 5000);
    await sleep(40);
    const sentC = performance.now();
    const c = rejection(table.request('enquire_link', {}), 5000);
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    expect([ra.code, rb.code, rc.code]).toEqual(['ERR_SMPP_TIMEOUT', 'ERR_SMPP_TIMEOUT', 'ERR_SMPP_TIMEOUT']);
    // none gave up early: each waited its whole timeout from its own send, not the oldest one's
    expect(ra.at - sentA).toBeGreaterThanOrEqual(timeoutMs);
    expect(rb.at - sentB).toBeGreaterThanOrEqual(timeoutMs);
    expect(rc.at - sentC).toBeGreaterThanOrEqual(timeoutMs);
    expect(table.size).toBe(0);
  });

  it('a submit_sm that times out calls onSubmitTimeout before it rejects; other requests do not', async () => {
    const events: string[] = [];
    const table = new RequestTable(await session(await silentPeer()), 'silent', 50, silentLogger(), () =>
      events.push('onSubmitTimeout'),
    );
    const link = table.request('enquire_link', {});
    const submit = table.submit(
      new smpp.PDU('submit_sm', {
        destination_addr: '447700900001',
        short_message: Buffer.from('hi'),
      }) as smpp.AnyPdu,
    );
    link.catch((err: unknown) => events.push(`enquire_link ${isBridgeError(err) ? err.code : err}`));
    submit.catch((err: unknown) => events.push(`submit_sm ${isBridgeError(err) ? err.code : err}`));
    await Promise.allSettled([link, submit]);
    expect(events).toHaveLength(3);
    expect(events).toContain('enquire_link ERR_SMPP_TIMEOUT');
    // once, for the submit_sm only, and before its promise rejects (the session ends before a retry can go out)
    expect(events.filter((e) => e !== 'enquire_link ERR_SMPP_TIMEOUT')).toEqual([
      'onSubmitTimeout',
      'submit_sm ERR_SMPP_TIMEOUT',
    ]);
  });
});
