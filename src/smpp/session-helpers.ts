import type smpp from 'smpp';
import { BridgeError } from '../errors.js';
import type { BindSettings, SubmitParams } from './session-types.js';

/** SMPP 3.4 §5.2.21: sm_length is one octet and 255 is reserved. */
const MAX_SHORT_MESSAGE = 254;

/** Equal jitter: a delay between half and all of `initial * 2^attempt`, capped at `max`. */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export function describeSocketError(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (ECONNREFUSED)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host name not resolved (${err.code})`;
    case 'ECONNRESET':
      return 'connection reset by the SMSC (ECONNRESET)';
    default:
      return err.code ? `${err.message} (${err.code})` : err.message;
  }
}

// SMPP 3.4 §4.1.1: interface_version explicit, the library defaults to 0x50.
export function bindOptions(s: BindSettings): smpp.BindParams {
  return {
    system_id: s.systemId,
    password: s.password,
    system_type: s.systemType,
    interface_version: s.interfaceVersion,
    addr_ton: s.addrTon,
    addr_npi: s.addrNpi,
    address_range: s.addressRange,
  };
}

/** Throws ERR_SMS_TOO_LONG for a submit_sm the library's encoder would refuse with a RangeError from inside send(). */
export function checkSubmit(connectionId: string, p: SubmitParams): void {
  const octets = p.shortMessage?.length ?? 0;
  if (octets > MAX_SHORT_MESSAGE) {
    throw new BridgeError(
      'ERR_SMS_TOO_LONG',
      `short_message is ${octets} octets; SMPP 3.4 §5.2.21 allows ${MAX_SHORT_MESSAGE}: segment it or use message_payload`,
      { details: { connection: connectionId, octets } },
    );
  }
  // SMPP 3.4 §5.3.2.32: at most 64K octets.
  if (p.messagePayload && p.messagePayload.length > 0xffff) {
    throw new BridgeError(
      'ERR_SMS_TOO_LONG',
      `message_payload is ${p.messagePayload.length} octets; the limit is 65535`,
      {
        details: { connection: connectionId, octets: p.messagePayload.length },
      },
    );
  }
}
