import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { SmsRecord } from '../store/store.js';
import type { HttpSources } from './sources.js';

/** How many SMS the latency bookkeeping remembers; the oldest are forgotten past it. */
const MAX_TRACKED = 100_000;

/**
 * The bridge's Prometheus metrics. Counters that the services keep already are read at scrape time
 * (`collect`), so the hot paths carry no metrics code; the only event fed in is `smsChanged`, called where
 * the app publishes every SMS state change.
 */
export class BridgeMetrics {
  readonly registry = new Registry();
  private readonly stateChanges: Counter<'state' | 'error_code'>;
  private readonly submitLatency: Histogram<'connection'>;
  private readonly receiptLatency: Histogram<'connection' | 'state'>;
  private readonly queuedAt = new Map<number, number>();
  private readonly submittedAt = new Map<number, { at: number; connection: string }>();

  constructor(sources: HttpSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    const fromCounter = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    fromCounter('sms_bridge_mqtt_messages_in_total', 'MQTT messages handed to the rules', () => {
      return sources.counters().messagesIn;
    });
    fromCounter('sms_bridge_rule_hits_total', 'Rule matches', () => sources.counters().ruleHits);
    fromCounter('sms_bridge_delivery_receipts_total', 'Delivery receipts received', () => {
      return sources.counters().receipts;
    });
    new Gauge({
      name: 'sms_bridge_sms',
      help: 'SMS in the store, by state',
      labelNames: ['state'],
      registers,
      async collect() {
        const counts = await sources.store.countByState();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      },
    });
    new Gauge({
      name: 'sms_bridge_queue_depth',
      help: 'SMS waiting in the sender, by priority lane',
      labelNames: ['lane'],
      registers,
      collect() {
        for (const [lane, n] of Object.entries(sources.queueDepth())) this.set({ lane }, n);
      },
    });
    new Gauge({
      name: 'sms_bridge_smpp_bound',
      help: '1 when the SMSC connection is bound for submit_sm, else 0',
      labelNames: ['connection'],
      registers,
      collect() {
        for (const link of sources.links) this.set({ connection: link.id }, link.bound ? 1 : 0);
      },
    });
    this.stateChanges = new Counter({
      name: 'sms_bridge_sms_state_changes_total',
      help: 'SMS state changes since start, by new state and error code (SMPP command_status or receipt err)',
      labelNames: ['state', 'error_code'],
      registers,
    });
    this.submitLatency = new Histogram({
      name: 'sms_bridge_submit_latency_seconds',
      help: 'From an SMS being committed (or requeued) to the SMSC accepting all of its parts',
      labelNames: ['connection'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    });
    this.receiptLatency = new Histogram({
      name: 'sms_bridge_receipt_latency_seconds',
      help: 'From the SMSC accepting an SMS to its final delivery receipt, by final state',
      labelNames: ['connection', 'state'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 21_600, 86_400],
      registers,
    });
  }

  /** Every committed state change of an SMS, as published on `<base>/sms/outbound/<id>`. */
  smsChanged(sms: SmsRecord): void {
    this.stateChanges.inc({
      state: sms.state,
      error_code: sms.errorCode === null ? '' : String(sms.errorCode),
    });
    if (sms.state === 'queued') {
      remember(this.queuedAt, sms.id, sms.updatedAt);
      return;
    }
    const queuedAt = this.queuedAt.get(sms.id) ?? sms.createdAt;
    this.queuedAt.delete(sms.id);
    if (sms.state === 'submitted') {
      const connection = sms.connectionId ?? '';
      this.submitLatency.observe({ connection }, seconds(sms.updatedAt - queuedAt));
      remember(this.submittedAt, sms.id, { at: sms.updatedAt, connection });
      return;
    }
    const submitted = this.submittedAt.get(sms.id);
    if (!submitted) return;
    this.submittedAt.delete(sms.id);
    this.receiptLatency.observe(
      { connection: submitted.connection, state: sms.state },
      seconds(sms.updatedAt - submitted.at),
    );
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function remember<V>(map: Map<number, V>, id: number, value: V): void {
  map.delete(id);
  map.set(id, value);
  if (map.size > MAX_TRACKED) {
    const oldest = map.keys().next();
    if (!oldest.done) map.delete(oldest.value);
  }
}

function seconds(ms: number): number {
  return Math.max(0, ms) / 1000;
}
