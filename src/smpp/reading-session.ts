import type { EventEmitter } from 'node:events';
import smpp from 'smpp';

/** SMPP 3.4 §5.1.2.1 command_id of submit_sm_resp */
const SUBMIT_SM_RESP = 0x80000004;
/** SMPP 3.4 §3.2 */
const HEADER = 16;

/** The library's table of response callbacks (`lib/smpp.js` of `smpp` 0.5.1), served as its reading loop does. */
interface ReadState {
  _callbacks: Record<number, ((pdu: smpp.AnyPdu) => void) | undefined>;
}

/** SMPP 3.4 §4.4.2 submit_sm_resp as the library decodes it: the header and `message_id`, nothing else. */
class SubmitSmResp {
  readonly command = 'submit_sm_resp';
  readonly command_id = SUBMIT_SM_RESP;

  constructor(
    readonly command_length: number,
    readonly command_status: number,
    readonly sequence_number: number,
    /** undefined when the body is empty (a refusal), as the library leaves it */
    readonly message_id: string | undefined,
  ) {}

  isResponse(): boolean {
    return true;
  }
}

/**
 * The submit_sm_resp of `length` octets at `at` in `b`, with the library's values: its `fromStream` makes a
 * buffer of the length, concatenates it with the body, then `fromBuffer` walks the command's parameters and
 * `_filter` every field of the PDU (~7 us per answer, 3% of the bridge's CPU in benchmark 2). Undefined for
 * anything else, or a body with optional parameters (SMPP 5.0): the library decodes those.
 */
export function decodeSubmitSmResp(b: Buffer, at: number, length: number): smpp.AnyPdu | undefined {
  const end = at + length;
  if (length < HEADER || end > b.length || b.readUInt32BE(at + 4) !== SUBMIT_SM_RESP) return undefined;
  let messageId: string | undefined;
  if (length > HEADER) {
    // a C-Octet String up to its NUL or the PDU's end, read as the library reads it ('ascii')
    let nul = at + HEADER;
    while (nul < end && b[nul] !== 0) nul++;
    // the library's offset after it: past the NUL; any 4 octets left are a TLV
    if (nul + 1 + 4 <= end) return undefined;
    messageId = b.toString('ascii', at + HEADER, nul);
  }
  return new SubmitSmResp(
    length,
    b.readUInt32BE(at + 8),
    b.readUInt32BE(at + 12),
    messageId,
  ) as unknown as smpp.AnyPdu;
}

/**
 * The library's session, reading each 'readable' whole (`socket.read()`) and cutting the PDUs out of it, where
 * the library reads 4 octets then the rest of each PDU (two stream reads, a buffer and a concatenation per PDU);
 * a submit_sm_resp is decoded by `decodeSubmitSmResp`, every other PDU by the library's `PDU` from a copy of its
 * octets, as `fromStream` gave it. What the library's loop does otherwise is kept: `paused` stops it between
 * PDUs (`resume()` goes on with what was read), 'pdu' then the command are emitted, a response's callback is
 * called, and a command_length over `PDU.maxLength` (or below the header's 16, which the library could not
 * parse either) is an 'error' after which nothing more is read.
 */
export class ReadingSession extends smpp.Session {
  /** octets read off the socket from a PDU boundary on, not yet handed out (at most one PDU and a read) */
  private unread: Buffer | undefined;
  /** in the loop (a listener calling `resume()`), or stopped for good by a parse error */
  private reading = false;

  /** The library's reconnect of the same socket (the bridge makes a fresh session instead): nothing read is kept. */
  override connect(): void {
    this.unread = undefined;
    this.reading = false;
    super.connect();
  }

  _extractPDUs(): void {
    if (this.reading) return;
    this.reading = true;
    const callbacks = (this as unknown as ReadState)._callbacks;
    // typed per command in the library's declarations; these are the library's two emits
    const emitter = this as unknown as EventEmitter;
    let b = this.unread;
    let at = 0;
    this.unread = undefined;
    while (!this.paused) {
      const left = b === undefined ? 0 : b.length - at;
      const length = left >= 4 ? b!.readUInt32BE(at) : 0;
      if (left >= 4 && (length > smpp.PDU.maxLength || length < HEADER)) {
        // as the library's `commandLength`: the same message
        this.emit(
          'error',
          new Error(
            length > smpp.PDU.maxLength
              ? `PDU length was too large (${length}, maximum is ${smpp.PDU.maxLength}).`
              : `PDU length was too small (${length}, the header alone is ${HEADER}).`,
          ),
        );
        return;
      }
      if (left < 4 || left < length) {
        const chunk = this.socket.read() as Buffer | null;
        if (chunk === null) break;
        b = left > 0 ? Buffer.concat([b!.subarray(at), chunk]) : chunk;
        at = 0;
        continue;
      }
      let pdu: smpp.AnyPdu;
      try {
        pdu = decodeSubmitSmResp(b!, at, length) ?? new smpp.PDU(Buffer.from(b!.subarray(at, at + length)));
      } catch (e) {
        this.emit('error', e as Error);
        return;
      }
      at += length;
      emitter.emit('pdu', pdu);
      emitter.emit(pdu.command, pdu);
      const callback = pdu.isResponse() ? callbacks[pdu.sequence_number] : undefined;
      if (callback) {
        callback(pdu);
        delete callbacks[pdu.sequence_number];
      }
    }
    if (b !== undefined && at < b.length) this.unread = at === 0 ? b : b.subarray(at);
    this.reading = false;
  }
}
