import smpp from 'smpp';

/**
 * smpp 0.5.1 decodes short_message and message_payload into `{ message: string, udh? }` with its own guesses:
 * unknown data_coding values pass through, octets outside GSM 03.38 become spaces, the UDH of a
 * message_payload is dropped and `udh` comes back split into IEs. The bridge needs the exact octets (UDH for
 * concatenation, receipts quoting GSM escapes), so on decode both stay Buffers and `./encoding.ts` decodes.
 * Encode keeps the library filter, which returns a Buffer untouched (we always send Buffers).
 *
 * It also reads the receipted_message_id TLV as a C string without looking at the TLV length, so an SMSC
 * that omits the NUL terminator would leak the next TLVs into the id: read it bounded by its length instead.
 *
 * Installed once, when this module is first imported; the library's tables are process-wide.
 */
const rawMessageFilter: smpp.FilterDef = {
  encode(value) {
    return smpp.filters.message.encode.call(this, value);
  },
  decode(value) {
    return value;
  },
};

/** short_message values whose sm_length said more octets than the PDU holds. */
const cutShort = new WeakSet<Buffer>();

// SMPP 3.4 §5.2.21-22 sm_length then short_message: the library slices `sm_length` octets without checking
// that the PDU holds them, so a truncated PDU would pass as a shorter message.
const shortMessageType: smpp.TypeDef = {
  ...smpp.types.buffer,
  read(buffer: Buffer, offset: number) {
    const length = buffer.readUInt8(offset);
    const value = buffer.subarray(offset + 1, offset + 1 + length);
    if (value.length < length) cutShort.add(value);
    return value;
  },
};

for (const def of Object.values(smpp.commands)) {
  const param = def.params?.short_message;
  if (param) {
    param.filter = rawMessageFilter;
    param.type = shortMessageType;
  }
}
smpp.tlvs.message_payload.filter = rawMessageFilter;

// SMPP 3.4 §5.3.2.12 receipted_message_id: C-Octet String, at most 65 octets including the NUL.
smpp.tlvs.receipted_message_id.type = {
  ...smpp.types.tlv.cstring,
  read(buffer, offset, length) {
    const end = length === undefined ? buffer.length : Math.min(buffer.length, offset + length);
    const nul = buffer.indexOf(0, offset);
    return buffer.toString('ascii', offset, nul >= offset && nul < end ? nul : end);
  },
};

/**
 * The first mandatory parameter a received PDU lacks, or undefined when it is whole. smpp 0.5.1 stops reading
 * parameters at command_length without a word, so a truncated deliver_sm decodes as one with empty fields.
 * The answer to such a PDU is ESME_RINVCMDLEN (SMPP 3.4 §5.1.3), never a success.
 */
export function missingMandatory(pdu: smpp.AnyPdu): string | undefined {
  const params = (smpp.commands as Record<string, { params?: Record<string, unknown> }>)[pdu.command]?.params;
  const fields = pdu as unknown as Record<string, unknown>;
  for (const key of Object.keys(params ?? {})) {
    if (fields[key] === undefined) return key;
  }
  const sm = fields.short_message;
  if (Buffer.isBuffer(sm) && cutShort.has(sm)) return 'short_message';
  return undefined;
}

/** SMPP 3.4 §5.1.3 */
export const ESME_RINVCMDLEN = 0x02;

/** A decoded short_message / message_payload value as a Buffer (empty when absent). */
export function messageBytes(value: smpp.MessageOutput | undefined): Buffer {
  if (value === undefined) return Buffer.alloc(0);
  if (Buffer.isBuffer(value)) return value;
  // Only reachable if someone replaced the filter again after this module ran.
  return Buffer.isBuffer(value.message) ? value.message : Buffer.from(value.message, 'latin1');
}

/** An inbound deliver_sm or data_sm with its octets untouched; the consumer decodes and answers. */
export interface InboundPdu {
  command: 'deliver_sm' | 'data_sm';
  sequenceNumber: number;
  sourceAddr: string;
  sourceAddrTon: number;
  /** SMPP 3.4 §5.2.6 addr_npi: 1 = ISDN (E.164) */
  sourceAddrNpi: number;
  destinationAddr: string;
  /** SMPP 3.4 §5.2.12: `(esmClass & 0x3C) === 0x04` is a delivery receipt, `& 0x40` a UDH */
  esmClass: number;
  dataCoding: number;
  /** empty for data_sm, which has no short_message */
  shortMessage: Buffer;
  messagePayload?: Buffer;
  receiptedMessageId?: string;
  messageState?: number;
  networkErrorCode?: Buffer;
  sarMsgRefNum?: number;
  sarTotalSegments?: number;
  sarSegmentSeqnum?: number;
  connectionId: string;
}

export function toInboundPdu(
  pdu: smpp.Pdu<'deliver_sm'> | smpp.Pdu<'data_sm'>,
  connectionId: string,
): InboundPdu {
  return {
    command: pdu.command,
    sequenceNumber: pdu.sequence_number,
    sourceAddr: pdu.source_addr ?? '',
    sourceAddrTon: pdu.source_addr_ton ?? 0,
    sourceAddrNpi: pdu.source_addr_npi ?? 0,
    destinationAddr: pdu.destination_addr ?? '',
    esmClass: pdu.esm_class ?? 0,
    dataCoding: pdu.data_coding ?? 0,
    shortMessage: pdu.command === 'deliver_sm' ? messageBytes(pdu.short_message) : Buffer.alloc(0),
    messagePayload: pdu.message_payload === undefined ? undefined : messageBytes(pdu.message_payload),
    receiptedMessageId: pdu.receipted_message_id,
    messageState: pdu.message_state,
    networkErrorCode: pdu.network_error_code,
    sarMsgRefNum: pdu.sar_msg_ref_num,
    sarTotalSegments: pdu.sar_total_segments,
    sarSegmentSeqnum: pdu.sar_segment_seqnum,
    connectionId,
  };
}
