import type { Events } from '../events.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { WorkGate } from '../work-gate.js';
import type { InboundPdu } from './link.js';
import { isReceipt, normaliseMessageId, readReceipt } from './receipt.js';

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
}

/**
 * Answers every deliver_sm only after what it carries is recorded: a receipt applied to its SMS, an MO
 * handed to the inbound module. A failure answers ESME_RSYSERR so the SMSC delivers it again.
 */
export class DeliverHandler {
  private readonly log: Logger;
  receipts = 0;
  private readonly gate = new WorkGate();

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

  /** Shutdown: every later deliver_sm is answered "retry later"; resolves once those in hand are recorded. */
  async stop(): Promise<void> {
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
    const update = {
      idForms: normaliseMessageId(id),
      state: outcome.state,
      stat: outcome.stat,
      errorCode: errNumber,
    };
    const result = await this.options.store.transaction((tx) => tx.outbox.applyReceipt(update));
    if (!result) {
      this.log.warn(
        { message_id: id, stat: outcome.stat },
        'receipt for a message id not recorded yet; kept until its submit is',
      );
      return;
    }
    this.log.debug({ sms_id: result.sms.id, stat: outcome.stat }, 'receipt applied');
    if (result.changed) this.options.events.emit('sms.status', result.sms, { stat: outcome.stat });
  }
}
