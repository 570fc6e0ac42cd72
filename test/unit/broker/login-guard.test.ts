import { describe, expect, it } from 'vitest';
import { ClientIdClaims } from '../../../src/broker/identity.js';
import { BRIDGE_OWNER, RetainedLedger } from '../../../src/broker/limits.js';
import { LoginGuard, type LoginLimits, LogLimiter } from '../../../src/broker/login-guard.js';

const limits: LoginLimits = {
  maxConcurrent: 1,
  maxQueued: 1,
  freeFailures: 2,
  backoffInitialMs: 1000,
  backoffMaxMs: 4000,
  tracked: 3,
};

describe('LoginGuard', () => {
  it('backs off an address after its free failures, doubling per episode up to the max', async () => {
    let now = 0;
    const guard = new LoginGuard(limits, () => now);
    const wrong = () => guard.attempt('10.0.0.1', 'pump-7', async () => null);
    expect((await wrong()).refused).toBe(false);
    expect((await wrong()).refused).toBe(false);
    expect((await wrong()).refused).toBe(false); // third failure: back-off of 1 s starts
    expect((await wrong()).refused).toBe('backoff');
    expect((await guard.attempt('10.0.0.2', 'other', async () => 'ok')).result).toBe('ok');
    now += 1000;
    expect((await wrong()).refused).toBe(false); // fails again: 2 s
    now += 1999;
    expect((await wrong()).refused).toBe('backoff');
    now += 1;
    await wrong(); // 4 s
    now += 4000;
    await wrong(); // capped at 4 s
    now += 3999;
    expect((await wrong()).refused).toBe('backoff');
    expect(guard.checks).toBe(7);
  });

  it('backs off a user name whatever the address', async () => {
    let now = 0;
    const guard = new LoginGuard({ ...limits, tracked: 100 }, () => now);
    for (let i = 0; i < 3; i++) await guard.attempt(`10.0.0.${i}`, 'pump-7', async () => null);
    expect((await guard.attempt('10.0.0.9', 'pump-7', async () => 'ok')).refused).toBe('backoff');
    now += 1000;
    expect((await guard.attempt('10.0.0.9', 'pump-7', async () => 'ok')).result).toBe('ok');
  });

  it('runs maxConcurrent checks with maxQueued waiting and refuses the rest as busy', async () => {
    const guard = new LoginGuard(limits);
    let release: () => void = () => undefined;
    const slow = () =>
      guard.attempt('a', 'u', () => new Promise<string>((resolve) => (release = () => resolve('ok'))));
    const first = slow();
    const second = guard.attempt('b', 'v', async () => 'ok');
    expect((await guard.attempt('c', 'w', async () => 'ok')).refused).toBe('busy');
    release();
    expect((await first).result).toBe('ok');
    expect((await second).result).toBe('ok');
    expect(guard.checks).toBe(2);
  });
});

describe('LogLimiter', () => {
  it('lets perWindow lines through, then says how many it dropped', () => {
    let now = 0;
    const limiter = new LogLimiter(2, 1000, () => now);
    const lines: number[] = [];
    for (let i = 0; i < 5; i++) limiter.run((dropped) => lines.push(dropped));
    now = 1000;
    limiter.run((dropped) => lines.push(dropped));
    expect(lines).toEqual([0, 0, 3]);
  });
});

describe('ClientIdClaims', () => {
  it('gives an id to its first account while connected or persistent, and bounds persistent sessions', () => {
    const claims = new ClientIdClaims(1);
    expect(claims.claim('c1', 'app:a', true, undefined)).toBe('ok');
    expect(claims.claim('c1', 'device:b', true, undefined)).toBe('taken');
    claims.release('c1', 'app:a');
    expect(claims.claim('c1', 'device:b', false, undefined)).toBe('ok'); // free again after a clean session
    claims.release('c1', 'device:b');
    expect(claims.claim('c1', 'app:a', true, undefined)).toBe('taken'); // b's session persists
    expect(claims.claim('c2', 'device:b', false, undefined)).toBe('full');
    expect(claims.claim('pump-7', 'app:a', true, 'device:pump-7')).toBe('taken');
    expect(claims.claim('pump-7', 'device:pump-7', false, 'device:pump-7')).toBe('ok');
  });
});

describe('RetainedLedger', () => {
  it('bounds retained messages per account, in all, and in bytes; replacing and deleting are free', () => {
    const ledger = new RetainedLedger({ maxPerClient: 2, maxTotal: 3, maxBytes: 100 });
    ledger.record('a/1', 'x', 10);
    ledger.record('a/2', 'x', 10);
    expect(ledger.problem('a/3', 'x', 10)).toMatch(/max_per_client/);
    expect(ledger.problem('a/2', 'x', 10)).toBeUndefined();
    expect(ledger.problem('b/1', 'y', 81)).toMatch(/max_bytes/);
    ledger.record('b/1', 'y', 10);
    expect(ledger.problem('b/2', 'y', 10)).toMatch(/max_total/);
    ledger.record('a/1', 'x', 0);
    expect(ledger.problem('a/3', 'x', 10)).toBeUndefined();
    expect(ledger.size).toBe(2);
  });

  it('counts the bridge’s own entries in all and in bytes; replacing, deleting and handing a topic over keep the counts', () => {
    const ledger = new RetainedLedger({ maxPerClient: 2, maxTotal: 3, maxBytes: 100 });
    ledger.record('sms-bridge/alerts/1', BRIDGE_OWNER, 40);
    ledger.record('sms-bridge/alerts/2', BRIDGE_OWNER, 40);
    expect(ledger.problem('a/1', 'x', 21)).toMatch(/max_bytes/);
    ledger.record('sms-bridge/alerts/2', BRIDGE_OWNER, 10); // replaced: 50 bytes in all
    expect(ledger.problem('a/1', 'x', 50)).toBeUndefined();
    ledger.record('a/1', 'x', 10);
    expect(ledger.problem('a/2', 'x', 1)).toMatch(/max_total/);
    ledger.record('sms-bridge/alerts/1', BRIDGE_OWNER, 0); // deleted: 20 bytes, 2 entries
    expect(ledger.size).toBe(2);
    expect(ledger.problem('a/2', 'x', 80)).toBeUndefined();
    expect(ledger.problem('a/2', 'x', 81)).toMatch(/max_bytes/);
    // a client's topic taken over by the bridge (no bridge topics configured) stops counting for the client
    ledger.record('a/1', BRIDGE_OWNER, 5);
    expect(ledger.problem('a/1', 'x', 90)).toBeUndefined(); // 15 bytes, of which the 5 it replaces
    expect(ledger.problem('a/1', 'x', 91)).toMatch(/max_bytes/);
    ledger.record('a/2', 'x', 1);
    expect(ledger.problem('a/3', 'x', 1)).toMatch(/max_total/);
    ledger.record('sms-bridge/alerts/2', BRIDGE_OWNER, 0);
    ledger.record('a/3', 'x', 1);
    expect(ledger.problem('a/4', 'x', 1)).toMatch(/max_per_client/);
    // and back: the bridge's topic set by a client counts for it
    ledger.record('a/1', 'y', 1);
    expect(ledger.problem('a/5', 'y', 1)).toMatch(/max_total/);
    ledger.record('a/3', 'x', 0);
    expect(ledger.problem('a/5', 'y', 1)).toBeUndefined();
    ledger.record('a/5', 'y', 1);
    expect(ledger.problem('a/6', 'z', 1)).toMatch(/max_total/);
    expect(ledger.size).toBe(3);
  });
});
