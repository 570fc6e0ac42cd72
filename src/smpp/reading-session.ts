import type { EventEmitter } from 'node:events';
import smpp from 'smpp';

/** SMPP 3.4 §5.1.2.1 command_id of submit_sm_resp */
const SUBMIT_SM_RESP = 0x80000004;
/** SMPP 3.4 §3.2 */
const HEADER = 16;

/** The library's reading state (`lib/smpp.js` of `smpp` 0.5.1), which `_extractPDUs` keeps as the library does. */
interface ReadState {
  _busy: boolean;
  _command_length: number | false | null;
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
 * A submit_sm_resp decoded from its body (the PDU less its command_length), with the library's values: its
 * `fromStream` makes a buffer of the length, concatenates, then `fromBuffer` walks the command's parameters and
 * its `_filter` every field of the PDU (~7 us per answer, 3% of the bridge's CPU in benchmark 2). Undefined for
 * anything else, or a body with optional parameters (SMPP 5.0): the library decodes those.
 */
export function decodeSubmitSmResp(length: number, body: Buffer): smpp.AnyPdu | undefined {
  if (length < HEADER || body.length !== length - 4 || body.readUInt32BE(0) !== SUBMIT_SM_RESP)
    return undefined;
  let messageId: string | undefined;
  if (length > HEADER) {
    // a C-Octet String up to its NUL or the PDU's end, read as the library reads it ('ascii')
    let end = 12;
    while (end < body.length && body[end] !== 0) end++;
    // the library's offset after it: past the NUL; any 4 octets left are a TLV
    if (end + 1 + 4 <= body.length) return undefined;
    messageId = body.toString('ascii', 12, end);
  }
  return new SubmitSmResp(
    length,
    body.readUInt32BE(4),
    body.readUInt32BE(8),
    messageId,
  ) as unknown as smpp.AnyPdu;
}

/**
 * The library's session with its reading loop (`Session.prototype._extractPDUs`, bound in its constructor) kept
 * step for step, except that a submit_sm_resp is decoded by `decodeSubmitSmResp`; every other PDU, and every
 * error, goes through the library's own `PDU` as before.
 */
export class ReadingSession extends smpp.Session {
  _extractPDUs(): void {
    const self = this as unknown as ReadState & ReadingSession;
    if (self._busy) return;
    self._busy = true;
    const socket = this.socket;
    let pdu: smpp.AnyPdu;
    while (!this.paused) {
      try {
        if (!self._command_length) {
          self._command_length = smpp.PDU.commandLength(socket);
          if (!self._command_length) break;
        }
        const read = readPdu(socket, self._command_length);
        if (!read) break;
        pdu = read;
      } catch (e) {
        // as the library: an unparseable PDU ends the reading for good (`_busy` stays set)
        this.emit('error', e as Error);
        return;
      }
      self._command_length = null;
      // typed per command in the library's declarations; these are the library's two emits
      const emitter = this as unknown as EventEmitter;
      emitter.emit('pdu', pdu);
      emitter.emit(pdu.command, pdu);
      const callback = pdu.isResponse() ? self._callbacks[pdu.sequence_number] : undefined;
      if (callback) {
        callback(pdu);
        delete self._callbacks[pdu.sequence_number];
      }
    }
    self._busy = false;
  }
}

/** `PDU.fromStream` of the library, a submit_sm_resp decoded without it. */
function readPdu(socket: NodeJS.ReadableStream, length: number): smpp.AnyPdu | false {
  const body = socket.read(length - 4) as Buffer | null;
  if (!body) return false;
  const fast = decodeSubmitSmResp(length, body);
  if (fast) return fast;
  const head = Buffer.alloc(4);
  head.writeUInt32BE(length, 0);
  return new smpp.PDU(Buffer.concat([head, body]));
}
