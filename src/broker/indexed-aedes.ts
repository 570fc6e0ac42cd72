import { createRequire } from 'node:module';
import { Aedes, type AedesOptions, type PublishPacket } from 'aedes';
import { FilterIndex } from './filter-index.js';

/** aedes-packet's constructor, as `publish` wraps a message: this broker's id and its next counter. */
const Packet = createRequire(import.meta.url)('aedes-packet') as new (
  original: PublishPacket,
  broker: Aedes,
) => PublishPacket;

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

  /**
   * What `publish` leaves to do for a message no subscription matches: store it if retained (an empty payload
   * deletes), as its first step would. Its other steps look for subscribers (stored sessions', then connected
   * clients') and find none: ~8% of the bridge's CPU per SMS for the retained alert topic (BENCHMARKS.md).
   */
  storeUnheard(packet: PublishPacket): Promise<void> {
    if (!packet.retain) return Promise.resolve();
    const persistence = (
      this as unknown as { persistence: { storeRetained(p: PublishPacket): Promise<void> } }
    ).persistence;
    return persistence.storeRetained(new Packet(packet, this));
  }

  override unsubscribe(topic: string, deliver: Deliver, done: Done): void {
    this.subscriptions.delete(topic, deliver);
    super.unsubscribe(topic, deliver, done);
  }
}
