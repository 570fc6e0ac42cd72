import { describe, expect, it } from 'vitest';
import { WorkGate } from '../../src/work-gate.js';

/** A promise settled from outside. */
function deferred(): { promise: Promise<string>; resolve: (v: string) => void; reject: (e: Error) => void } {
  let resolve!: (v: string) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('WorkGate', () => {
  it('close() resolves only once every admitted piece of work has settled, rejected ones included', async () => {
    const gate = new WorkGate();
    const a = deferred();
    const b = deferred();
    expect(gate.track(a.promise)).toBe(a.promise);
    const ran = gate.run(() => b.promise);
    expect(ran).toBe(b.promise);
    ran?.catch(() => undefined);
    expect(gate.pending).toBe(2);
    let closed = false;
    const closing = gate.close().then(() => {
      closed = true;
    });
    expect(gate.closed).toBe(true);
    expect(gate.track(Promise.resolve('late'))).toBeUndefined();
    expect(gate.run(() => Promise.resolve('late'))).toBeUndefined();
    a.resolve('a');
    await a.promise;
    await new Promise((r) => setImmediate(r));
    expect(closed).toBe(false);
    expect(gate.pending).toBe(1);
    b.reject(new Error('b'));
    await closing;
    expect(closed).toBe(true);
    expect(gate.pending).toBe(0);
  });

  it('close() with nothing admitted resolves at once', async () => {
    const gate = new WorkGate();
    await gate.close();
    expect(gate.pending).toBe(0);
  });
});
