import { EventEmitter } from 'node:events';
import smpp from 'smpp';
import { BridgeError, isBridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { ESME_RINVCMDLEN, type InboundPdu, missingMandatory, toInboundPdu } from './raw-pdu.js';
import { ReadingSession } from './reading-session.js';
import { backoffDelay, bindOptions, checkSubmit, describeSocketError } from './session-helpers.js';
import { RequestTable } from './session-requests.js';
import type {
  BindRole,
  BindSettings,
  DeliverResponder,
  SubmitParams,
  SubmitResult,
} from './session-types.js';
import { statusName } from './status.js';
import { submitSmPdu } from './submit-pdu.js';

type BindEvents = {
  bound: [smscSystemId: string];
  unbound: [reason: string];
  deliver: [pdu: InboundPdu, respond: DeliverResponder];
};

/** `closing`: the session is being destroyed (a request went unanswered); no new submit_sm goes on it. */
type State = 'idle' | 'connecting' | 'binding' | 'bound' | 'unbinding' | 'closing';

/** One library session and the requests waiting on it; replaced as a whole on every reconnect. */
interface Link {
  session: smpp.Session;
  requests: RequestTable;
}

/**
 * One bind to one SMSC, kept up: a FRESH library session per attempt (a session is never reused after an
 * error or close), bind with backoff, enquire_link with a deadline, a timeout on every request.
 * Everything that ends a session funnels into its `close` event, which decides about reconnecting.
 */
export class BindSession extends EventEmitter<BindEvents> {
  private link: Link | undefined;
  private state: State = 'idle';
  private running = false;
  private attempt = 0;
  private closeReason: string | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;
  private lastProblem: string | undefined;

  constructor(
    readonly role: BindRole,
    private readonly settings: BindSettings,
    private readonly log: Logger,
    /** called when something throws that never should; the owner reports it */
    private readonly onUnexpected: (err: unknown) => void,
  ) {
    super();
  }

  get bound(): boolean {
    return this.state === 'bound';
  }

  /** Why the last attempt failed or the last session ended, for status pages. */
  get lastError(): string | undefined {
    return this.lastProblem;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = undefined;
    this.connect();
  }

  /** Stops reconnecting, lets in-flight requests finish (bounded), unbinds and closes. */
  stop(): Promise<void> {
    this.running = false;
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  submit(p: SubmitParams): Promise<SubmitResult> {
    const link = this.link;
    if (!link || this.state !== 'bound' || this.role === 'receiver') {
      return Promise.reject(
        new BridgeError('ERR_SMPP_NOT_BOUND', `connection ${this.settings.id} is not bound for submit_sm`, {
          details: { connection: this.settings.id },
        }),
      );
    }
    try {
      checkSubmit(this.settings.id, p);
    } catch (err) {
      return Promise.reject(err);
    }
    return link.requests.submit(submitSmPdu(p));
  }

  /** Closes a session that stopped answering; `onClose` then reconnects with a fresh one. */
  private endSession(link: Link, reason: string): void {
    if (link !== this.link || this.state === 'closing') return;
    this.closeReason = reason;
    if (this.state === 'bound' || this.state === 'unbinding') this.state = 'closing';
    link.session.destroy();
  }

  private connect(): void {
    this.reconnectTimer = undefined;
    if (!this.running) return;
    const s = this.settings;
    this.state = 'connecting';
    this.closeReason = undefined;
    // what `smpp.connect` makes of these options, with the submit_sm_resp read without the library's decoder
    const session = new ReadingSession({ host: s.host, port: s.port, tls: s.tls !== undefined, ...s.tls });
    // The PDUs of one turn already leave in one write (RequestTable.cork); Nagle's algorithm would hold the next
    // turn's submit_sm until the SMSC acknowledged the last, and the limiter pays that hold once per slot.
    session.socket.setNoDelay(true);
    // No submit_sm_resp: the SMSC may or may not have the SMS, and the link is not answering. Resubmitting on this
    // session would send it twice to an SMSC that may still deliver the first; end the session so the retry goes
    // out after a fresh bind (duplicates then bounded by the window).
    const requests = new RequestTable(session, s.id, s.responseTimeoutMs, this.log, () =>
      this.endSession(link, `no submit_sm_resp within ${s.responseTimeoutMs} ms: the link is dead`),
    );
    const link: Link = { session, requests };
    this.link = link;
    // Without an error listener the library's error event would kill the process.
    session.on('error', (err) => this.onError(link, err));
    session.on('close', () => this.onClose(link));
    // one per PDU: no closure for `guard`
    session.on('pdu', (pdu) => {
      try {
        this.onPdu(link, pdu);
      } catch (err) {
        this.onUnexpected(err);
      }
    });
    // one per PDU: its fields object only when the line is written
    session.on('send', (pdu) => {
      if (this.log.isLevelEnabled('debug'))
        this.log.debug(
          { command: pdu.command, sequence: pdu.sequence_number, status: pdu.command_status },
          'pdu out',
        );
    });
    session.once(s.tls ? 'secureConnect' : 'connect', () => this.guard(() => this.onConnected(link)));
    this.after(s.responseTimeoutMs, () => {
      if (link !== this.link || this.state !== 'connecting') return;
      this.closeReason = `no connection within ${s.responseTimeoutMs} ms`;
      session.destroy();
    });
  }

  private onConnected(link: Link): void {
    if (link !== this.link) return;
    this.state = 'binding';
    const command = `bind_${this.role}` as const;
    link.requests.request(command, bindOptions(this.settings)).then(
      (resp) => this.guard(() => this.onBindResponse(link, command, resp)),
      (err: unknown) => {
        if (link !== this.link) return;
        this.closeReason = isBridgeError(err, 'ERR_SMPP_TIMEOUT')
          ? `no ${command}_resp within ${this.settings.responseTimeoutMs} ms`
          : `${command} not sent: ${err instanceof Error ? err.message : String(err)}`;
        link.session.destroy();
      },
    );
  }

  private onBindResponse(link: Link, command: string, resp: smpp.AnyPdu): void {
    if (link !== this.link) return;
    const status = resp.command_status;
    if (status !== 0) {
      this.closeReason = `SMSC refused ${command} as "${this.settings.systemId}": ${statusName(status)} (0x${status.toString(16).padStart(8, '0')})`;
      link.session.destroy();
      return;
    }
    const smscSystemId =
      resp.command === 'bind_transceiver_resp' ||
      resp.command === 'bind_transmitter_resp' ||
      resp.command === 'bind_receiver_resp'
        ? (resp.system_id ?? '')
        : '';
    this.state = 'bound';
    this.attempt = 0;
    this.lastProblem = undefined;
    this.log.info(
      { role: this.role, smsc_system_id: smscSystemId },
      `connection ${this.settings.id}: bound as ${this.role} to ${this.settings.host}:${this.settings.port}`,
    );
    this.scheduleEnquireLink(link);
    this.emit('bound', smscSystemId);
  }

  // SMPP 3.4 §4.11 enquire_link: no answer within the response timeout means a dead (or half-open) link.
  private scheduleEnquireLink(link: Link): void {
    this.after(this.settings.enquireLinkIntervalMs, () => {
      if (link !== this.link || this.state !== 'bound') return;
      link.requests.request('enquire_link', {}).then(
        () => this.scheduleEnquireLink(link),
        (err: unknown) => {
          if (!isBridgeError(err, 'ERR_SMPP_TIMEOUT')) return;
          this.endSession(
            link,
            `no enquire_link_resp within ${this.settings.responseTimeoutMs} ms: the link is dead`,
          );
        },
      );
    });
  }

  private onPdu(link: Link, pdu: smpp.AnyPdu): void {
    if (link !== this.link) return;
    // its fields object only when the line is written
    if (this.log.isLevelEnabled('debug'))
      this.log.debug(
        { command: pdu.command, sequence: pdu.sequence_number, status: pdu.command_status },
        'pdu in',
      );
    if (pdu.isResponse()) {
      if (!link.requests.settle(pdu))
        this.log.debug({ command: pdu.command }, 'response nobody waits for; ignored');
      return;
    }
    switch (pdu.command) {
      case 'enquire_link': // SMPP 3.4 §4.11.2
        link.requests.reply(pdu.response());
        return;
      case 'unbind': // SMPP 3.4 §4.2: answer, then close; we bind again
        link.requests.reply(pdu.response());
        this.state = 'unbinding';
        this.closeReason = 'the SMSC unbound';
        link.session.close();
        this.after(this.settings.responseTimeoutMs, () => link.session.destroy());
        return;
      case 'deliver_sm':
      case 'data_sm':
        this.onDeliver(link, pdu);
        return;
      case 'alert_notification': // SMPP 3.4 §4.12.1: no response is defined
      case 'outbind':
        this.log.debug({ command: pdu.command }, 'ignored');
        return;
      default: // SMPP 3.4 §4.3 generic_nack for an unknown or unsupported command
        link.requests.reply(
          new smpp.PDU('generic_nack', {
            sequence_number: pdu.sequence_number,
            command_status: smpp.errors.ESME_RINVCMDID,
          }),
        );
    }
  }

  /** Not answered here: the consumer responds once the message is recorded (guarantee 4). */
  private onDeliver(link: Link, pdu: smpp.Pdu<'deliver_sm'> | smpp.Pdu<'data_sm'>): void {
    if (this.role === 'transmitter') {
      link.requests.reply(pdu.response({ command_status: smpp.errors.ESME_RINVBNDSTS }));
      return;
    }
    const missing = missingMandatory(pdu);
    if (missing !== undefined) {
      this.log.warn({ command: pdu.command, missing }, `truncated ${pdu.command} refused`);
      link.requests.reply(pdu.response({ command_status: ESME_RINVCMDLEN }));
      return;
    }
    let answered = false;
    const ms = this.settings.responseTimeoutMs;
    const warnTimer = this.after(ms, () => {
      this.log.warn(
        { command: pdu.command, sequence: pdu.sequence_number },
        `connection ${this.settings.id}: ${pdu.command} not answered within ${ms} ms; the SMSC will deliver it again`,
      );
    });
    const respond: DeliverResponder = (status = 0) => {
      if (answered) return;
      answered = true;
      clearTimeout(warnTimer);
      this.timers.delete(warnTimer);
      if (link !== this.link) {
        this.log.debug(
          { sequence: pdu.sequence_number },
          'session gone before the answer; the SMSC will redeliver',
        );
        return;
      }
      link.requests.reply(pdu.response({ command_status: status }));
    };
    this.emit('deliver', toInboundPdu(pdu, this.settings.id), respond);
  }

  private onError(link: Link, err: Error): void {
    if (link !== this.link) return;
    // A socket error comes with the socket already destroyed; a parse error leaves it open and unread forever.
    if (link.session.socket.destroyed) {
      this.closeReason ??= describeSocketError(err);
    } else {
      this.closeReason = `unparseable PDU from the SMSC: ${err.message}`;
    }
    link.session.destroy();
  }

  private onClose(link: Link): void {
    if (link !== this.link) return;
    const wasBound = this.state === 'bound' || this.state === 'unbinding' || this.state === 'closing';
    const failed = this.state === 'connecting' ? 'could not connect' : 'could not bind';
    const reason = this.closeReason ?? 'connection closed by the SMSC';
    const id = this.settings.id;
    this.link = undefined;
    this.state = 'idle';
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    link.requests.rejectAll(
      (command) =>
        new BridgeError(
          'ERR_SMPP_CLOSED',
          `connection ${id} closed before the ${command} response: ${reason}`,
          {
            details: { connection: id, command },
          },
        ),
    );
    if (reason !== 'stopped') this.lastProblem = reason;
    if (wasBound) this.emit('unbound', reason);
    if (!this.running) {
      this.log.info(`connection ${id}: ${this.role} closed`);
      return;
    }
    const delay = backoffDelay(
      this.attempt++,
      this.settings.reconnectInitialMs,
      this.settings.reconnectMaxMs,
    );
    const line = `connection ${id}: ${wasBound ? 'lost' : failed} (${reason}); reconnecting in ${delay} ms`;
    if (wasBound) this.log.info({ role: this.role }, line);
    else this.log.warn({ role: this.role, attempt: this.attempt }, line);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private async shutdown(): Promise<void> {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const link = this.link;
    if (!link) return;
    const closed = new Promise<void>((resolve) => link.session.once('close', () => resolve()));
    if (this.state === 'bound') {
      await link.requests.idle(this.settings.responseTimeoutMs);
      if (link === this.link && this.state === 'bound') {
        this.state = 'unbinding';
        this.closeReason = 'stopped';
        // SMPP 3.4 §4.2 unbind; a missing unbind_resp only costs the timeout.
        await link.requests.request('unbind', {}).then(
          () => this.log.info(`connection ${this.settings.id}: unbound`),
          (err: unknown) =>
            this.log.warn({ err }, `connection ${this.settings.id}: no unbind_resp; closing anyway`),
        );
      }
    }
    if (link === this.link) {
      this.closeReason ??= 'stopped';
      link.session.destroy();
    }
    await closed;
  }

  private after(ms: number, fn: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.guard(fn);
    }, ms);
    this.timers.add(timer);
    return timer;
  }

  /** Keeps a bug (or a throwing listener) out of the library's read loop, where it would crash the process. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.onUnexpected(err);
    }
  }
}
