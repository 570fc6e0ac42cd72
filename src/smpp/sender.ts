import { isBridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { PRIORITIES, type SmsRecord, type Store } from '../store/store.js';
import type { SmppLink, SubmitParams } from './link.js';
import { type LongText, type Plan, planSms, type Submit } from './plan.js';
import { normaliseMessageId } from './receipt.js';
import { classifyStatus, statusName } from './status.js';
import { TokenBucket } from './token-bucket.js';

export interface SenderConnectionOptions {
  id: string;
  link: SmppLink;
  /** max outstanding submit_sm on this connection */
  window: number;
  /** parts per second */
  tps: number;
  /** lower is tried first; the next is used when it is down or throttled */
  priority: number;
  /** destination prefixes (E.164, with +) this connection serves; empty: any */
  routes: string[];
  sourceAddr: string;
  sourceAddrTon: number;
  sourceAddrNpi: number;
  registeredDelivery: boolean;
  /** UDH concatenation with 8-bit or 16-bit references, or the whole text in message_payload */
  longText: LongText;
}

export interface SenderOptions {
  connections: SenderConnectionOptions[];
  store: Store;
  maxParts: number;
  logger: Logger;
  /** called after each committed state change of an SMS */
  onStatus: (sms: SmsRecord, detail?: Record<string, unknown>) => void;
  /** attempts on transient errors before an SMS is failed. Default 10. */
  maxAttempts?: number;
  /** first pause after a throttling answer (0x58, 0x14); doubles while throttling goes on. Default 1000 ms. */
  throttlePauseMs?: number;
}

interface Job {
  sms: SmsRecord;
  /** how it goes out; made again for a connection of another `longText` while nothing is accepted */
  plan?: Plan;
  /** submits the SMSC already accepted, by part number: a retry sends only the rest */
  accepted: Map<number, string>;
  attempts: number;
}

interface Connection {
  options: SenderConnectionOptions;
  bucket: TokenBucket;
  inflight: number;
  pausedUntil: number;
  throttleStreak: number;
}

type Pick = { connection: Connection; submits: Submit[] } | { waitMs: number } | { none: true };

const PRIORITY_FLAG = { critical: 3, high: 1, normal: 0, low: 0 } as const;

/** SMPP 3.4 §7.1.1 relative time: YYMMDDhhmmss000R */
export function relativeValidity(ms: number): string {
  let s = Math.max(60, Math.floor(ms / 1000));
  const days = Math.min(99, Math.floor(s / 86400));
  s -= days * 86400;
  const pad = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `0000${pad(days)}${pad(h)}${pad(m)}${pad(s % 60)}000R`;
}

/**
 * Moves committed SMS from the store to the SMSCs: priority lanes, a window and a token bucket per
 * connection, throttling back-off, retries, expiry and failover.
 */
export class Sender {
  private readonly lanes: Job[][] = PRIORITIES.map(() => []);
  private readonly connections: Connection[];
  private readonly log: Logger;
  private readonly dispatches = new Set<Promise<void>>();
  /** outcomes of finished submits being committed */
  private readonly recording = new Set<Promise<void>>();
  private wakeTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private wakeAt = 0;
  private running = false;
  private readonly queuedIds = new Set<number>();
  /** concatenation reference, so a handset never merges the parts of two long SMS */
  private reference = Math.floor(Math.random() * 0x10000);

  constructor(private readonly options: SenderOptions) {
    this.log = options.logger.child({ module: 'sender' });
    this.connections = [...options.connections]
      .sort((a, b) => a.priority - b.priority)
      .map((c) => ({
        options: c,
        bucket: new TokenBucket(c.tps),
        inflight: 0,
        pausedUntil: 0,
        throttleStreak: 0,
      }));
    for (const c of this.connections) c.options.link.on('bound', () => this.pump());
  }

  async start(): Promise<void> {
    this.running = true;
    // While no link is bound nothing else wakes the lanes; this expires what waited too long.
    this.sweepTimer = setInterval(() => this.pump(), 1000);
    this.sweepTimer.unref();
    const pending = await this.options.store.pendingSms();
    if (pending.length > 0)
      this.log.info({ count: pending.length }, 'resuming SMS queued before the restart');
    this.enqueue(pending);
  }

  /** Stops taking work and waits for the submits in flight (bounded by the links' response timeout). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    await Promise.allSettled([...this.dispatches]);
    await Promise.allSettled([...this.recording]);
  }

  /** Hands committed SMS to the lanes. */
  enqueue(records: SmsRecord[]): void {
    for (const sms of records) {
      if (this.queuedIds.has(sms.id)) continue;
      this.queuedIds.add(sms.id);
      this.lanes[PRIORITIES.indexOf(sms.priority)]!.push({ sms, accepted: new Map(), attempts: 0 });
    }
    this.pump();
  }

  /** SMS waiting per lane, for metrics and the status page. */
  get depth(): Record<string, number> {
    return Object.fromEntries(PRIORITIES.map((p, i) => [p, this.lanes[i]!.length]));
  }

  private pump(): void {
    if (!this.running) return;
    const now = Date.now();
    for (const lane of this.lanes) {
      while (lane.length > 0) {
        const job = lane[0]!;
        if (job.sms.expiresAt <= now) {
          lane.shift();
          this.finish(
            job,
            this.options.store.markFailed(job.sms.id, 'expired', null, 'older than its max_age'),
          );
          continue;
        }
        let pick: Pick;
        try {
          pick = this.pick(job, now);
        } catch (err) {
          lane.shift();
          const code = isBridgeError(err) ? err.code : 'ERR_SMS_REJECTED';
          const reason = `${code}: ${(err as Error).message}`;
          this.finish(job, this.options.store.markFailed(job.sms.id, 'failed', null, reason));
          continue;
        }
        if ('connection' in pick) {
          lane.shift();
          this.dispatch(pick.connection, job, pick.submits);
          continue;
        }
        // Strict priority: nothing from a lower lane overtakes a blocked head, unless no link can serve it.
        if ('waitMs' in pick) {
          this.wake(pick.waitMs);
          return;
        }
        break;
      }
    }
  }

  /** The job's plan for a connection's way of sending long text; undefined when it cannot switch. */
  private planFor(job: Job, c: Connection): Plan | undefined {
    const mode = c.options.longText;
    if (job.plan?.mode === mode) return job.plan;
    if (job.plan && job.accepted.size > 0) return undefined; // half sent one way: finish it that way
    this.reference = (this.reference + 1) & 0xffff;
    const maxParts = job.sms.maxParts ?? this.options.maxParts;
    job.plan = planSms(job.sms.text, mode, maxParts, this.reference);
    if (job.plan.truncated) {
      this.log.warn(
        { sms_id: job.sms.id, units: job.plan.units, max_parts: maxParts },
        'SMS text longer than max_parts allows; truncated with an ellipsis',
      );
    }
    return job.plan;
  }

  private pick(job: Job, now: number): Pick {
    const to = job.sms.to;
    const routed = this.connections.filter((c) => c.options.routes.some((r) => to.startsWith(r)));
    const candidates =
      routed.length > 0 ? routed : this.connections.filter((c) => c.options.routes.length === 0);
    let waitMs = Number.POSITIVE_INFINITY;
    for (const c of candidates) {
      if (!c.options.link.bound) continue;
      if (c.pausedUntil > now) {
        waitMs = Math.min(waitMs, c.pausedUntil - now);
        continue;
      }
      const plan = this.planFor(job, c);
      if (!plan) continue;
      const submits = plan.submits.filter((p) => !job.accepted.has(p.key));
      if (c.inflight + submits.length > Math.max(c.options.window, submits.length)) {
        waitMs = Math.min(waitMs, 1000);
        continue;
      }
      // parts on the air, not PDUs: a message_payload submit costs as many tokens as its segments
      const tokens = plan.mode === 'message_payload' ? plan.segments : submits.length;
      if (!c.bucket.tryTake(tokens, now)) {
        waitMs = Math.min(waitMs, c.bucket.waitMs(tokens, now));
        continue;
      }
      return { connection: c, submits };
    }
    return waitMs === Number.POSITIVE_INFINITY ? { none: true } : { waitMs };
  }

  private wake(ms: number): void {
    const at = Date.now() + Math.max(1, ms);
    if (this.wakeTimer && this.wakeAt <= at) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.pump();
      },
      Math.max(1, ms),
    );
  }

  private submitParams(c: Connection, job: Job, part: Submit): SubmitParams {
    const o = c.options;
    const registered = job.sms.registeredDelivery ?? o.registeredDelivery;
    return {
      destinationAddr: job.sms.to.replace(/^\+/, ''),
      destAddrTon: 1, // SMPP 3.4 §5.2.5 international
      destAddrNpi: 1, // E.164
      sourceAddr: o.sourceAddr,
      sourceAddrTon: o.sourceAddrTon,
      sourceAddrNpi: o.sourceAddrNpi,
      dataCoding: part.dataCoding,
      esmClass: part.udhi ? 0x40 : 0x00, // SMPP 3.4 §5.2.12 UDHI
      shortMessage: part.shortMessage,
      ...(part.messagePayload ? { messagePayload: part.messagePayload } : {}),
      registeredDelivery: registered ? 1 : 0,
      priorityFlag: PRIORITY_FLAG[job.sms.priority],
      validityPeriod: relativeValidity(job.sms.expiresAt - Date.now()),
    };
  }

  private dispatch(c: Connection, job: Job, parts: Submit[]): void {
    c.inflight += parts.length;
    const run = this.runDispatch(c, job, parts).finally(() => {
      c.inflight -= parts.length;
      this.dispatches.delete(run);
      this.pump();
    });
    this.dispatches.add(run);
  }

  private async runDispatch(c: Connection, job: Job, parts: Submit[]): Promise<void> {
    const results = await Promise.allSettled(
      parts.map((p) => c.options.link.submit(this.submitParams(c, job, p))),
    );
    let throttled = false;
    let permanent: number | undefined;
    let transient: string | undefined;
    results.forEach((result, i) => {
      const part = parts[i]!;
      if (result.status === 'rejected') {
        transient = isBridgeError(result.reason) ? result.reason.code : String(result.reason);
        return;
      }
      const status = result.value.commandStatus;
      const kind = classifyStatus(status);
      if (kind === 'ok') job.accepted.set(part.key, result.value.messageId);
      else if (kind === 'throttled') throttled = true;
      else if (kind === 'permanent') permanent = status;
      else transient = `${statusName(status)} (0x${status.toString(16)})`;
    });
    const id = job.sms.id;
    if (permanent !== undefined) {
      const reason = `${statusName(permanent)} (0x${permanent.toString(16).padStart(2, '0')})`;
      this.log.warn({ sms_id: id, connection: c.options.id, status: reason }, 'SMSC rejected the SMS');
      this.finish(job, this.options.store.markFailed(id, 'failed', permanent, reason));
      return;
    }
    if (job.accepted.size === job.plan!.submits.length) {
      c.throttleStreak = 0;
      if (c.bucket.currentRate < c.bucket.maxRate) c.bucket.setRate(c.bucket.currentRate * 1.1 + 1);
      const submitted = [...job.accepted].map(([seq, messageId]) => ({
        seq,
        messageId,
        idForms: normaliseMessageId(messageId),
      }));
      this.finish(job, this.options.store.markSubmitted(id, c.options.id, submitted), {
        truncated: job.plan!.truncated,
      });
      return;
    }
    if (throttled) {
      this.throttle(c);
      this.requeue(job);
      return;
    }
    job.attempts++;
    const reason = transient ?? 'unknown';
    if (job.attempts >= (this.options.maxAttempts ?? 10)) {
      this.finish(
        job,
        this.options.store.markFailed(
          id,
          'failed',
          null,
          `gave up after ${job.attempts} attempts: ${reason}`,
        ),
      );
      return;
    }
    this.log.info(
      { sms_id: id, connection: c.options.id, attempt: job.attempts, reason },
      'submit failed; will retry',
    );
    await this.options.store
      .recordAttempt(id, null, reason)
      .catch((err: unknown) => this.log.error({ err }, 'store'));
    const delay = Math.min(30_000, 500 * 2 ** (job.attempts - 1));
    setTimeout(() => {
      this.requeue(job);
      this.pump();
    }, delay).unref();
  }

  /** Back into its lane in id order, so a resubmit keeps the order of the lane. */
  private requeue(job: Job): void {
    const lane = this.lanes[PRIORITIES.indexOf(job.sms.priority)]!;
    let lo = 0;
    let hi = lane.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (lane[mid]!.sms.id < job.sms.id) lo = mid + 1;
      else hi = mid;
    }
    lane.splice(lo, 0, job);
  }

  /** 0x58 / 0x14: pause the connection, then come back at half the rate and ramp up again on success. */
  private throttle(c: Connection): void {
    // The other answers of a burst already in flight when the first 0x58 came say nothing new.
    if (c.pausedUntil > Date.now()) return;
    c.throttleStreak++;
    const pause = Math.min(30_000, (this.options.throttlePauseMs ?? 1000) * 2 ** (c.throttleStreak - 1));
    c.pausedUntil = Date.now() + pause;
    c.bucket.setRate(c.bucket.currentRate / 2);
    this.log.warn(
      { connection: c.options.id, pause_ms: pause, tps: Math.round(c.bucket.currentRate) },
      'SMSC throttling; pausing this connection',
    );
  }

  private finish(job: Job, update: Promise<SmsRecord>, detail?: Record<string, unknown>): void {
    this.queuedIds.delete(job.sms.id);
    const recorded = update
      .then(
        (sms) => this.options.onStatus(sms, detail),
        (err: unknown) =>
          this.log.error(
            { err, sms_id: job.sms.id },
            'could not record the SMS state; it will be retried after a restart',
          ),
      )
      .catch((err: unknown) => this.log.error({ err, sms_id: job.sms.id }, 'SMS status listener failed'))
      .finally(() => this.recording.delete(recorded));
    // stop() waits for these too: the outcome is committed and announced before the store and broker close
    this.recording.add(recorded);
  }
}
