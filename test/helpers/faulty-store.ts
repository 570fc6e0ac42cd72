import { BridgeError } from '../../src/errors.js';
import type { Store, Tx } from '../../src/store/store.js';

/**
 * A fault to inject: on the `nth` call (1-based; `'all'`: every call) of `op`, fail it or delay it.
 * `op` is `transaction` (a whole transaction, delayed before it starts) or a repository call inside one,
 * like `outbox.enqueue`, `alerts.save`, `inbound.record`, `inbound.addCommand`.
 */
export interface Fault {
  op: string;
  nth: number | 'all';
  kind: 'fail' | 'delay';
  /** for `delay` */
  ms?: number;
}

/**
 * Wraps a real Store and fails or delays the Nth write, for the guarantee tests: the failure happens inside the
 * real transaction, so whatever the transaction wrote before it is rolled back by the real adapter.
 */
export class FaultyStore implements Store {
  /** calls seen per op */
  readonly calls = new Map<string, number>();
  /** faults that fired, in order */
  readonly fired: string[] = [];

  constructor(
    readonly inner: Store,
    private readonly faults: Fault[] = [],
  ) {}

  add(fault: Fault): void {
    this.faults.push(fault);
  }

  /** Removes every fault still to fire (calls already delayed keep their delay). */
  clear(): void {
    this.faults.length = 0;
  }

  private hit(op: string): Fault | undefined {
    const n = (this.calls.get(op) ?? 0) + 1;
    this.calls.set(op, n);
    const fault = this.faults.find((f) => f.op === op && (f.nth === 'all' || f.nth === n));
    if (fault) this.fired.push(`${op}#${n}:${fault.kind}`);
    return fault;
  }

  private async apply(fault: Fault | undefined, op: string): Promise<void> {
    if (!fault) return;
    if (fault.kind === 'delay') await new Promise((r) => setTimeout(r, fault.ms ?? 100));
    else throw new BridgeError('ERR_STORE', `injected failure of ${op}`);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  async transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    await this.apply(this.hit('transaction'), 'transaction');
    return this.inner.transaction((tx) => fn(this.wrap(tx)));
  }

  private wrap(tx: Tx): Tx {
    const wrapped: Record<string, unknown> = {};
    for (const [name, repo] of Object.entries(tx) as Array<[string, Record<string, unknown>]>) {
      wrapped[name] = new Proxy(repo, {
        get: (target, prop, receiver) => {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== 'function' || typeof prop !== 'string') return value;
          const op = `${name}.${prop}`;
          return async (...args: unknown[]) => {
            await this.apply(this.hit(op), op);
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    }
    return wrapped as unknown as Tx;
  }

  pendingSms: Store['pendingSms'] = (...a) => this.inner.pendingSms(...a);
  getSms: Store['getSms'] = (...a) => this.inner.getSms(...a);
  listSms: Store['listSms'] = (...a) => this.inner.listSms(...a);
  countByState: Store['countByState'] = (...a) => this.inner.countByState(...a);
  countReplies: Store['countReplies'] = (...a) => this.inner.countReplies(...a);
  loadAlerts: Store['loadAlerts'] = (...a) => this.inner.loadAlerts(...a);
  lastInbound: Store['lastInbound'] = (...a) => this.inner.lastInbound(...a);
  unpublishedCommands: Store['unpublishedCommands'] = (...a) => this.inner.unpublishedCommands(...a);
  loadKv: Store['loadKv'] = (...a) => this.inner.loadKv(...a);
  healthy: Store['healthy'] = (...a) => this.inner.healthy(...a);
  brokerState: Store['brokerState'] = () => this.inner.brokerState();
}
