import { performance } from 'node:perf_hooks';
import smpp from 'smpp';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { SubmitResult } from './session-types.js';

interface Pending {
  command: string;
  /** with the response PDU, or for a submit_sm with its SubmitResult */
  resolve: (value: never) => void;
  reject: (err: BridgeError) => void;
  /** performance.now() past which it has timed out */
  deadline: number;
  /** a submit_sm: resolved with a SubmitResult, and its timeout reported to `onSubmitTimeout` */
  submit: boolean;
}

/**
 * Requests and responses on ONE library session. Requests wait by sequence_number, each with a timeout, so
 * no promise stays pending forever; the library's own callback table has none and is not used.
 *
 * One timer for the whole table, not one per request (a Timeout, its closure and a clearTimeout per submit_sm):
 * every request has the same timeout, so the map's insertion order is the order of the deadlines, and the timer
 * only ever waits for the oldest one.
 */
export class RequestTable {
  private readonly pending = new Map<number, Pending>();
  private readonly idleWaiters = new Set<() => void>();
  private corked = false;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly session: smpp.Session,
    private readonly connectionId: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    /** a submit_sm went unanswered: called before its promise rejects with ERR_SMPP_TIMEOUT */
    private readonly onSubmitTimeout: () => void = () => undefined,
  ) {}

  /**
   * Sends a submit_sm already made (`submitSmPdu`); resolves with its command_status and message_id (any status),
   * rejects with ERR_SMPP_TIMEOUT (after `onSubmitTimeout`), ERR_SMPP_CLOSED or ERR_SMS_REJECTED (not encodable).
   */
  submit(pdu: smpp.AnyPdu): Promise<SubmitResult> {
    return this.sendPdu(pdu, 'submit_sm', true) as Promise<SubmitResult>;
  }

  /** Sends a request; resolves with its response (any command_status), rejects with ERR_SMPP_TIMEOUT/CLOSED. */
  request<K extends smpp.RequestName>(command: K, options: smpp.PduOptions<K>): Promise<smpp.AnyPdu> {
    return this.sendPdu(
      new smpp.PDU(command, options) as smpp.AnyPdu,
      command,
      false,
    ) as Promise<smpp.AnyPdu>;
  }

  private sendPdu(pdu: smpp.AnyPdu, command: string, submit: boolean): Promise<smpp.AnyPdu | SubmitResult> {
    try {
      this.cork();
      if (!this.session.send(pdu)) {
        return Promise.reject(
          new BridgeError('ERR_SMPP_CLOSED', `connection ${this.connectionId} is not open for ${command}`, {
            details: { connection: this.connectionId, command },
          }),
        );
      }
    } catch (err) {
      return Promise.reject(
        new BridgeError('ERR_SMS_REJECTED', `${command} could not be encoded: ${String(err)}`, {
          cause: err,
        }),
      );
    }
    return this.add(pdu.sequence_number, command, submit);
  }

  /** Sends a response; a closed session drops it (the SMSC times out and resends what matters). */
  reply(pdu: smpp.AnyPdu): void {
    try {
      this.cork();
      if (!this.session.send(pdu))
        this.log.debug({ command: pdu.command }, 'session not writable; response dropped');
    } catch (err) {
      this.log.warn(
        { err, command: pdu.command },
        `connection ${this.connectionId}: could not encode a response`,
      );
    }
  }

  /**
   * The PDUs written in one turn of the event loop (a pump sends up to a window of submit_sm) leave in one
   * write: one syscall and one TCP segment instead of one each.
   */
  private cork(): void {
    if (this.corked) return;
    const socket = this.session.socket;
    this.corked = true;
    socket.cork();
    process.nextTick(() => {
      this.corked = false;
      socket.uncork();
    });
  }

  get size(): number {
    return this.pending.size;
  }

  private add(sequence: number, command: string, submit: boolean): Promise<smpp.AnyPdu | SubmitResult> {
    const deadline = performance.now() + this.timeoutMs;
    const promise = new Promise<smpp.AnyPdu | SubmitResult>((resolve, reject) => {
      this.pending.set(sequence, { command, resolve, reject, deadline, submit });
    });
    this.sweepTimer ??= setTimeout(() => this.sweep(), this.timeoutMs);
    return promise;
  }

  /** Rejects the requests past their deadline (the oldest first), then waits for the next oldest. */
  private sweep(): void {
    this.sweepTimer = undefined;
    const now = performance.now();
    for (const [sequence, entry] of this.pending) {
      // insertion order is deadline order: the first one not yet due ends the sweep
      if (entry.deadline > now) {
        this.sweepTimer = setTimeout(() => this.sweep(), Math.max(1, Math.ceil(entry.deadline - now)));
        return;
      }
      this.remove(sequence);
      const { command } = entry;
      const timeoutMs = this.timeoutMs;
      if (entry.submit) this.onSubmitTimeout();
      entry.reject(
        new BridgeError(
          'ERR_SMPP_TIMEOUT',
          `connection ${this.connectionId}: no response to ${command} (sequence ${sequence}) within ${timeoutMs} ms`,
          { details: { connection: this.connectionId, command, sequence, timeoutMs } },
        ),
      );
    }
  }

  /** Hands a response to its request. False when nothing waits for it (late after a timeout, or unsolicited). */
  settle(pdu: smpp.AnyPdu): boolean {
    const entry = this.remove(pdu.sequence_number);
    if (!entry) return false;
    if (entry.submit) {
      const result: SubmitResult = {
        commandStatus: pdu.command_status,
        messageId: pdu.command === 'submit_sm_resp' ? (pdu.message_id ?? '') : '',
      };
      (entry.resolve as (r: SubmitResult) => void)(result);
    } else (entry.resolve as (p: smpp.AnyPdu) => void)(pdu);
    return true;
  }

  rejectAll(makeError: (command: string) => BridgeError): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const sequence of [...this.pending.keys()]) {
      const entry = this.remove(sequence);
      entry?.reject(makeError(entry.command));
    }
  }

  /** Waits until no request is in flight, or `maxMs`. */
  idle(maxMs: number): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, maxMs);
      this.idleWaiters.add(done);
    });
  }

  private remove(sequence: number): Pending | undefined {
    const entry = this.pending.get(sequence);
    if (!entry) return undefined;
    this.pending.delete(sequence);
    if (this.pending.size === 0) {
      // nothing left to time out: no timer keeps the process up
      if (this.sweepTimer) clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
      for (const done of [...this.idleWaiters]) done();
    }
    return entry;
  }
}
