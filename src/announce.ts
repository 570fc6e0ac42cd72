import type { Bus } from './broker/bus.js';
import type { AlertEvent, Events, InboundEvent } from './events.js';
import { IsoMemo } from './iso-time.js';
import type { Logger } from './logger.js';
import { smsJson } from './sms-json.js';
import type { SmsRecord } from './store/store.js';
import type { Topics } from './topics.js';

/** `SMS <state>` for the states there are, made once */
const SMS_MESSAGES: Record<string, string> = {};
const smsMessage = (state: string): string => (SMS_MESSAGES[state] ??= `SMS ${state}`);

const iso = (t: number | null) => (t === null ? undefined : new Date(t).toISOString());

export interface AnnouncerOptions {
  events: Events;
  bus: Bus;
  topics: Topics;
  logger: Logger;
}

/**
 * Tells the world about committed facts: the MQTT status topics (`<base>/sms/outbound/<id>`, retained
 * `<base>/alerts/<id>`, `<base>/sms/inbound`) and one log line per SMS state. A publish that fails is logged
 * at debug: the fact is in the store either way.
 */
export class Announcer {
  private readonly log: Logger;
  /** the alert event's times (`opened_at`, `at`) as ISO text, each remembered from the last event */
  private readonly openedAt = new IsoMemo();
  private readonly alertAt = new IsoMemo();
  /** the filter of every SMS's status topic */
  private readonly smsTopics: string;

  constructor(private readonly options: AnnouncerOptions) {
    this.log = options.logger.child({ module: 'announce' });
    this.smsTopics = options.topics.smsOutbound('+');
    const { events } = options;
    events.on('sms.status', (sms, detail) => this.sms(sms, detail));
    events.on('alert.changed', (alert) => this.alert(alert));
    events.on('inbound.received', (event) => this.inbound(event));
  }

  private sms(sms: SmsRecord, detail?: Record<string, unknown>): void {
    // what an operator needs of each state: which SMS, to whom, in what state, for which rule and device, why
    this.log.info(
      {
        sms_id: sms.id,
        to: sms.to,
        state: sms.state,
        rule: sms.ruleId,
        device: sms.deviceId,
        error: sms.error ?? undefined,
        connection: sms.connectionId ?? undefined,
      },
      smsMessage(sms.state),
    );
    // unretained and, on the embedded broker, often unheard: built only when some subscription matches
    if (!this.options.bus.hasSubscribers(this.smsTopics)) return;
    // Filled in place, not spread into a new object: the spread was half the cost of this event (a profile).
    const json: Record<string, unknown> = smsJson(sms);
    json.at = json.updated_at;
    if (detail) Object.assign(json, detail);
    this.publish(this.options.topics.smsOutbound(sms.id), JSON.stringify(json), false);
  }

  /** Retained while live; on resolve the final event is sent unretained and the retained one cleared. */
  private alert(alert: AlertEvent): void {
    const topic = this.options.topics.alert(alert.id);
    const payload = JSON.stringify({
      id: alert.id,
      ref: alert.ref,
      rule: alert.rule,
      device: alert.device,
      state: alert.state,
      priority: alert.priority,
      step: alert.step,
      count: alert.count,
      opened_at: this.openedAt.of(alert.openedAt),
      acked_by: alert.ackedBy ?? undefined,
      acked_at: iso(alert.ackedAt),
      resolved_at: iso(alert.resolvedAt),
      reason: alert.reason ?? undefined,
      at: this.alertAt.of(alert.at),
    });
    const done = alert.state === 'resolved';
    this.publish(topic, payload, !done);
    if (done) this.publish(topic, '', true);
  }

  private inbound(event: InboundEvent): void {
    const payload = JSON.stringify({ ...event, at: new Date().toISOString() });
    this.publish(this.options.topics.smsInbound, payload, false);
  }

  private publish(topic: string, payload: string, retain: boolean): void {
    this.options.bus.publish(topic, payload, { qos: 1, retain }).catch((err: unknown) => {
      this.log.debug({ err, topic }, 'status event not published');
    });
  }
}
