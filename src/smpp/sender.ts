import { isBridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SenderStore } from '../outbox.js';
import { PRIORITIES, type SmsRecord, type SubmittedPart } from '../store/store.js';
import { Lane } from './lane.js';
import type { SmppLink, SubmitParams, SubmitResult } from './link.js';
import { type MessageIdFormat, storedKeys } from './message-id.js';
import { type LongText, type Plan, planSms, type Submit } from './plan.js';
import { logAmbiguous, type SubmitRecorded } from './receipt-match.js';
import { classifyStatus, statusName } from './status.js';
import { SubmitLimiter } from './submit-limiter.js';

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
  /** how this SMSC writes ids in receipts vs submit_sm_resp: decides the one other reading stored. Default `auto`. */
  messageIdFormat?: MessageIdFormat | undefined;
}

export interface SenderOptions {
  connections: SenderConnectionOptions[];
  store: SenderStore;
  maxParts: number;
  logger: Logger;
  /** called after each committed state change of an SMS */
  onStatus: (sms: SmsRecord, detail?: Record<string, unknown>) => void;
  /** attempts on transient errors before an SMS is failed. Default 10. */
  maxAttempts?: number;
  /** first pause after a throttling answer (0x58, 0x14); doubles while throttling goes on. Default 1000 ms. */
  throttlePauseMs?: number;
  /** first pause before a retry after a transient error; doubles per attempt, at most 30 s. Default 500 ms. */
  retryInitialMs?: number;
}

interface Job {
  sms: SmsRecord;
  /** how it goes out; made again for a connection of another `longText` while nothing is accepted */
  plan?: Plan;
  /**
   * submits of a concatenated SMS the SMSC already accepted, by part number: a retry sends only the rest (made
   * on the first; a one-part SMS never needs it)
   */
  accepted: Map<number, string> | undefined;
  /** transient failures so far, across restarts (the store counts them) */
  attempts: number;
  /** window slots of its connection this job holds while it is dispatched (0 once released) */
  held: number;
}

/**
 * The SMS that the same connections can carry (same route), in priority lanes, each lane in id order. A group
 * whose connections are all down or busy waits on its own: it never holds up a group another connection serves.
 */
interface Group {
  connections: Connection[];
  lanes: Array<Lane<Job>>;
  /** the pump pass that found nothing more to send in this group now */
  doneIn: number;
}

interface Connection {
  options: SenderConnectionOptions;
  limiter: SubmitLimiter;
  inflight: number;
  pausedUntil: number;
  throttleStreak: number;
  /** the pump pass that closed this connection to its later jobs (paused, window full, no tokens) */
  blockedIn: number;
}

type Choice =
  | { connection: Connection; submits: Submit[]; ticket: number; tokens: number }
  | { waitMs: number };

const PRIORITY_FLAG = { critical: 3, high: 1, normal: 0, low: 0 } as const;
const PLUS = 0x2b;
/** the submitted event's detail, shared (listeners only read it) */
const TRUNCATED = Object.freeze({ truncated: true });
const NOT_TRUNCATED = Object.freeze({ truncated: false });

/** SMPP 3.4 §7.1.1 relative time: YYMMDDhhmmss000R */
export function relativeValidity(ms: number): string {
  const seconds = Math.max(60, Math.floor(ms / 1000));
  // the SMS of one burst share their max_age, so one second's text serves them all
  if (seconds !== lastValiditySeconds) {
    lastValidity = validityText(seconds);
    lastValiditySeconds = seconds;
  }
  return lastValidity;
}
let lastValiditySeconds = -1;
let lastValidity = '';

function validityText(seconds: number): string {
  let s = seconds;
  const days = Math.min(99, Math.floor(s / 86400));
  s -= days * 86400;
  const pad = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `0000${pad(days)}${pad(h)}${pad(m)}${pad(s % 60)}000R`;
}

/** Frees the window slots the job holds on its connection; once. */
function release(c: Connection, job: Job): void {
  c.inflight -= job.held;
  job.held = 0;
}

/** Whether a connection of the group is bound and not blocked in this pass. */
function usable(group: Group, pass: number): boolean {
  for (const c of group.connections) if (c.options.link.bound && c.blockedIn !== pass) return true;
  return false;
}

/** The index of the first lane with a job, or -1. */
function firstNonEmpty(lanes: Array<Lane<Job>>): number {
  for (let i = 0; i < lanes.length; i++) if (lanes[i]!.length > 0) return i;
  return -1;
}

/**
 * Moves committed SMS from the store to the SMSCs: a window and a rate limiter per connection, priority lanes
 * per route group, throttling back-off, retries, expiry and failover.
 */
export class Sender {
  /** by the ids of the connections that can carry the SMS, in priority order */
  private readonly groups = new Map<string, Group>();
  private readonly connections: Connection[];
  private readonly log: Logger;
  /** dispatches under way (sending, or recording what came back), awaited by stop() */
  private active = 0;
  /** store writes started outside a dispatch (expiry, rejection), awaited by stop() */
  private readonly writes = new Set<Promise<void>>();
  /** jobs waiting out a retry back-off, by their timer; all cleared on stop() */
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** outcomes of finished submits being committed and announced, awaited by stop() */
  private recording = 0;
  /** stop() waiting for `active` or `recording` to reach 0; at most one entry (stop() is called once) */
  private readonly idleWaiters: Array<() => void> = [];
  private wakeTimer: NodeJS.Timeout | undefined;
  /** no connection has routes: one group of every connection, by this key (their ids in priority order) */
  private readonly unrouted: boolean;
  private readonly unroutedKey: string;
  /** passes of `pump` so far: the number of the current one marks what it closed */
  private passes = 0;
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
        limiter: new SubmitLimiter(c.tps),
        inflight: 0,
        pausedUntil: 0,
        throttleStreak: 0,
        blockedIn: 0,
      }));
    for (const c of this.connections) c.options.link.on('bound', () => this.pump());
    this.unrouted = this.connections.every((c) => c.options.routes.length === 0);
    this.unroutedKey = this.connections.map((c) => c.options.id).join('\n');
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

  /**
   * Stops taking work, drops every timer (retries included) and waits for the submits in flight (bounded by
   * the links' response timeout) and their store writes. What was queued stays queued in the store.
   */
  async stop(): Promise<void> {
    this.running = false;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeTimer = undefined;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.retryTimers.clear();
    await this.drained(() => this.active);
    await Promise.allSettled([...this.writes]);
    await this.drained(() => this.recording);
    // the store holds what is still queued; a later start() reads it again
    this.groups.clear();
    this.queuedIds.clear();
  }

  /** Hands committed SMS to the lanes. */
  enqueue(records: SmsRecord[]): void {
    for (const sms of records) {
      if (this.queuedIds.has(sms.id)) continue;
      this.queuedIds.add(sms.id);
      // attempts come from the record, so max attempts hold across restarts
      this.requeue({ sms, accepted: undefined, attempts: sms.attempts, held: 0 });
    }
    this.pump();
  }

  /** SMS waiting per lane, for metrics and the status page. */
  get depth(): Record<string, number> {
    const depth = Object.fromEntries(PRIORITIES.map((p) => [p, 0]));
    for (const g of this.groups.values())
      PRIORITIES.forEach((p, i) => {
        depth[p]! += g.lanes[i]!.length;
      });
    return depth;
  }

  /** The connections that may carry an SMS to `to`: those routing its prefix, else those without routes. */
  private groupFor(to: string): Group | undefined {
    // no connection has routes (the usual set-up): every SMS goes to the one group of them all
    if (this.unrouted) return this.group(this.connections, this.unroutedKey);
    const routed = this.connections.filter((c) => c.options.routes.some((r) => to.startsWith(r)));
    const candidates =
      routed.length > 0 ? routed : this.connections.filter((c) => c.options.routes.length === 0);
    if (candidates.length === 0) return undefined;
    return this.group(candidates, candidates.map((c) => c.options.id).join('\n'));
  }

  private group(candidates: Connection[], key: string): Group | undefined {
    if (candidates.length === 0) return undefined;
    let group = this.groups.get(key);
    if (!group) {
      group = {
        connections: candidates,
        lanes: PRIORITIES.map(() => new Lane<Job>((j) => j.sms.id)),
        doneIn: 0,
      };
      this.groups.set(key, group);
    }
    return group;
  }

  /**
   * Sends what can be sent now. Among the heads of all groups the highest lane (then the lowest id) goes
   * first; a connection that cannot take a job now (paused, window full, no tokens) is closed to every later
   * job of this pass, so priority holds per connection, while jobs other connections serve go on.
   */
  private pump(): void {
    if (!this.running) return;
    const now = Date.now();
    this.expire(now);
    // a group or connection is marked with the pass that closed it, not put in a set made for each pass (a
    // pass runs about twice per SMS)
    const pass = ++this.passes;
    let waitMs = Number.POSITIVE_INFINITY;
    for (;;) {
      let bestGroup: Group | undefined;
      let bestLane: Lane<Job> | undefined;
      let bestRank = 0;
      let bestJob: Job | undefined;
      for (const group of this.groups.values()) {
        if (group.doneIn === pass) continue;
        const rank = usable(group, pass) ? firstNonEmpty(group.lanes) : -1;
        if (rank < 0) {
          group.doneIn = pass;
          continue;
        }
        const lane = group.lanes[rank]!;
        const job = lane.peek()!;
        if (!bestJob || rank < bestRank || (rank === bestRank && job.sms.id < bestJob.sms.id)) {
          bestGroup = group;
          bestLane = lane;
          bestRank = rank;
          bestJob = job;
        }
      }
      if (!bestJob) break;
      const group = bestGroup!;
      const lane = bestLane!;
      const job = bestJob;
      let pick: Choice;
      try {
        pick = this.pick(job, group, pass, now);
      } catch (err) {
        lane.shift();
        const code = isBridgeError(err) ? err.code : 'ERR_SMS_REJECTED';
        const reason = `${code}: ${(err as Error).message}`;
        this.track(this.finish(job, this.options.store.markFailed(job.sms.id, 'failed', null, reason)));
        continue;
      }
      if ('connection' in pick) {
        lane.shift();
        void this.dispatch(pick.connection, job, pick);
        continue;
      }
      // Its connections are all down or busy: the rest of this group waits behind it (order within a route).
      waitMs = Math.min(waitMs, pick.waitMs);
      group.doneIn = pass;
    }
    if (waitMs !== Number.POSITIVE_INFINITY) this.wake(waitMs);
  }

  /** Fails as expired the SMS at the head of each lane that are older than their max_age. */
  private expire(now: number): void {
    for (const group of this.groups.values()) {
      for (const lane of group.lanes) {
        while (lane.length > 0 && lane.peek()!.sms.expiresAt <= now) {
          const job = lane.shift()!;
          this.track(
            this.finish(
              job,
              this.options.store.markFailed(job.sms.id, 'expired', null, 'older than its max_age'),
            ),
          );
        }
      }
    }
  }

  private track(write: Promise<void>): void {
    this.writes.add(write);
    void write.finally(() => this.writes.delete(write));
  }

  /** The job's plan for a connection's way of sending long text; undefined when it cannot switch. */
  private planFor(job: Job, c: Connection): Plan | undefined {
    const mode = c.options.longText;
    if (job.plan?.mode === mode) return job.plan;
    if (job.plan && job.accepted) return undefined; // half sent one way: finish it that way
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

  /** The first connection of the group, by priority, that can take the job now; failover to the next. */
  private pick(job: Job, group: Group, pass: number, now: number): Choice {
    let waitMs = Number.POSITIVE_INFINITY;
    for (const c of group.connections) {
      if (!c.options.link.bound || c.blockedIn === pass) continue;
      if (c.pausedUntil > now) {
        c.blockedIn = pass;
        waitMs = Math.min(waitMs, c.pausedUntil - now);
        continue;
      }
      const plan = this.planFor(job, c);
      if (!plan) continue;
      // nothing accepted yet (every first try): the plan's own list, which nobody changes
      const accepted = job.accepted;
      const submits = accepted ? plan.submits.filter((p) => !accepted.has(p.partNumber)) : plan.submits;
      if (c.inflight + submits.length > Math.max(c.options.window, submits.length)) {
        // a finished dispatch pumps again; the timer is only a safety net
        c.blockedIn = pass;
        waitMs = Math.min(waitMs, 1000);
        continue;
      }
      // parts on the air, not PDUs: a message_payload submit costs as many tokens as its segments
      const tokens = plan.mode === 'message_payload' ? plan.segments : submits.length;
      const ticket = c.limiter.tryTake(tokens);
      if (ticket < 0) {
        c.blockedIn = pass;
        // a slot awaiting its answer is freed by that answer, which pumps again
        waitMs = Math.min(waitMs, c.limiter.waitMs(tokens), 1000);
        continue;
      }
      return { connection: c, submits, ticket, tokens };
    }
    return { waitMs };
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
    const to = job.sms.to;
    const params: SubmitParams = {
      destinationAddr: to.charCodeAt(0) === PLUS ? to.slice(1) : to,
      destAddrTon: 1, // SMPP 3.4 §5.2.5 international
      destAddrNpi: 1, // E.164
      sourceAddr: o.sourceAddr,
      sourceAddrTon: o.sourceAddrTon,
      sourceAddrNpi: o.sourceAddrNpi,
      dataCoding: part.dataCoding,
      esmClass: part.udhi ? 0x40 : 0x00, // SMPP 3.4 §5.2.12 UDHI
      shortMessage: part.shortMessage,
      registeredDelivery: registered ? 1 : 0,
      priorityFlag: PRIORITY_FLAG[job.sms.priority],
      validityPeriod: relativeValidity(job.sms.expiresAt - Date.now()),
    };
    if (part.messagePayload) params.messagePayload = part.messagePayload;
    return params;
  }

  /**
   * Sends the job's submits and records what came back. Never rejects: an unexpected error is logged and the SMS
   * stays queued in the store. Counted in `active` until done, which stop() waits for. One async function for
   * the whole dispatch of a one-part SMS (its submit, its commit and its announcement): each async function
   * awaited in between cost a promise and a suspended frame per SMS.
   */
  private async dispatch(
    c: Connection,
    job: Job,
    { submits: parts, ticket, tokens }: { submits: Submit[]; ticket: number; tokens: number },
  ): Promise<void> {
    // the window counts submits not yet written down: awaiting their answer, or the commit that records it.
    // Freed at the answer, a slot would let a slow store pile up answered, unrecorded submits, each one sent
    // again after a crash (the guarantee: duplicates after a crash are at most a window per connection).
    // Only a refusal, which the SMSC did not take, frees its slots before its commit.
    job.held = parts.length;
    c.inflight += job.held;
    this.active++;
    try {
      // the limiter's slots of each PDU (a message_payload PDU carries all of them), freed by its answer
      const per = tokens / parts.length;
      // one part (most SMS): sent and awaited here, without a promise of its own or an array to settle
      let single: SubmitResult | Failed | undefined;
      let several: Array<SubmitResult | Failed> | undefined;
      if (parts.length === 1) {
        try {
          single = await c.options.link.submit(this.submitParams(c, job, parts[0]!));
        } catch (reason) {
          single = new Failed(reason);
        } finally {
          c.limiter.settle(ticket, per);
        }
      } else {
        several = await Promise.all(parts.map((p, i) => this.submitPart(c, job, p, ticket + i * per, per)));
      }
      let throttled = false;
      let permanent: number | undefined;
      let transient: string | undefined;
      // a one-part SMS (most) is accepted whole by its one answer: no map of accepted parts
      const whole = job.plan!.submits.length === 1;
      let wholeId: string | undefined;
      for (let i = 0; i < parts.length; i++) {
        const result = several ? several[i]! : single!;
        if (result instanceof Failed) {
          transient = isBridgeError(result.reason) ? result.reason.code : String(result.reason);
          continue;
        }
        const status = result.commandStatus;
        const kind = classifyStatus(status);
        if (kind === 'ok') {
          if (whole) wholeId = result.messageId;
          else {
            job.accepted ??= new Map();
            job.accepted.set(parts[i]!.partNumber, result.messageId);
          }
        } else if (kind === 'throttled') throttled = true;
        else if (kind === 'permanent') permanent = status;
        else transient = `${statusName(status)} (0x${status.toString(16)})`;
      }
      const id = job.sms.id;
      if (permanent !== undefined) {
        const reason = `${statusName(permanent)} (0x${permanent.toString(16).padStart(2, '0')})`;
        this.log.warn({ sms_id: id, connection: c.options.id, status: reason }, 'SMSC rejected the SMS');
        release(c, job);
        this.pump();
        await this.finish(job, this.options.store.markFailed(id, 'failed', permanent, reason));
        return;
      }
      const accepted = job.accepted;
      if (wholeId !== undefined || (accepted && accepted.size === job.plan!.submits.length)) {
        c.throttleStreak = 0;
        if (c.limiter.currentRate < c.limiter.maxRate) c.limiter.setRate(c.limiter.currentRate * 1.1 + 1);
        const format = c.options.messageIdFormat ?? 'auto';
        const submitted: SubmittedPart[] = [];
        if (wholeId !== undefined) {
          const keys = storedKeys(wholeId, format);
          submitted.push({
            seq: parts[0]!.partNumber,
            messageId: keys?.exact ?? '',
            alternate: keys?.alternate,
          });
        } else {
          for (const [seq, messageId] of accepted!) {
            const keys = storedKeys(messageId, format);
            submitted.push({ seq, messageId: keys?.exact ?? '', alternate: keys?.alternate });
          }
        }
        const detail = job.plan!.truncated ? TRUNCATED : NOT_TRUNCATED;
        // `finish` for a submit, here rather than in an async function of its own: a receipt that overtook the
        // submit_sm_resp settles the SMS in the same commit
        const update = this.options.store.markSubmitted(id, c.options.id, submitted, job.sms);
        this.queuedIds.delete(id);
        this.recording++;
        try {
          let result: SubmitRecorded | undefined;
          try {
            result = await update;
          } catch (err) {
            this.log.error(
              { err, sms_id: id },
              'could not record the SMS state; it will be retried after a restart',
            );
          }
          if (result) {
            // both are told
            this.tell(result.submitted, detail);
            for (const sms of result.settled) this.tell(sms);
            for (const a of result.ambiguous)
              logAmbiguous(this.log, a.receipt.receiptId, a.receipt.connectionId, a.candidates);
          }
        } finally {
          this.recording--;
          this.idle();
        }
        return;
      }
      if (throttled) {
        this.throttle(c);
        this.requeue(job);
        return;
      }
      await this.retryLater(c, job, transient ?? 'unknown');
    } catch (err) {
      // not expected (its store writes go through `finish`, which catches): the SMS stays queued in the store
      this.log.error(
        { err, sms_id: job.sms.id },
        'submit of the SMS failed unexpectedly; it is sent after a restart',
      );
    } finally {
      release(c, job);
      this.active--;
      this.idle();
      this.pump();
    }
  }

  /** One submit_sm of several; its limiter slots are freed by its answer. */
  private async submitPart(
    c: Connection,
    job: Job,
    part: Submit,
    slot: number,
    per: number,
  ): Promise<SubmitResult | Failed> {
    try {
      return await c.options.link.submit(this.submitParams(c, job, part));
    } catch (reason) {
      // a throw before the submit is written frees its slot too: one never settled would be lost for good
      return new Failed(reason);
    } finally {
      c.limiter.settle(slot, per);
    }
  }

  /** A transient failure: the SMS is failed after its last attempt, else tried again after a back-off. */
  private async retryLater(c: Connection, job: Job, reason: string): Promise<void> {
    const id = job.sms.id;
    job.attempts++;
    if (job.attempts >= (this.options.maxAttempts ?? 10)) {
      await this.finish(
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
    if (!this.running) return; // stopped meanwhile: the SMS stays queued in the store
    const delay = Math.min(30_000, (this.options.retryInitialMs ?? 500) * 2 ** (job.attempts - 1));
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.requeue(job);
      this.pump();
    }, delay);
    this.retryTimers.add(timer);
  }

  /** Into its group's lane in id order, so a resubmit keeps the order of the lane. */
  private requeue(job: Job): void {
    const group = this.groupFor(job.sms.to);
    if (!group) {
      const reason = `ERR_SMS_REJECTED: no connection routes this destination (routes: ${this.connections
        .flatMap((c) => c.options.routes)
        .join(', ')})`;
      this.track(this.finish(job, this.options.store.markFailed(job.sms.id, 'failed', null, reason)));
      return;
    }
    group.lanes[PRIORITIES.indexOf(job.sms.priority)]!.insert(job);
  }

  /** 0x58 / 0x14: pause the connection, then come back at half the rate and ramp up again on success. */
  private throttle(c: Connection): void {
    // The other answers of a burst already in flight when the first 0x58 came say nothing new.
    if (c.pausedUntil > Date.now()) return;
    c.throttleStreak++;
    const pause = Math.min(30_000, (this.options.throttlePauseMs ?? 1000) * 2 ** (c.throttleStreak - 1));
    c.pausedUntil = Date.now() + pause;
    c.limiter.setRate(c.limiter.currentRate / 2);
    this.log.warn(
      { connection: c.options.id, pause_ms: pause, tps: Math.round(c.limiter.currentRate) },
      'SMSC throttling; pausing this connection',
    );
  }

  /**
   * Forgets the job and reports its committed state (an `update` resolving to undefined reported it itself).
   * Never rejects: a failed write is logged (the SMS stays as stored), and so is a failing listener. Counted in
   * `recording` until done: stop() waits for the outcome to be committed and announced before the store and
   * broker close.
   */
  private async finish(job: Job, update: Promise<SmsRecord | undefined>): Promise<void> {
    const id = job.sms.id;
    this.queuedIds.delete(id);
    this.recording++;
    try {
      let sms: SmsRecord | undefined;
      try {
        sms = await update;
      } catch (err) {
        this.log.error(
          { err, sms_id: id },
          'could not record the SMS state; it will be retried after a restart',
        );
        return;
      }
      if (sms) this.tell(sms);
    } finally {
      this.recording--;
      this.idle();
    }
  }

  /** Tells the listener of a committed state; a listener that throws is logged (the state stays committed). */
  private tell(sms: SmsRecord, detail?: Readonly<Record<string, unknown>>): void {
    try {
      this.options.onStatus(sms, detail);
    } catch (err) {
      this.log.error({ err, sms_id: sms.id }, 'SMS status listener failed');
    }
  }

  /** Wakes stop() when the dispatches or outcomes it waits for are all done. */
  private idle(): void {
    if (this.idleWaiters.length === 0 || (this.active > 0 && this.recording > 0)) return;
    const waiters = this.idleWaiters.splice(0);
    for (const wake of waiters) wake();
  }

  /** Until `count()` is 0. */
  private async drained(count: () => number): Promise<void> {
    while (count() > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }
}

/** A submit that threw or was rejected (no answer from the SMSC). */
class Failed {
  constructor(readonly reason: unknown) {}
}
