import type smpp from 'smpp';
import type { SubmitParams } from './session-types.js';

/** SMPP 3.4 §5.1.2.1 command_id of submit_sm */
const SUBMIT_SM = 0x00000004;
/** SMPP 3.4 §5.3.2.32 message_payload */
const TAG_MESSAGE_PAYLOAD = 0x0424;
const EMPTY = Buffer.alloc(0);

type Options = smpp.PduOptions<'submit_sm'>;
/** An octet field as given: the library writes `value || 0` */
type Octet = number | null | undefined;

/** The body of SMPP 3.4 §4.4.1 submit_sm, and the one TLV the sender uses: what `SubmitSm` encodes. */
const KEYS = new Set([
  'service_type',
  'source_addr_ton',
  'source_addr_npi',
  'source_addr',
  'dest_addr_ton',
  'dest_addr_npi',
  'destination_addr',
  'esm_class',
  'protocol_id',
  'priority_flag',
  'schedule_delivery_time',
  'validity_period',
  'registered_delivery',
  'replace_if_present_flag',
  'data_coding',
  'sm_default_msg_id',
  'short_message',
  'message_payload',
]);

const textOrNone = (v: unknown): boolean => v === undefined || typeof v === 'string';

/**
 * A submit_sm that encodes itself in one pass into one buffer, with exactly the library's bytes (the `smpp`
 * package's `toBuffer` walks every key of the PDU and its prototype twice and calls a filter per field: ~3% of
 * the bridge's CPU per SMS in benchmark 2). For the options the sender gives: text fields as strings, the
 * message as a Buffer, times as strings; anything else (a Date, a string message, another TLV) is left to the
 * library: undefined.
 */
export function fastSubmitSm(options: Options): smpp.AnyPdu | undefined {
  for (const key in options) if (!KEYS.has(key)) return undefined;
  const o = options;
  if (
    !textOrNone(o.service_type) ||
    !textOrNone(o.source_addr) ||
    !textOrNone(o.destination_addr) ||
    !textOrNone(o.schedule_delivery_time) ||
    !textOrNone(o.validity_period) ||
    (o.short_message !== undefined && !Buffer.isBuffer(o.short_message)) ||
    (o.message_payload !== undefined && !Buffer.isBuffer(o.message_payload))
  )
    return undefined;
  return new SubmitSm(
    o.service_type ?? '',
    o.source_addr_ton,
    o.source_addr_npi,
    o.source_addr ?? '',
    o.dest_addr_ton,
    o.dest_addr_npi,
    o.destination_addr ?? '',
    o.esm_class,
    o.protocol_id,
    o.priority_flag,
    o.schedule_delivery_time as string | undefined,
    o.validity_period as string | undefined,
    o.registered_delivery,
    o.replace_if_present_flag,
    o.data_coding,
    o.sm_default_msg_id,
    (o.short_message as Buffer | undefined) ?? EMPTY,
    o.message_payload as Buffer | undefined,
  ) as unknown as smpp.AnyPdu;
}

/**
 * The sender's submit as one object: what `fastSubmitSm` makes of the options the library would be given for it
 * (SMPP 3.4 §4.4.1: no service type, protocol id, schedule or replace flag; the validity and the payload only when
 * given), without making those options and checking their keys. Limits are the caller's (`checkSubmit`).
 */
export function submitSmPdu(p: SubmitParams): smpp.AnyPdu {
  return new SubmitSm(
    '',
    p.sourceAddrTon,
    p.sourceAddrNpi,
    p.sourceAddr,
    p.destAddrTon,
    p.destAddrNpi,
    p.destinationAddr,
    p.esmClass,
    0,
    p.priorityFlag,
    undefined,
    p.validityPeriod || undefined,
    p.registeredDelivery,
    0,
    p.dataCoding,
    0,
    p.shortMessage ?? EMPTY,
    p.messagePayload || undefined,
  ) as unknown as smpp.AnyPdu;
}

/** The library's time filter on a string: 12 characters or fewer are a relative time (SMPP 3.4 §7.1.1). */
function time(value: string | undefined): string {
  if (!value) return '';
  return value.length <= 12 ? `${`000000000000${value}`.slice(-12)}000R` : value;
}

/**
 * A C-Octet String (SMPP 3.4 §3.1): one byte per character, as the library writes it ('ascii', which encodes as
 * 'latin1': the low byte of each UTF-16 unit, what a typed array's store keeps), then NUL. Stored byte by byte:
 * `Buffer#write` is a call into C++ and back for a dozen characters.
 */
function cstring(b: Buffer, at: number, value: string): number {
  const n = value.length;
  for (let i = 0; i < n; i++) b[at + i] = value.charCodeAt(i);
  b[at + n] = 0;
  return at + n + 1;
}

/** The library writes `value || 0` with `writeUInt8`, which throws out of range (a fraction is truncated). */
function octet(value: Octet): number {
  const v = value || 0;
  if (v > 0xff || v < 0) throw new RangeError(`octet field out of range: ${v}`);
  return v;
}

class SubmitSm {
  readonly command = 'submit_sm';
  readonly command_id = SUBMIT_SM;
  command_length = 0;
  command_status = 0;
  /** set by the library's Session.send before it encodes */
  sequence_number = 0;

  constructor(
    private readonly serviceType: string,
    private readonly sourceTon: Octet,
    private readonly sourceNpi: Octet,
    private readonly source: string,
    private readonly destTon: Octet,
    private readonly destNpi: Octet,
    private readonly destination: string,
    private readonly esmClass: Octet,
    private readonly protocolId: Octet,
    private readonly priorityFlag: Octet,
    private readonly schedule: string | undefined,
    private readonly validity: string | undefined,
    private readonly registered: Octet,
    private readonly replaceIfPresent: Octet,
    private readonly dataCoding: Octet,
    private readonly defaultMsgId: Octet,
    private readonly message: Buffer,
    private readonly payload: Buffer | undefined,
  ) {}

  isResponse(): boolean {
    return false;
  }

  toBuffer(): Buffer {
    const serviceType = this.serviceType;
    const source = this.source;
    const destination = this.destination;
    const schedule = time(this.schedule);
    const validity = time(this.validity);
    const message = this.message;
    const payload = this.payload;
    const length =
      16 +
      (serviceType.length + 1) +
      2 +
      (source.length + 1) +
      2 +
      (destination.length + 1) +
      3 +
      (schedule.length + 1) +
      (validity.length + 1) +
      4 +
      (1 + message.length) +
      (payload === undefined ? 0 : 4 + payload.length);
    this.command_length = length;
    const b = Buffer.allocUnsafe(length);
    b.writeUInt32BE(length, 0);
    b.writeUInt32BE(SUBMIT_SM, 4);
    b.writeUInt32BE(this.command_status, 8);
    b.writeUInt32BE(this.sequence_number, 12);
    let at = cstring(b, 16, serviceType);
    b[at++] = octet(this.sourceTon);
    b[at++] = octet(this.sourceNpi);
    at = cstring(b, at, source);
    b[at++] = octet(this.destTon);
    b[at++] = octet(this.destNpi);
    at = cstring(b, at, destination);
    b[at++] = octet(this.esmClass);
    b[at++] = octet(this.protocolId);
    b[at++] = octet(this.priorityFlag);
    at = cstring(b, at, schedule);
    at = cstring(b, at, validity);
    b[at++] = octet(this.registered);
    b[at++] = octet(this.replaceIfPresent);
    b[at++] = octet(this.dataCoding);
    b[at++] = octet(this.defaultMsgId);
    // SMPP 3.4 §5.2.21 sm_length, then short_message
    b[at++] = octet(message.length);
    b.set(message, at);
    at += message.length;
    if (payload !== undefined) {
      at = b.writeUInt16BE(TAG_MESSAGE_PAYLOAD, at);
      at = b.writeUInt16BE(payload.length, at);
      b.set(payload, at);
    }
    return b;
  }
}
