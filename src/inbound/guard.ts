import type { CountryCode } from 'libphonenumber-js';
import type { InboundPdu } from '../smpp/raw-pdu.js';
import { type AuthorizeContext, type Decision, decide } from './authorize.js';
import {
  MoPartLimits,
  type PartHeader,
  type PartVerdict,
  PinLockout,
  ReplyBudget,
  type ReplyVerdict,
  redactPin,
} from './limits.js';
import { oneSms } from './replies.js';
import { type SenderIdentity, senderIdentity } from './sender-id.js';

/** `inbound:` of the bridge config, in milliseconds. */
export interface InboundLimits {
  defaultRegion?: string | undefined;
  pinLockout: { attempts: number; windowMs: number };
  replies: { perNumber: number; total: number; windowMs: number };
  moParts: { maxTotal: number; perSender: number; inFlight: number; timeoutMs: number };
}

export const DEFAULT_INBOUND_LIMITS: InboundLimits = {
  pinLockout: { attempts: 5, windowMs: 15 * 60_000 },
  replies: { perNumber: 10, total: 200, windowMs: 3_600_000 },
  moParts: { maxTotal: 10, perSender: 5, inFlight: 500, timeoutMs: 600_000 },
};

/** From the validated `inbound:` section. */
export function inboundLimitsOf(config: {
  default_region?: string | undefined;
  pin_lockout: { attempts: number; window: number };
  replies: { per_number: number; total: number; window: number };
  mo_parts: { max_total: number; per_sender: number; in_flight: number; timeout: number };
}): InboundLimits {
  return {
    defaultRegion: config.default_region,
    pinLockout: { attempts: config.pin_lockout.attempts, windowMs: config.pin_lockout.window },
    replies: {
      perNumber: config.replies.per_number,
      total: config.replies.total,
      windowMs: config.replies.window,
    },
    moParts: {
      maxTotal: config.mo_parts.max_total,
      perSender: config.mo_parts.per_sender,
      inFlight: config.mo_parts.in_flight,
      timeoutMs: config.mo_parts.timeout,
    },
  };
}

/**
 * The hardening of inbound in one place, so that the service's flow only calls it: who the sender is, which
 * parts may be stored, PIN lockout around `decide`, the reply budget and PIN redaction.
 */
export class InboundGuard {
  readonly pins: PinLockout;
  readonly replies: ReplyBudget;
  readonly parts: MoPartLimits;

  constructor(readonly limits: InboundLimits = DEFAULT_INBOUND_LIMITS) {
    this.pins = new PinLockout(limits.pinLockout);
    this.replies = new ReplyBudget(limits.replies);
    this.parts = new MoPartLimits(limits.moParts);
  }

  sender(pdu: Pick<InboundPdu, 'sourceAddr' | 'sourceAddrTon' | 'sourceAddrNpi'>): SenderIdentity {
    return senderIdentity(
      pdu.sourceAddr,
      pdu.sourceAddrTon,
      pdu.sourceAddrNpi,
      this.limits.defaultRegion as CountryCode | undefined,
    );
  }

  /**
   * Whether a part may be stored: only from a sender that could be authorised (a contact's number), numbered
   * within its total, and within the in-flight bounds.
   */
  admitPart(part: PartHeader, ctx: AuthorizeContext, now: number): PartVerdict | 'unknown_sender' {
    if (ctx.contactIdsForPhone(part.from).length === 0) return 'unknown_sender';
    return this.parts.admit(part, now);
  }

  /** `decide` with the PIN lockout: a locked number's PINs are not even checked. */
  decide(text: string, sender: string, ctx: AuthorizeContext, now: number): Decision {
    const carriesPin = redactPin(text) !== text;
    const minutes = Math.ceil(this.limits.pinLockout.windowMs / 60_000);
    const wait = this.pins.lockedFor(sender, now);
    if (wait > 0 && carriesPin) {
      return {
        kind: 'refused',
        reason: 'pin_locked',
        reply: oneSms(
          `Too many wrong PINs: PINs from this number are refused for ${Math.ceil(wait / 60_000)} min. Nothing was done.`,
        ),
      };
    }
    const decision = decide(text, sender, ctx);
    if (decision.kind === 'refused' && decision.reason === 'pin_wrong') {
      const left = this.pins.fail(sender, now);
      const reply =
        left > 0
          ? `Wrong PIN. Nothing was done. ${left} more wrong PIN${left === 1 ? '' : 's'} lock this number for ${minutes} min.`
          : `Wrong PIN. Nothing was done. PINs from this number are now refused for ${minutes} min.`;
      return { ...decision, reply: oneSms(reply) };
    }
    if (carriesPin && decision.kind !== 'refused' && decision.kind !== 'help') this.pins.succeed(sender);
    return decision;
  }

  /** Takes a reply SMS from the budget. */
  mayReply(to: string, now: number): ReplyVerdict {
    return this.replies.take(to, now);
  }

  /** The text as the audit row, logs and the MQTT inbound event may show it. */
  redact(text: string): string {
    return redactPin(text);
  }
}
