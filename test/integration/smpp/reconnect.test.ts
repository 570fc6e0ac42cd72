import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { backoffDelay, SmppClient } from '../../../src/smpp/session.js';
import { Cleanup, captureLog, startClient, startSim, submitParams, waitBound, waitFor } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('backoffDelay', () => {
  it.each([
    [0, 0, 500],
    [0, 1, 1000],
    [3, 0, 4000],
    [3, 1, 8000],
    [10, 0, 30_000],
    [10, 1, 60_000],
    [5000, 1, 60_000],
  ])('attempt %i with random %f waits %i ms (initial 1000, max 60000)', (attempt, random, expected) => {
    expect(backoffDelay(attempt, 1000, 60_000, () => random)).toBe(expected);
  });
});

describe('SmppClient keeps the bind up', () => {
  it('a refused bind is logged once per attempt by name and retried with growing backoff', async () => {
    const log = captureLog();
    const { sim, port } = await startSim(cleanup, { systemId: 'bridge', password: 'right' });
    const times: number[] = [];
    sim.on('bind', () => times.push(performance.now()));
    const client = startClient(
      cleanup,
      port,
      { password: 'wrong', reconnectInitialMs: 20, reconnectMaxMs: 5000 },
      log,
    );
    const errors: Error[] = [];
    client.on('error', (err) => errors.push(err));

    await waitFor(() => times.length >= 5, 10_000, 'five bind attempts');
    expect(client.bound).toBe(false);
    expect(sim.binds.every((b) => b.commandStatus === 0x0d)).toBe(true);
    const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0));
    // equal jitter: attempt n waits between 2^(n-1) and 2^n times the initial delay
    expect(gaps[3]).toBeGreaterThan(2 * (gaps[0] ?? 0));
    expect(gaps[3]).toBeGreaterThanOrEqual(80);
    const refused = log.lines.filter((l) => String(l.msg).includes('ESME_RBINDFAIL'));
    expect(refused.length).toBeGreaterThanOrEqual(4);
    expect(refused[0]?.msg).toMatch(
      /^connection smsc-a: could not bind \(SMSC refused bind_transceiver as "bridge": ESME_RBINDFAIL \(0x0000000d\)\); reconnecting in \d+ ms$/,
    );
    expect(refused[0]).toMatchObject({ level: 40, module: 'smpp', connection: 'smsc-a' });
    expect(errors).toEqual([]);
    expect(client.lastError).toContain('ESME_RBINDFAIL');
  });

  it('notices the SMSC going away, retries while it is refused, rebinds when it is back on the same port', async () => {
    const log = captureLog();
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, {}, log);
    await waitBound(client);
    expect((await client.submit(submitParams())).commandStatus).toBe(0);

    const unbound = new Promise<string>((resolve) => client.once('unbound', resolve));
    await sim.stop();
    expect(await unbound).toBe('connection closed by the SMSC');
    expect(client.bound).toBe(false);
    await expect(client.submit(submitParams())).rejects.toSatisfy((e) =>
      isBridgeError(e, 'ERR_SMPP_NOT_BOUND'),
    );
    await waitFor(
      () => log.messages().some((m) => m.includes('connection refused (ECONNREFUSED)')),
      5000,
      'refusal',
    );

    await sim.start({ host: '127.0.0.1', port });
    await waitBound(client);
    expect((await client.submit(submitParams())).commandStatus).toBe(0);
    expect(sim.received).toHaveLength(2);
  });

  it('fails pending requests with ERR_SMPP_CLOSED when the connection drops', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, { responseTimeoutMs: 5000 });
    await waitBound(client);
    sim.setBehaviour('blackhole');
    const pending = client.submit(submitParams());
    await waitFor(() => sim.boundSessions().length === 1);
    sim.dropConnections();
    await expect(pending).rejects.toSatisfy((e) => isBridgeError(e, 'ERR_SMPP_CLOSED'));
  });

  it('detects a silent (blackholed) SMSC by the enquire_link deadline and reconnects', async () => {
    const log = captureLog();
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, { enquireLinkIntervalMs: 150, responseTimeoutMs: 200 }, log);
    await waitBound(client);
    const reasons: string[] = [];
    client.on('unbound', (reason) => reasons.push(reason));

    sim.setBehaviour('blackhole');
    await waitFor(() => reasons.length === 1, 3000, 'the dead link to be noticed');
    expect(reasons[0]).toBe('no enquire_link_resp within 200 ms: the link is dead');

    // binds during the blackhole time out as well; once the SMSC answers again the client is back
    await waitFor(
      () => log.messages().some((m) => m.includes('no bind_transceiver_resp within 200 ms')),
      3000,
      'a bind timeout',
    );
    sim.setBehaviour('normal');
    await waitBound(client);
    expect((await client.submit(submitParams())).commandStatus).toBe(0);
  });

  it('ends the session when a submit_sm gets no response, and binds a fresh one', async () => {
    const { sim, port } = await startSim(cleanup);
    // enquire_link far off: only the missing submit_sm_resp can end the session
    const client = startClient(cleanup, port, { enquireLinkIntervalMs: 60_000, responseTimeoutMs: 200 });
    await waitBound(client);
    const reasons: string[] = [];
    client.on('unbound', (reason) => reasons.push(reason));

    sim.swallowSubmits(1);
    await expect(client.submit(submitParams())).rejects.toSatisfy((e) =>
      isBridgeError(e, 'ERR_SMPP_TIMEOUT'),
    );
    // the session is no longer offered for submits, even before its socket has closed
    expect(client.bound).toBe(false);
    await waitFor(() => reasons.length === 1, 3000, 'the session to end');
    expect(reasons[0]).toBe('no submit_sm_resp within 200 ms: the link is dead');
    await waitFor(() => sim.binds.length === 2, 3000, 'a fresh bind');
    await waitBound(client);
    expect((await client.submit(submitParams())).commandStatus).toBe(0);
    expect(sim.received.map((r) => [r.session, r.answered])).toEqual([
      [sim.binds[0]!.session, false],
      [sim.binds[1]!.session, true],
    ]);
  });

  it('drops the session on garbage bytes from the SMSC and binds again; the process stays up', async () => {
    const log = captureLog();
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, {}, log);
    await waitBound(client);
    const reasons: string[] = [];
    client.on('unbound', (reason) => reasons.push(reason));

    sim.injectRaw(Buffer.from('GARBAGE, NOT AN SMPP PDU AT ALL'));
    await waitFor(() => reasons.length === 1, 3000, 'the session to be dropped');
    expect(reasons[0]).toMatch(/^unparseable PDU from the SMSC: PDU length was too large/);
    await waitFor(() => sim.binds.length === 2, 3000, 'a fresh bind');
    await waitBound(client);
    expect((await client.submit(submitParams())).commandStatus).toBe(0);

    // a PDU whose length is too short for its header parses into an exception as well
    const short = Buffer.alloc(8);
    short.writeUInt32BE(8, 0);
    sim.injectRaw(short);
    await waitFor(() => reasons.length === 2, 3000, 'the second drop');
    await waitFor(() => sim.binds.length === 3 && client.bound, 3000, 'the third bind');
  });

  it('logs a name that does not resolve and keeps retrying', async () => {
    const log = captureLog();
    startClient(cleanup, 2775, { url: 'smpp://smsc.invalid:2775' }, log);
    await waitFor(
      () => log.messages().some((m) => m.includes('host name not resolved')),
      10_000,
      'DNS failure',
    );
  });

  it('ssmpp:// speaks TLS: a handshake against a plain SMSC fails cleanly and is retried', async () => {
    const log = captureLog();
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, { url: `ssmpp://127.0.0.1:${port}` }, log);
    await waitFor(
      () => log.messages().filter((m) => m.includes('could not connect')).length >= 2,
      5000,
      'two failed TLS attempts',
    );
    expect(client.bound).toBe(false);
    expect(sim.binds).toEqual([]);
  });

  it('rejects a url that is not smpp:// or ssmpp://', () => {
    const client = new SmppClient(
      { id: 'bad', url: 'http://127.0.0.1:2775', systemId: 'x', password: 'y' },
      captureLog().logger,
    );
    expect(() => client.start()).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });
});
