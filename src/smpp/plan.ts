import { decodeText } from './encoding.js';
import { parseUdh } from './reassemble.js';
import { messagePayload, splitSms } from './segment.js';

/** How a connection sends text longer than one SMS. */
export type LongText = 'udh8' | 'udh16' | 'message_payload';

/** One submit_sm of an SMS (a part of the splitter's, as it is, for UDH parts). */
export interface Submit {
  /** part number, 1-based; what a retry skips once accepted */
  partNumber: number;
  dataCoding: 0 | 8;
  shortMessage: Buffer;
  /** SMPP 3.4 §5.3.2.32: the whole text, short_message then empty */
  messagePayload?: Buffer;
  udhi: boolean;
}

export interface Plan {
  mode: LongText;
  submits: Submit[];
  /** SMS parts the text makes on the air: what the token bucket counts */
  segments: number;
  truncated: boolean;
  units: number;
}

/**
 * The submit_sm an SMS takes on a connection. Pure; throws ERR_SMS_TOO_LONG only when asked to reject.
 * With `message_payload` the text still goes through the splitter, so `max_parts` and truncation hold alike.
 */
export function planSms(text: string, mode: LongText, maxParts: number, reference: number): Plan {
  const iei = mode === 'udh16' ? 0x08 : 0x00;
  const split = splitSms(text, {
    maxParts,
    iei,
    reference: iei === 0x00 ? reference & 0xff : reference & 0xffff,
    onOverflow: 'truncate',
  });
  const segments = split.parts.length;
  // the splitter's parts are the submits (no copy of each per SMS)
  if (mode !== 'message_payload' || segments === 1)
    return { mode, submits: split.parts, segments, truncated: split.truncated, units: split.units };
  const sent = split.truncated
    ? decodeText(Buffer.concat(split.parts.map((p) => parseUdh(p.shortMessage).body)), split.dataCoding)
    : text;
  const whole = messagePayload(sent);
  return {
    mode,
    segments,
    truncated: split.truncated,
    units: split.units,
    submits: [
      {
        partNumber: 1,
        dataCoding: whole.dataCoding,
        shortMessage: Buffer.alloc(0),
        messagePayload: whole.payload,
        udhi: false,
      },
    ],
  };
}
