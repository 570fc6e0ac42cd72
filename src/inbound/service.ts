import { createHash, randomUUID } from 'node:crypto';
import type { Bus } from '../broker/bus.js';
import type { DeviceRegistry } from '../devices/registry.js';
import type { Logger } from '../logger.js';
import type { RuleSet } from '../rules/engine.js';
import { decodeText } from '../smpp/encoding.js';
import type { InboundPdu } from '../smpp/link.js';
import { parseUdh } from '../smpp/reassemble.js';
import type { MoPartRecord, SqliteInboundStore } from '../store/inbound-store.js';
import type { NewSms } from '../store/store.js';
import { deviceTopics, type Topics } from '../topics.js';
import type { AuthorizeContext, Decision } from './authorize.js';
import { InboundGuard } from './guard.js';
import { oneSms } from './replies.js';
import { senderKey } from './sender-id.js';

export interface InboundOptions {
  store: SqliteInboundStore;
  bus: Bus;
  topics: Topics;
  devices: () => DeviceRegistry;
  rules: () => RuleSet;
  /** commits reply SMS and hands them to the sender */
  send: (items: NewSms[]) => Promise<unknown>;
  /** ACK <ref> from a contact: the alert policies' answer, as reply text */
  ack: (ref: string, phone: string, contactIds: string[]) => Promise<string>;
  logger: Logger;
  /** the same sender and text within this window is an SMSC re-delivery, not run again. Default 2 min. */
  dedupeWindowMs?: number;
  /** sender identity, PIN lockout, reply caps, MO part bounds (`inbound:` of the config). Default: the defaults. */
  guard?: InboundGuard;
  /** parts of a concatenated MO that never completed are dropped after this. Default: the guard's `moParts.timeoutMs`. */
  partTimeoutMs?: number;
  /** how long a reply may wait in the outbox. Default 1 h. */
  replyMaxAgeMs?: number;
}

interface Telemetry {
  payload: Buffer;
  at: number;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/**
 * Field staff's SMS: reassembled, deduplicated, authorised, published as a device command, audited and
 * answered. `handle` resolves once the outcome is recorded, and only then is the deliver_sm answered.
 */
export class InboundService {
  private readonly log: Logger;
  private readonly telemetry = new Map<string, Telemetry>();
  private readonly guard: InboundGuard;
  private readonly inFlight = new Map<string, Promise<void>>();
  private cachedContext: { rules: RuleSet; registry: DeviceRegistry; context: AuthorizeContext } | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: InboundOptions) {
    this.log = options.logger.child({ module: 'inbound' });
    this.guard = options.guard ?? new InboundGuard();
  }

  async start(): Promise<void> {
    const { bus } = this.options;
    await bus.subscribe('devices/+/telemetry', (m) => {
      const id = deviceTopics.deviceIdOf(m.topic);
      if (id && this.options.devices().device(id))
        this.telemetry.set(id, { payload: m.payload, at: Date.now() });
    });
    await bus.subscribe('devices/+/commands/result', (m) => {
      this.onResult(m.topic, m.payload).catch((err: unknown) => this.log.error({ err }, 'command result'));
    });
    const timeout = this.options.partTimeoutMs ?? this.guard.limits.moParts.timeoutMs;
    this.sweepTimer = setInterval(
      () => {
        this.options.store.takeStaleParts(Date.now() - timeout).then(
          (parts) => {
            if (parts.length > 0)
              this.log.warn({ parts: parts.length }, 'incomplete concatenated SMS dropped');
          },
          (err: unknown) => this.log.error({ err }, 'sweeping MO parts'),
        );
      },
      Math.min(timeout, 60_000),
    );
    this.sweepTimer.unref();
  }

  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
  }

  readonly handle = async (pdu: InboundPdu): Promise<void> => {
    // [guard] only a provable E.164 sender can match a contact (issue 11, attack 7)
    const from = senderKey(this.guard.sender(pdu));
    const to = pdu.destinationAddr;
    const part = this.partOf(pdu, from);
    let text: string;
    if (part) {
      // [guard] parts stored only from contacts, numbered within their total, within the bounds (attack 10)
      const verdict = this.guard.admitPart(part, this.context(), Date.now());
      if (verdict !== 'ok') {
        this.log.debug({ from, verdict }, 'MO part not kept');
        return;
      }
      const parts = await this.options.store.addPart(part);
      if (!parts) return; // recorded; the deliver_sm is answered, the rest will follow
      this.guard.parts.done(part); // [guard]
      text = decodeText(Buffer.concat(parts.map((p) => p.body)), part.dataCoding);
    } else {
      const bytes =
        pdu.messagePayload && pdu.messagePayload.length > 0 ? pdu.messagePayload : pdu.shortMessage;
      text = decodeText(bytes, pdu.dataCoding);
    }
    await this.process(from, to, text);
  };

  /** A part of a concatenated MO: UDH IEI 0x00/0x08 (3GPP TS 23.040 §9.2.3.24.1) or sar_* TLVs. */
  private partOf(pdu: InboundPdu, from: string): MoPartRecord | undefined {
    if (pdu.esmClass & 0x40) {
      const udh = parseUdh(pdu.shortMessage);
      if (udh.concat && udh.concat.total > 1) {
        return { from, ...udh.concat, dataCoding: pdu.dataCoding, body: udh.body };
      }
    }
    const { sarMsgRefNum: ref, sarTotalSegments: total, sarSegmentSeqnum: seq } = pdu;
    if (ref !== undefined && total !== undefined && seq !== undefined && total > 1) {
      return { from, ref, total, seq, dataCoding: pdu.dataCoding, body: pdu.shortMessage };
    }
    return undefined;
  }

  /** Built once per rule set and registry (hot reload swaps them), not per SMS. */
  private context(): AuthorizeContext {
    const rules = this.options.rules();
    const registry = this.options.devices();
    const cached = this.cachedContext;
    if (cached && cached.rules === rules && cached.registry === registry) return cached.context;
    const pins = new Map<string, string>();
    const byPhone = new Map<string, string[]>();
    for (const contact of rules.contacts.values()) {
      if (contact.pin) pins.set(contact.id, contact.pin);
      byPhone.set(contact.phone, [...(byPhone.get(contact.phone) ?? []), contact.id]);
    }
    const context: AuthorizeContext = {
      devices: registry,
      contactIdsForPhone: (phone) => byPhone.get(phone) ?? [],
      groupMembers: (groupId) => (rules.groups.get(groupId) ?? []).map((r) => r.contactId),
      pins,
    };
    this.cachedContext = { rules, registry, context };
    return context;
  }

  /**
   * One SMS at a time per (sender, text): a re-delivery that arrives while the first copy is still being
   * handled waits for it and is then seen as the duplicate it is.
   */
  process(from: string, to: string, text: string): Promise<void> {
    const dedupeKey = createHash('sha1').update(`${from}\n${text.trim().toLowerCase()}`).digest('hex');
    const before = this.inFlight.get(dedupeKey) ?? Promise.resolve();
    const run = before.then(() => this.processOnce(from, to, text, dedupeKey));
    const settled = run.catch(() => undefined);
    this.inFlight.set(dedupeKey, settled);
    void settled.then(() => {
      if (this.inFlight.get(dedupeKey) === settled) this.inFlight.delete(dedupeKey);
    });
    return run;
  }

  private async processOnce(from: string, to: string, text: string, dedupeKey: string): Promise<void> {
    const now = Date.now();
    const { store } = this.options;
    const log = this.log.child({ from });
    const shown = this.guard.redact(text); // [guard] no PIN in the audit row or the MQTT event (attack 6)
    if (await store.seen(dedupeKey, now - (this.options.dedupeWindowMs ?? 120_000))) {
      log.info('SMS received again within the dedupe window; not run twice');
      await store.record({ receivedAt: now, from, to, text: shown, dedupeKey, outcome: 'duplicate' });
      this.publishInbound({ from, text: shown, outcome: 'duplicate' });
      return;
    }
    // [guard] decide() with the PIN lockout (attack 6)
    const decision = this.guard.decide(text, from, this.context(), now);
    const outcome = await this.run(decision, from);
    await store.record(
      { receivedAt: now, from, to, text: shown, dedupeKey, ...outcome.audit },
      outcome.request,
    );
    log.info({ outcome: outcome.audit.outcome, device: outcome.audit.deviceId }, 'SMS received');
    this.publishInbound({
      from,
      text: shown,
      outcome: outcome.audit.outcome,
      device: outcome.audit.deviceId,
      detail: outcome.audit.detail,
      request_id: outcome.audit.requestId,
    });
    if (outcome.reply) await this.reply(from, outcome.reply);
  }

  private async run(decision: Decision, from: string) {
    switch (decision.kind) {
      case 'command': {
        const requestId = randomUUID();
        const device = decision.device;
        const message = {
          command: decision.command,
          args: decision.args,
          payload: decision.payload,
          from,
          request_id: requestId,
          ts: new Date().toISOString(),
        };
        await this.options.bus.publish(deviceTopics.commands(device.id), JSON.stringify(message), { qos: 1 });
        return {
          audit: { outcome: 'command', deviceId: device.id, requestId, detail: decision.command },
          request: { requestId, deviceId: device.id, command: decision.command, from },
          reply: decision.reply,
        };
      }
      case 'status':
        return {
          audit: { outcome: 'status', deviceId: decision.device.id },
          reply: this.statusText(decision.device),
        };
      case 'ack': {
        const reply = await this.options.ack(decision.ref, from, decision.contactIds);
        return { audit: { outcome: 'ack', detail: decision.ref }, reply };
      }
      case 'help':
        return { audit: { outcome: 'help' }, reply: decision.reply };
      case 'refused':
        return {
          audit: {
            outcome: `refused:${decision.reason}`,
            deviceId: decision.device?.id,
            detail: decision.reply,
          },
          // Strangers get no answer: a reply costs money and confirms the number to whoever probes it.
          reply: decision.reason === 'unknown_sender' ? undefined : decision.reply,
        };
    }
  }

  private statusText(device: { id: string; name: string }): string {
    const last = this.telemetry.get(device.id);
    if (!last) return oneSms(`${device.id.toUpperCase()}: no telemetry received since the bridge started.`);
    let values = last.payload.toString('utf8');
    try {
      const parsed: unknown = JSON.parse(values);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        values = Object.entries(parsed)
          .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
          .join(' ');
      }
    } catch {
      // plain-text telemetry is quoted as it is
    }
    return oneSms(`${device.id.toUpperCase()} ${values} (${ago(Date.now() - last.at)})`);
  }

  private async onResult(topic: string, payload: Buffer): Promise<void> {
    let result: { request_id?: unknown; ok?: unknown; message?: unknown };
    try {
      result = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log.warn({ topic }, 'command result is not JSON; ignored');
      return;
    }
    if (typeof result?.request_id !== 'string') return;
    // [guard] a result counts only on the device's own topic, for a request issued to it (attack 3)
    const deviceId = deviceTopics.deviceIdOf(topic);
    if (!deviceId) return;
    const request = await this.options.store.takeRequest(result.request_id, deviceId);
    if (!request) {
      this.log.warn({ device: deviceId }, 'command result for no pending request of this device; ignored');
      return;
    }
    const head = `${request.deviceId.toUpperCase()} ${request.command.toUpperCase()}`;
    const message = typeof result.message === 'string' && result.message ? `: ${result.message}` : '';
    await this.reply(request.from, `${head} ${result.ok === false ? 'failed' : 'done'}${message}`);
  }

  private async reply(to: string, text: string): Promise<void> {
    const now = Date.now();
    // [guard] reply SMS per number and in total per window (attack 9)
    const verdict = this.guard.mayReply(to, now);
    if (verdict !== 'ok') {
      this.log.warn({ to, verdict }, 'reply limit reached; reply not sent');
      return;
    }
    await this.options.send([
      {
        to,
        text: oneSms(text),
        priority: 'high',
        source: 'reply',
        expiresAt: now + (this.options.replyMaxAgeMs ?? 3_600_000),
      },
    ]);
  }

  private publishInbound(event: Record<string, unknown>): void {
    const payload = JSON.stringify({ ...event, at: new Date().toISOString() });
    this.options.bus.publish(this.options.topics.smsInbound, payload, { qos: 1 }).catch((err: unknown) => {
      this.log.debug({ err }, 'inbound event not published');
    });
  }
}
