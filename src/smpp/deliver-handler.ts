import type { Events } from '../events.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { WorkGate } from '../work-gate.js';
import type { InboundPdu } from './link.js';
import type { MessageIdFormat } from './message-id.js';
import { isReceipt, readReceipt } from './receipt.js';
import { logAmbiguous, matchReceipt, sweepParked } from './receipt-match.js';

/** Receipts parked waiting for their submit: at most this many, for at most this long. */
export const PARKED_MAX = 10_000;
export const PARKED_MAX_AGE_MS = 10 * 60_000;

/** SMPP 3.4 §5.1.3 ESME_RSYSERR: the SMSC keeps the message and delivers it again later. */
const ESME_RSYSERR = 0x08;
/** SMPP 3.4 §5.1.3 ESME_RX_T_APPN, "ESME Receiver Temporary App Error": the SMSC retries later. */
const ESME_RX_T_APPN = 0x64;

export interface DeliverHandlerOptions {
  store: Store;
  events: Events;
  logger: Logger;
  /** A mobile-originated SMS; resolves once it is recorded (guarantee 4). */
  onMo: (pdu: InboundPdu) => Promise<void>;
  /** how this connection's SMSC writes message ids (`smpp.connections[].message_id_format`) */
  messageIdFormat: (connectionId: string) => MessageIdFormat;
}

/**
 * Answers every deliver_sm only after what it carries is recorded: a receipt applied to its SMS, an MO
 * handed to the inbound module. A failure answers ESME_RSYSERR so the SMSC delivers it again.
 */
export class DeliverHandler {
  private readonly log: Logger;
  receipts = 0;
  private readonly gate = new WorkGate();
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly options: DeliverHandlerOptions) {
    this.log = options.logger.child({ module: 'receipts' });
  }

  readonly handle = (pdu: InboundPdu, respond: (status?: number) => void): void => {
    const work = this.gate.run(() => (isReceipt(pdu.esmClass) ? this.receipt(pdu) : this.options.onMo(pdu)));
    if (!work) {
      // shutting down: the SMSC keeps it and delivers it again after the restart
      respond(ESME_RX_T_APPN);
      return;
    }
    work.then(
      () => respond(0),
      (err: unknown) => {
        this.log.error(
          { err, connection: pdu.connectionId },
          'could not record a deliver_sm; asking the SMSC to retry',
        );
        respond(ESME_RSYSERR);
      },
    );
  };

  /** Starts the sweep of parked receipts (every second; the table is empty unless receipts overtake submits). */
  start(): void {
    this.sweep = setInterval(() => {
      this.expireParked().catch((err: unknown) => this.log.error({ err }, 'sweeping parked receipts'));
    }, 1_000);
    this.sweep.unref();
  }

  /** Shutdown: every later deliver_sm is answered "retry later"; resolves once those in hand are recorded. */
  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = undefined;
    await this.gate.close();
  }

  private async receipt(pdu: InboundPdu): Promise<void> {
    this.receipts++;
    const { text, id, outcome, conflicts } = readReceipt(pdu);
    if (conflicts.length > 0) {
      this.log.debug({ message_id: id, conflicts }, 'receipt TLVs contradict its text; the TLVs win');
    }
    if (!id) {
      this.log.warn({ text }, 'delivery receipt without a message id; ignored');
      return;
    }
    if (outcome.state === 'pending') {
      this.log.debug({ message_id: id, stat: outcome.stat }, 'intermediate receipt');
      return;
    }
    const errNumber = outcome.err !== undefined && /^\d+$/.test(outcome.err) ? Number(outcome.err) : null;
    const receipt = {
      connectionId: pdu.connectionId,
      receiptId: id,
      format: this.options.messageIdFormat(pdu.connectionId),
      state: outcome.state,
      stat: outcome.stat,
      errorCode: errNumber,
      receivedAt: Date.now(),
    };
    const match = await this.options.store.transaction((tx) => matchReceipt(tx, receipt, true));
    switch (match.kind) {
      case 'applied':
        this.log.debug(
          { sms_id: match.result.sms.id, stat: outcome.stat, via: match.via },
          'receipt applied',
        );
        if (match.result.changed)
          this.options.events.emit('sms.status', match.result.sms, { stat: outcome.stat });
        return;
      case 'ambiguous':
        logAmbiguous(this.log, id, pdu.connectionId, match.candidates);
        return;
      case 'parked':
        this.log.debug(
          { message_id: id, stat: outcome.stat },
          'receipt before its submit was recorded; parked',
        );
        return;
      case 'none':
        return;
    }
  }

  /**
   * Parked receipts: those of `auto` connections get their hex <-> decimal reading tried once their owner had
   * time to be recorded; those whose submit never came are dropped after a while, each logged as orphaned.
   */
  async expireParked(now = Date.now()): Promise<void> {
    const swept = await this.options.store.transaction((tx) =>
      sweepParked(tx, now, PARKED_MAX_AGE_MS, PARKED_MAX),
    );
    for (const sms of swept.settled) this.options.events.emit('sms.status', sms);
    for (const a of swept.ambiguous)
      logAmbiguous(this.log, a.receipt.receiptId, a.receipt.connectionId, a.candidates);
    for (const r of swept.orphans) {
      this.log.warn(
        { message_id: r.receiptId, connection: r.connectionId, stat: r.stat },
        'orphaned receipt: no SMS on that connection took this id; dropped',
      );
    }
  }
}
