import type { Logger } from '../logger.js';
import type { SmsRecord, Store } from '../store/store.js';
import { WorkGate } from '../work-gate.js';
import { decodeText } from './encoding.js';
import type { InboundPdu } from './link.js';
import { isReceipt, normaliseMessageId, parseReceiptText, receiptOutcome } from './receipt.js';

/** SMPP 3.4 §5.1.3 ESME_RSYSERR: the SMSC keeps the message and delivers it again later. */
const ESME_RSYSERR = 0x08;
/** SMPP 3.4 §5.1.3 ESME_RX_T_APPN, "ESME Receiver Temporary App Error": the SMSC retries later. */
const ESME_RX_T_APPN = 0x64;

export interface DeliverHandlerOptions {
  store: Store;
  logger: Logger;
  onStatus: (sms: SmsRecord, detail?: Record<string, unknown>) => void;
  /** A mobile-originated SMS; resolves once it is recorded (guarantee 4). */
  onMo: (pdu: InboundPdu) => Promise<void>;
}

/** Text of a PDU's short_message or message_payload. */
export function pduText(pdu: InboundPdu): string {
  return decodeText(messageBytes(pdu), pdu.dataCoding);
}

function messageBytes(pdu: InboundPdu): Buffer {
  return pdu.messagePayload && pdu.messagePayload.length > 0 ? pdu.messagePayload : pdu.shortMessage;
}

/**
 * Answers every deliver_sm only after what it carries is recorded: a receipt applied to its SMS, an MO
 * handed to the inbound module. A failure answers ESME_RSYSERR so the SMSC delivers it again.
 */
export class DeliverHandler {
  private readonly log: Logger;
  receipts = 0;
  /** receipts that came before their submit was recorded; the store applies them once it is */
  earlyReceipts = 0;
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
    // Receipt text is ASCII whatever data_coding says; decoding it as GSM would turn '_' into '§'.
    const text = messageBytes(pdu).toString('latin1').replace(/\0+$/, '');
    const parsed = parseReceiptText(text);
    // SMPP 3.4 §5.3.2.12 / §5.3.2.35: the TLVs are authoritative when present.
    const id = pdu.receiptedMessageId?.replace(/\0+$/, '') || parsed.id;
    const outcome = receiptOutcome({
      stat: parsed.stat,
      messageState: pdu.messageState,
      err: parsed.err,
      networkErrorCode: pdu.networkErrorCode,
    });
    if (!id) {
      this.log.warn({ text }, 'delivery receipt without a message id; ignored');
      return;
    }
    if (outcome.state === 'pending') {
      this.log.debug({ message_id: id, stat: outcome.stat }, 'intermediate receipt');
      return;
    }
    const errNumber = outcome.err !== undefined && /^\d+$/.test(outcome.err) ? Number(outcome.err) : null;
    const result = await this.options.store.applyReceipt({
      idForms: normaliseMessageId(id),
      state: outcome.state,
      stat: outcome.stat,
      errorCode: errNumber,
    });
    if (!result) {
      this.earlyReceipts++;
      this.log.warn(
        { message_id: id, stat: outcome.stat },
        'receipt for a message id not recorded yet; kept until its submit is',
      );
      return;
    }
    this.log.debug({ sms_id: result.sms.id, stat: outcome.stat }, 'receipt applied');
    if (result.changed) this.options.onStatus(result.sms, { stat: outcome.stat });
  }
}
