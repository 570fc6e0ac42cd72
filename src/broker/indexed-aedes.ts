import { Aedes, type AedesOptions } from 'aedes';
import { FilterIndex } from './filter-index.js';

type Deliver = Parameters<Aedes['subscribe']>[1];
/** aedes' typings say `() => void`; it calls back with an error when it refuses the filter (too many levels) */
type Done = (err?: Error | null) => void;

/**
 * aedes that keeps, in `subscriptions`, every subscription of a connected client: each goes through `subscribe`
 * and `unsubscribe` (a client's SUBSCRIBE and UNSUBSCRIBE, its session restored, its connection closed), and the
 * deliver function aedes makes per client and filter owns it. aedes' own `$SYS` listeners bypass these methods.
 */
export class IndexedAedes extends Aedes {
  readonly subscriptions = new FilterIndex();

  static async start(options: AedesOptions): Promise<IndexedAedes> {
    const aedes = new IndexedAedes(options);
    await aedes.listen();
    return aedes;
  }

  override subscribe(topic: string, deliver: Deliver, done: Done): void {
    // counted before aedes' emitter has it: a publish in between is only published for nothing
    this.subscriptions.add(topic, deliver);
    const subscribed: Done = (err) => {
      if (err) this.subscriptions.delete(topic, deliver);
      done?.(err);
    };
    super.subscribe(topic, deliver, subscribed);
  }

  override unsubscribe(topic: string, deliver: Deliver, done: Done): void {
    this.subscriptions.delete(topic, deliver);
    super.unsubscribe(topic, deliver, done);
  }
}
