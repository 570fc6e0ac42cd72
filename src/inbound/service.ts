import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import type { Bus } from '../broker/bus.js';
import type { DeviceRegistry } from '../devices/registry.js';
import { BridgeError } from '../errors.js';
import type { Events, InboundEvent } from '../events.js';
import type { Logger } from '../logger.js';
import type { RuleSet } from '../rules/engine.js';
import { decodeText } from '../smpp/encoding.js';
import type { InboundPdu } from '../smpp/link.js';
import { parseUdh } from '../smpp/reassemble.js';
import type { DeviceCommand, InboundAudit, MoPart, NewSms, SmsRecord, Store, Tx } from '../store/store.js';
import { deviceTopics } from '../topics.js';
import type { AuthorizeContext, Decision } from './authorize.js';
import { CommandOutbox } from './commands.js';
import { InboundGuard } from './guard.js';
import { oneSms } from './replies.js';
import { senderKey } from './sender-id.js';
import { Telemetry } from './telemetry.js';

export interface InboundOptions {
  store: Store;
  bus: Bus;
  events: Events;
  devices: () => DeviceRegistry;
  rules: () => RuleSet;
  /** ACK <ref> from a contact: the alert policies' answer, as reply text */
  ack: (ref: string, phone: string, contactIds: string[]) => Promise<string>;
  logger: Logger;
  /** a repeat of a sender's last SMS within this window is an SMSC re-delivery, not run again. Default 2 min. */
  dedupeWindowMs?: number;
  /** sender identity, PIN lockout, reply caps, MO part bounds (`inbound:` of the config). Default: the defaults. */
  guard?: InboundGuard;
  /** parts of a concatenated MO that never completed are dropped after this. Default: the guard's `moParts.timeoutMs`. */
  partTimeoutMs?: number;
  /** how long a reply may wait in the outbox. Default 1 h. */
  replyMaxAgeMs?: number;
  /** a command not published within this is dropped and its sender told. Default 10 min. */
  commandMaxAgeMs?: number;
  /** in a cluster: who publishes commands their instance left unpublished (CommandOutboxOptions.adopt) */
  commandAdopt?: { owner: string; afterMs: number } | undefined;
}

/** What one MO did: its audit row, what goes back to the sender, the command to publish. */
interface Outcome {
  audit: Pick<InboundAudit, 'outcome' | 'detail' | 'deviceId' | 'requestId'>;
  reply?: string | undefined;
  command?: DeviceCommand | undefined;
}

/** Where the dedupe key's secret is kept: the store's key-value table. */
const SECRET_SCOPE = 'inbound';
const SECRET_KEY = 'dedupe-hmac-key';

/** The parts an MO was assembled from: forgotten in the transaction that records what it did. */
interface PartsKey {
  ref: number;
  total: number;
}

/**
 * Field staff's SMS: reassembled, deduplicated, authorised, audited, answered and turned into device
 * commands. Everything one SMS does (audit row, dedupe row, command, reply SMS, forgetting its parts) commits
 * in one transaction, and `handle` resolves only then: the deliver_sm is answered after that (guarantee 4).
 * Commands are published after the commit by the command outbox, which retries them until they are.
 */
export class InboundService {
  private readonly log: Logger;
  private readonly telemetry: Telemetry;
  private readonly commands: CommandOutbox;
  private readonly guard: InboundGuard;
  /** per sender, so one person's SMS are handled in the order they came */
  private readonly chains = new Map<string, Promise<void>>();
  private cachedContext: { rules: RuleSet; registry: DeviceRegistry; context: AuthorizeContext } | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** HMAC-SHA256 key of the dedupe keys, per installation (loaded by start(), or by the first MO before it) */
  private dedupeSecret: Buffer | undefined;
  private secretLoad: Promise<Buffer> | undefined;

  constructor(private readonly options: InboundOptions) {
    this.log = options.logger.child({ module: 'inbound' });
    this.guard = options.guard ?? new InboundGuard();
    this.telemetry = new Telemetry({
      store: options.store,
      devices: options.devices,
      logger: options.logger,
    });
    this.commands = new CommandOutbox({
      store: options.store,
      bus: options.bus,
      events: options.events,
      logger: options.logger,
      maxAgeMs: options.commandMaxAgeMs,
      replyMaxAgeMs: options.replyMaxAgeMs,
      adopt: options.commandAdopt,
    });
  }

  async start(): Promise<void> {
    const { bus } = this.options;
    this.closing = false;
    await this.secret();
    await this.telemetry.start();
    await bus.subscribe('devices/+/telemetry', (m) => this.telemetry.seen(m.topic, m.payload), {
      allInstances: true,
    });
    await bus.subscribe('devices/+/commands/result', (m) => {
      this.onResult(m.topic, m.payload).catch((err: unknown) => this.log.error({ err }, 'command result'));
    });
    await this.commands.start();
    const timeout = this.options.partTimeoutMs ?? this.guard.limits.moParts.timeoutMs;
    this.sweepTimer = setInterval(
      () => {
        this.options.store
          .transaction((tx) => tx.inbound.takeStaleParts(Date.now() - timeout))
          .then(
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

  /** Refuses new SMS (the SMSC delivers them again later), lets the ones in hand finish, saves telemetry. */
  async stop(): Promise<void> {
    this.closing = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    while (this.chains.size > 0) await Promise.allSettled([...this.chains.values()]);
    await this.commands.stop();
    await this.telemetry.stop();
  }

  readonly handle = async (pdu: InboundPdu): Promise<void> => {
    if (this.closing)
      throw new BridgeError('ERR_INBOUND_INVALID', 'the bridge is stopping; deliver again later');
    // only a provable E.164 sender can match a contact (an alphanumeric sender never does)
    const from = senderKey(this.guard.sender(pdu));
    const to = pdu.destinationAddr;
    const part = this.partOf(pdu, from);
    if (!part) {
      const bytes =
        pdu.messagePayload && pdu.messagePayload.length > 0 ? pdu.messagePayload : pdu.shortMessage;
      return this.process(from, to, decodeText(bytes, pdu.dataCoding));
    }
    // parts are stored only from contacts, numbered within their total, within the bounds
    const verdict = this.guard.admitPart(part, this.context(), Date.now());
    if (verdict !== 'ok') {
      this.log.debug({ from, verdict }, 'MO part not kept');
      return;
    }
    const parts = await this.options.store.transaction((tx) => tx.inbound.addPart(part));
    if (!parts) return; // recorded; the deliver_sm is answered, the rest will follow
    this.guard.parts.done(part);
    const text = decodeText(Buffer.concat(parts.map((p) => p.body)), part.dataCoding);
    return this.process(from, to, text, { ref: part.ref, total: part.total });
  };

  /** A part of a concatenated MO: UDH IEI 0x00/0x08 (3GPP TS 23.040 §9.2.3.24.1) or sar_* TLVs. */
  private partOf(pdu: InboundPdu, from: string): MoPart | undefined {
    if (pdu.esmClass & 0x40) {
      const udh = parseUdh(pdu.shortMessage);
      if (udh.concat && udh.concat.total > 1) {
        const { ref, total, seq } = udh.concat;
        return { from, ref, total, seq, dataCoding: pdu.dataCoding, body: udh.body };
      }
    }
    const { sarMsgRefNum: ref, sarTotalSegments: total, sarSegmentSeqnum: seq } = pdu;
    if (ref !== undefined && total !== undefined && seq !== undefined && total > 1) {
      return { from, ref, total, seq, dataCoding: pdu.dataCoding, body: pdu.shortMessage };
    }
    return undefined;
  }

  /**
   * The dedupe keys' HMAC key: 32 random bytes made by the first start and kept in the store, so that a
   * re-delivery after a restart (or to another instance on the same store) is still recognised.
   */
  private async loadSecret(): Promise<Buffer> {
    const find = async () =>
      (await this.options.store.loadKv(SECRET_SCOPE)).find((e) => e.key === SECRET_KEY)?.value;
    const stored = await find();
    if (stored && stored.length >= 32) return stored;
    const made = randomBytes(32);
    // two instances starting at once on an empty store: both get the one committed first
    return this.options.store.transaction((tx) =>
      stored
        ? tx.kv.put(SECRET_SCOPE, SECRET_KEY, made, Date.now()).then(() => made)
        : tx.kv.putIfAbsent(SECRET_SCOPE, SECRET_KEY, made, Date.now()),
    );
  }

  private async secret(): Promise<Buffer> {
    this.secretLoad ??= this.loadSecret();
    this.dedupeSecret = await this.secretLoad;
    return this.dedupeSecret;
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
    const members = new Map<string, { ids: string[]; set: Set<string> }>();
    for (const [groupId, recipients] of rules.groups) {
      const ids = recipients.map((r) => r.contactId);
      members.set(groupId, { ids, set: new Set(ids) });
    }
    const context: AuthorizeContext = {
      devices: registry,
      contactIdsForPhone: (phone) => byPhone.get(phone) ?? [],
      groupMembers: (groupId) => members.get(groupId)?.ids ?? [],
      inGroup: (groupId, contactId) => members.get(groupId)?.set.has(contactId) ?? false,
      pins,
    };
    this.cachedContext = { rules, registry, context };
    return context;
  }

  /** One sender's SMS one at a time, in the order they came. */
  process(from: string, to: string, text: string, parts?: PartsKey): Promise<void> {
    const before = this.chains.get(from) ?? Promise.resolve();
    const run = before.then(() => this.processOnce(from, to, text, parts));
    const settled = run.catch(() => undefined);
    this.chains.set(from, settled);
    void settled.then(() => {
      if (this.chains.get(from) === settled) this.chains.delete(from);
    });
    return run;
  }

  /**
   * A re-delivery (the SMSC sends the same PDU again because our answer was lost) repeats the sender's last
   * recorded SMS; a person who sends STOP, START, STOP has a different last SMS each time, so each runs.
   */
  private async processOnce(from: string, to: string, text: string, parts?: PartsKey): Promise<void> {
    const now = Date.now();
    const { store } = this.options;
    // keyed: a plain hash of sender + text would give a PIN in the text away to anyone reading the database
    const dedupeKey = createHmac('sha256', this.dedupeSecret ?? (await this.secret()))
      .update(`${from}\n${parts ? `${parts.ref}/${parts.total}` : ''}\n${text.trim().toLowerCase()}`)
      .digest('hex');
    const last = await store.lastInbound(from);
    // no PIN in the audit row, the logs or the MQTT event
    const shown = this.guard.redact(text);
    const entry = { receivedAt: now, from, to, text: shown, dedupeKey };
    if (
      last &&
      last.dedupeKey === dedupeKey &&
      now - last.receivedAt < (this.options.dedupeWindowMs ?? 120_000)
    ) {
      this.log.info({ from }, 'SMS received again within the dedupe window; not run twice');
      await this.commit({ ...entry, outcome: 'duplicate' }, parts, undefined, undefined);
      this.announce({ from, text: shown, outcome: 'duplicate' });
      return;
    }
    const outcome = await this.run(this.guard.decide(text, from, this.context(), now), from, now);
    const reply = outcome.reply && (await this.mayReply(from, now)) ? outcome.reply : undefined;
    const records = await this.commit({ ...entry, ...outcome.audit }, parts, outcome.command, reply);
    this.log.info({ from, outcome: outcome.audit.outcome, device: outcome.audit.deviceId }, 'SMS received');
    this.announce({
      from,
      text: shown,
      outcome: outcome.audit.outcome,
      device: outcome.audit.deviceId,
      detail: outcome.audit.detail,
      request_id: outcome.audit.requestId,
    });
    // the reply says the command was sent: it goes out once the command is published (or told otherwise)
    if (outcome.command) await this.commands.publish(outcome.command);
    for (const sms of records) this.options.events.emit('sms.status', sms);
  }

  /** The audit row, the dedupe row, the command, the reply, the parts forgotten: one transaction. */
  private commit(
    audit: InboundAudit,
    parts: PartsKey | undefined,
    command: DeviceCommand | undefined,
    reply: string | undefined,
  ): Promise<SmsRecord[]> {
    return this.options.store.transaction(async (tx) => {
      await tx.inbound.record(audit);
      if (command) await tx.inbound.addCommand(command);
      if (parts) await tx.inbound.dropParts(audit.from, parts.ref, parts.total);
      return reply ? this.enqueueReply(tx, audit.from, reply, audit.receivedAt) : [];
    });
  }

  private enqueueReply(tx: Tx, to: string, text: string, now: number): Promise<SmsRecord[]> {
    const sms: NewSms = {
      to,
      text: oneSms(text),
      priority: 'high',
      source: 'reply',
      expiresAt: now + (this.options.replyMaxAgeMs ?? 3_600_000),
    };
    return tx.outbox.enqueue([sms]);
  }

  /**
   * Replies are bounded per number and in total (the guard's budget, bounded in memory), and per number also by
   * what the store holds, so a restart does not reset a number's count.
   */
  private async mayReply(to: string, now: number): Promise<boolean> {
    const { perNumber, windowMs } = this.guard.limits.replies;
    const verdict = this.guard.mayReply(to, now);
    const stored = verdict === 'ok' ? await this.options.store.countReplies(to, now - windowMs) : 0;
    if (verdict === 'ok' && stored < perNumber) return true;
    this.log.warn(
      { to, verdict: verdict === 'ok' ? 'per_number' : verdict },
      'reply limit reached; reply not sent',
    );
    return false;
  }

  private async run(decision: Decision, from: string, now: number): Promise<Outcome> {
    switch (decision.kind) {
      case 'command': {
        const requestId = randomUUID();
        const device = decision.device;
        const payload = JSON.stringify({
          command: decision.command,
          args: decision.args,
          payload: decision.payload,
          from,
          request_id: requestId,
          ts: new Date(now).toISOString(),
        });
        return {
          audit: { outcome: 'command', deviceId: device.id, requestId, detail: decision.command },
          command: {
            requestId,
            deviceId: device.id,
            command: decision.command,
            from,
            topic: deviceTopics.commands(device.id),
            payload,
            createdAt: now,
          },
          reply: decision.reply,
        };
      }
      case 'status':
        return {
          audit: { outcome: 'status', deviceId: decision.device.id },
          reply: this.telemetry.statusText(decision.device),
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

  /** A device's answer to a command: only on its own topic, only for a request issued to it. */
  private async onResult(topic: string, payload: Buffer): Promise<void> {
    const deviceId = deviceTopics.deviceIdOf(topic);
    if (!deviceId) return;
    let result: { request_id?: unknown; ok?: unknown; message?: unknown };
    try {
      result = JSON.parse(payload.toString('utf8'));
    } catch {
      this.log.warn({ topic }, 'command result is not JSON; ignored');
      return;
    }
    const requestId = result?.request_id;
    if (typeof requestId !== 'string') return;
    const now = Date.now();
    const records = await this.options.store.transaction(async (tx) => {
      const request = await tx.inbound.takeResult(requestId, deviceId, now);
      if (!request) return [];
      const head = `${request.deviceId.toUpperCase()} ${request.command.toUpperCase()}`;
      const message = typeof result.message === 'string' && result.message ? `: ${result.message}` : '';
      return this.enqueueReply(
        tx,
        request.from,
        `${head} ${result.ok === false ? 'failed' : 'done'}${message}`,
        now,
      );
    });
    if (records.length === 0)
      this.log.debug({ topic }, 'command result for no request of this device; ignored');
    for (const sms of records) this.options.events.emit('sms.status', sms);
  }

  private announce(event: InboundEvent): void {
    this.options.events.emit('inbound.received', event);
  }
}
