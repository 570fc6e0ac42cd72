export interface ConcatInfo {
  ref: number;
  total: number;
  seq: number;
  iei: 0x00 | 0x08;
}

export interface ParsedUdh {
  concat?: ConcatInfo;
  /** Octets of the UDH including its length octet; 0 when there is none. */
  headerLength: number;
  body: Buffer;
}

/** Reads the UDH of a short_message sent with UDHI set (3GPP TS 23.040 §9.2.3.24). Never throws. */
export function parseUdh(shortMessage: Buffer): ParsedUdh {
  const udhl = shortMessage[0];
  if (udhl === undefined || udhl === 0 || udhl + 1 > shortMessage.length) {
    return { headerLength: 0, body: shortMessage };
  }
  const headerLength = udhl + 1;
  const result: ParsedUdh = { headerLength, body: shortMessage.subarray(headerLength) };
  let i = 1;
  while (i + 1 < headerLength) {
    const iei = shortMessage[i]!;
    const length = shortMessage[i + 1]!;
    const start = i + 2;
    if (start + length > headerLength) break;
    const ie = shortMessage.subarray(start, start + length);
    let concat: ConcatInfo | undefined;
    if (iei === 0x00 && length === 3) {
      concat = { ref: ie[0]!, total: ie[1]!, seq: ie[2]!, iei: 0x00 };
    } else if (iei === 0x08 && length === 4) {
      concat = { ref: (ie[0]! << 8) | ie[1]!, total: ie[2]!, seq: ie[3]!, iei: 0x08 };
    }
    // §9.2.3.24.1: a sequence number of 0 or above the total means the IE is to be ignored.
    if (concat && concat.total > 0 && concat.seq > 0 && concat.seq <= concat.total && !result.concat) {
      result.concat = concat;
    }
    i = start + length;
  }
  return result;
}
