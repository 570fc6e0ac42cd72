import type { Logger } from './logger.js';
import type { SmsRecord } from './store/store.js';

/** A committed alert state, as published on `<base>/alerts/<id>`. */
export interface AlertEvent {
  id: number;
  ref: string;
  rule: string;
  device: string | undefined;
  state: 'open' | 'escalated' | 'acked' | 'resolved';
  priority: string;
  step: number;
  count: number;
  openedAt: number;
  ackedBy: string | null;
  ackedAt: number | null;
  resolvedAt: number | null;
  reason: string | null;
  at: number;
}

/** An MO SMS and what it did, as published on `<base>/sms/inbound` (PIN removed). */
export interface InboundEvent {
  from: string;
  text: string;
  outcome: string;
  device?: string | undefined;
  detail?: string | undefined;
  request_id?: string | undefined;
}

/** Facts, emitted only after they are committed. */
export interface BridgeEvents {
  /** an SMS was committed in this state (queued, submitted, delivered, failed, expired) */
  'sms.status': [sms: SmsRecord, detail?: Record<string, unknown>];
  'alert.changed': [alert: AlertEvent];
  'inbound.received': [event: InboundEvent];
}

type Listener<K extends keyof BridgeEvents> = (...args: BridgeEvents[K]) => void;

/**
 * A small typed event emitter owned by the composition root. Listeners run synchronously in the order they
 * were added; one that throws is logged and does not stop the others.
 */
export class Events {
  private readonly listeners: { [K in keyof BridgeEvents]?: Array<Listener<K>> } = {};

  constructor(private readonly logger: Logger) {}

  on<K extends keyof BridgeEvents>(name: K, listener: Listener<K>): void {
    const list = (this.listeners[name] ?? []) as Array<Listener<K>>;
    list.push(listener);
    (this.listeners as Record<K, Array<Listener<K>>>)[name] = list;
  }

  emit<K extends keyof BridgeEvents>(name: K, ...args: BridgeEvents[K]): void {
    for (const listener of (this.listeners[name] ?? []) as Array<Listener<K>>) {
      try {
        listener(...args);
      } catch (err) {
        this.logger.error({ err, event: name }, 'event listener failed');
      }
    }
  }
}
