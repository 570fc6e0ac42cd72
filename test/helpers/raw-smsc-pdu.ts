/**
 * SMPP 3.4 PDUs encoded and decoded by hand, for `raw-smsc.ts`: an independent peer shares no code with the
 * `smpp` package or with src/smpp, so the two cannot agree on a mistake.
 */

// SMPP 3.4 §5.1.2 command_id values; a response is the request's id with bit 31 set.
export const CommandId = {
  generic_nack: 0x80000000,
  bind_receiver: 0x00000001,
  bind_transmitter: 0x00000002,
  submit_sm: 0x00000004,
  deliver_sm: 0x00000005,
  unbind: 0x00000006,
  bind_transceiver: 0x00000009,
  enquire_link: 0x00000015,
} as const;
export const RESP = 0x80000000;

// SMPP 3.4 §5.1.3 command_status values used here.
export const Status = {
  ESME_ROK: 0x00,
  ESME_RINVMSGLEN: 0x01,
  ESME_RINVCMDLEN: 0x02,
  ESME_RINVCMDID: 0x03,
  ESME_RINVBNDSTS: 0x04,
  ESME_RALYBND: 0x05,
  ESME_RINVPASWD: 0x0e,
  ESME_RINVSYSID: 0x0f,
} as const;

// SMPP 3.4 §5.3.2 TLV tags used here.
export const Tag = {
  receipted_message_id: 0x001e,
  network_error_code: 0x0423,
  message_payload: 0x0424,
  message_state: 0x0427,
} as const;

/** SMPP 3.4 §3.2: command_length counts the 16-octet header too. */
export const HEADER_LENGTH = 16;

export interface RawPdu {
  commandId: number;
  commandStatus: number;
  sequenceNumber: number;
  body: Buffer;
}

export function encodePdu(pdu: RawPdu): Buffer {
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt32BE(HEADER_LENGTH + pdu.body.length, 0);
  header.writeUInt32BE(pdu.commandId >>> 0, 4);
  header.writeUInt32BE(pdu.commandStatus >>> 0, 8);
  header.writeUInt32BE(pdu.sequenceNumber >>> 0, 12);
  return Buffer.concat([header, pdu.body]);
}

/** Writes a PDU body field by field. */
export class BodyWriter {
  private readonly parts: Buffer[] = [];
  /** SMPP 3.4 §3.1 C-Octet String: ASCII, NUL-terminated */
  cstring(value: string): this {
    this.parts.push(Buffer.from(`${value}\0`, 'latin1'));
    return this;
  }
  u8(value: number): this {
    this.parts.push(Buffer.from([value & 0xff]));
    return this;
  }
  octets(value: Buffer): this {
    this.parts.push(value);
    return this;
  }
  /** SMPP 3.4 §3.1 TLV: tag (2), length (2), value */
  tlv(tag: number, value: Buffer): this {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(tag, 0);
    head.writeUInt16BE(value.length, 2);
    this.parts.push(head, value);
    return this;
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Reads a PDU body field by field; throws RangeError when a field runs past the end. */
export class BodyReader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  cstring(): string {
    const nul = this.buf.indexOf(0, this.offset);
    if (nul < 0) throw new RangeError('C-Octet String without its NUL');
    const value = this.buf.toString('latin1', this.offset, nul);
    this.offset = nul + 1;
    return value;
  }
  u8(): number {
    if (this.offset >= this.buf.length) throw new RangeError('PDU body too short');
    return this.buf[this.offset++]!;
  }
  octets(length: number): Buffer {
    if (this.offset + length > this.buf.length) throw new RangeError('PDU body too short');
    const value = this.buf.subarray(this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
  tlvs(): Map<number, Buffer> {
    const out = new Map<number, Buffer>();
    while (this.offset < this.buf.length) {
      const head = this.octets(4);
      out.set(head.readUInt16BE(0), Buffer.from(this.octets(head.readUInt16BE(2))));
    }
    return out;
  }
}

export interface BindBody {
  systemId: string;
  password: string;
  systemType: string;
  interfaceVersion: number;
  addrTon: number;
  addrNpi: number;
  addressRange: string;
}

/** SMPP 3.4 §4.1.1 bind_transmitter (same body for bind_receiver §4.1.3, bind_transceiver §4.1.5). */
export function readBind(body: Buffer): BindBody {
  const r = new BodyReader(body);
  return {
    systemId: r.cstring(),
    password: r.cstring(),
    systemType: r.cstring(),
    interfaceVersion: r.u8(),
    addrTon: r.u8(),
    addrNpi: r.u8(),
    addressRange: r.cstring(),
  };
}

/** The fields shared by submit_sm (§4.4.1) and deliver_sm (§4.6.1), then the optional TLVs. */
export interface ShortMessageBody {
  serviceType: string;
  sourceAddrTon: number;
  sourceAddrNpi: number;
  sourceAddr: string;
  destAddrTon: number;
  destAddrNpi: number;
  destinationAddr: string;
  esmClass: number;
  protocolId: number;
  priorityFlag: number;
  scheduleDeliveryTime: string;
  validityPeriod: string;
  registeredDelivery: number;
  replaceIfPresentFlag: number;
  dataCoding: number;
  smDefaultMsgId: number;
  shortMessage: Buffer;
  tlvs: Map<number, Buffer>;
}

export function readShortMessage(body: Buffer): ShortMessageBody {
  const r = new BodyReader(body);
  const head = {
    serviceType: r.cstring(),
    sourceAddrTon: r.u8(),
    sourceAddrNpi: r.u8(),
    sourceAddr: r.cstring(),
    destAddrTon: r.u8(),
    destAddrNpi: r.u8(),
    destinationAddr: r.cstring(),
    esmClass: r.u8(),
    protocolId: r.u8(),
    priorityFlag: r.u8(),
    scheduleDeliveryTime: r.cstring(),
    validityPeriod: r.cstring(),
    registeredDelivery: r.u8(),
    replaceIfPresentFlag: r.u8(),
    dataCoding: r.u8(),
    smDefaultMsgId: r.u8(),
  };
  const shortMessage = Buffer.from(r.octets(r.u8()));
  return { ...head, shortMessage, tlvs: r.tlvs() };
}

export function writeShortMessage(m: Partial<ShortMessageBody>): Buffer {
  const sm = m.shortMessage ?? Buffer.alloc(0);
  // SMPP 3.4 §5.2.21 sm_length is one octet: longer text goes in message_payload
  if (sm.length > 254) throw new RangeError('short_message over 254 octets');
  const w = new BodyWriter()
    .cstring(m.serviceType ?? '')
    .u8(m.sourceAddrTon ?? 0)
    .u8(m.sourceAddrNpi ?? 0)
    .cstring(m.sourceAddr ?? '')
    .u8(m.destAddrTon ?? 0)
    .u8(m.destAddrNpi ?? 0)
    .cstring(m.destinationAddr ?? '')
    .u8(m.esmClass ?? 0)
    .u8(m.protocolId ?? 0)
    .u8(m.priorityFlag ?? 0)
    .cstring(m.scheduleDeliveryTime ?? '')
    .cstring(m.validityPeriod ?? '')
    .u8(m.registeredDelivery ?? 0)
    .u8(m.replaceIfPresentFlag ?? 0)
    .u8(m.dataCoding ?? 0)
    .u8(m.smDefaultMsgId ?? 0)
    .u8(sm.length)
    .octets(sm);
  for (const [tag, value] of m.tlvs ?? []) w.tlv(tag, value);
  return w.build();
}

/** Splits a byte stream into PDUs (SMPP 3.4 §3.2); keeps the remainder for the next chunk. */
export class PduFramer {
  private pending: Buffer = Buffer.alloc(0);
  constructor(private readonly maxLength: number) {}
  /** The complete PDUs so far; throws RangeError on a command_length below 16 or above the maximum. */
  push(chunk: Buffer): RawPdu[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: RawPdu[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32BE(0);
      if (length < HEADER_LENGTH || length > this.maxLength) {
        throw new RangeError(`command_length ${length} out of range`);
      }
      if (this.pending.length < length) break;
      out.push({
        commandId: this.pending.readUInt32BE(4),
        commandStatus: this.pending.readUInt32BE(8),
        sequenceNumber: this.pending.readUInt32BE(12),
        body: Buffer.from(this.pending.subarray(HEADER_LENGTH, length)),
      });
      this.pending = this.pending.subarray(length);
    }
    return out;
  }
}
