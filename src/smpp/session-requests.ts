import smpp from 'smpp';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { fastSubmitSm } from './submit-pdu.js';

interface Pending {
  command: string;
  resolve: (pdu: smpp.AnyPdu) => void;
  reject: (err: BridgeError) => void;
  timer: NodeJS.Timeout;
}

/**
 * Requests and responses on ONE library session. Requests wait by sequence_number, each with a timeout, so
 * no promise stays pending forever; the library's own callback table has none and is not used.
 */
export class RequestTable {
  private readonly pending = new Map<number, Pending>();
  private readonly idleWaiters = new Set<() => void>();
  private corked = false;

  constructor(
    private readonly session: smpp.Session,
    private readonly connectionId: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Sends a request; resolves with its response (any command_status), rejects with ERR_SMPP_TIMEOUT/CLOSED. */
  request<K extends smpp.RequestName>(command: K, options: smpp.PduOptions<K>): Promise<smpp.AnyPdu> {
    const pdu =
      (command === 'submit_sm' ? fastSubmitSm(options as smpp.PduOptions<'submit_sm'>) : undefined) ??
      (new smpp.PDU(command, options) as smpp.AnyPdu);
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
    return this.add(pdu.sequence_number, command, this.timeoutMs);
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

  private add(sequence: number, command: string, timeoutMs: number): Promise<smpp.AnyPdu> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.remove(sequence);
        reject(
          new BridgeError(
            'ERR_SMPP_TIMEOUT',
            `connection ${this.connectionId}: no response to ${command} (sequence ${sequence}) within ${timeoutMs} ms`,
            { details: { connection: this.connectionId, command, sequence, timeoutMs } },
          ),
        );
      }, timeoutMs);
      this.pending.set(sequence, { command, resolve, reject, timer });
    });
  }

  /** Hands a response to its request. False when nothing waits for it (late after a timeout, or unsolicited). */
  settle(pdu: smpp.AnyPdu): boolean {
    const entry = this.remove(pdu.sequence_number);
    if (!entry) return false;
    entry.resolve(pdu);
    return true;
  }

  rejectAll(makeError: (command: string) => BridgeError): void {
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
    clearTimeout(entry.timer);
    this.pending.delete(sequence);
    if (this.pending.size === 0) for (const done of [...this.idleWaiters]) done();
    return entry;
  }
}
