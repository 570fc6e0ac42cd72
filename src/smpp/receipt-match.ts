import type {
  ParkedReceipt,
  PartRef,
  ReceiptOutcome,
  ReceiptResult,
  SmsRecord,
  SubmittedPart,
  Tx,
} from '../store/store.js';
import { canonicalId, chooseOwner, lookupKeys, type MessageIdFormat } from './message-id.js';

/** A part waits this long for its receipt; older parts are not candidates (an SMSC may reuse its ids). */
export const RECEIPT_WINDOW_MS = 3 * 86_400_000;
/**
 * In `auto`, a hex <-> decimal reading is tried only for a receipt parked this long: until then its real owner's
 * submit may simply not be recorded yet, and the other reading would find another SMS (`a` is 10; hex `10` is 16).
 */
export const AUTO_CONVERSION_GRACE_MS = 2_000;

export interface IncomingReceipt extends ReceiptOutcome {
  connectionId: string;
  /** the id as the receipt gives it */
  receiptId: string;
  format: MessageIdFormat;
  receivedAt: number;
}

export type ReceiptMatch =
  | { kind: 'applied'; result: ReceiptResult; via: 'exact' | 'alternate' }
  | { kind: 'ambiguous'; candidates: PartRef[] }
  | { kind: 'parked' }
  | { kind: 'none' };

const ref = (p: PartRef) => `${p.smsId}:${p.seq}`;

/**
 * Settles the part a receipt names, inside the caller's transaction: the id exactly as the SMSC gave it first;
 * another reading only where the connection's `message_id_format` allows and exactly one part on that connection
 * could own it. An ambiguous receipt settles nothing. One that no part owns yet is parked (`park`), to be
 * matched again when a submit on that connection is recorded.
 */
export async function matchReceipt(
  tx: Tx,
  r: IncomingReceipt,
  park: boolean,
  convert = r.format !== 'auto',
): Promise<ReceiptMatch> {
  const looked = lookupKeys(r.receiptId, r.format);
  // A connection set to hex_to_decimal or decimal_to_hex says the receipt is in the other base: the same string
  // in the submit's base is another number (decimal `10` vs hex `10`), so only the converted reading counts.
  const explicit = r.format === 'hex_to_decimal' || r.format === 'decimal_to_hex';
  const all =
    explicit && looked.some((k) => k.kind === 'alternate')
      ? looked.filter((k) => k.kind === 'alternate')
      : looked;
  // case and leading zeros are the same number in the same base: always safe; another base only when allowed
  const canonical = canonicalId(r.receiptId);
  const keys = convert ? all : all.filter((k) => k.kind === 'exact' || k.key === canonical);
  const exact = keys.filter((k) => k.kind === 'exact').map((k) => k.key);
  const alternate = keys.filter((k) => k.kind === 'alternate').map((k) => k.key);
  const found = await tx.outbox.awaitingReceipt(
    r.connectionId,
    exact,
    alternate,
    r.receivedAt - RECEIPT_WINDOW_MS,
  );
  const parts = new Map([...found.exact, ...found.alternate].map((p) => [ref(p), p]));
  const choice = chooseOwner(found.exact.map(ref), found.alternate.map(ref), r.format);
  if ('owner' in choice) {
    const result = await tx.outbox.settlePart(parts.get(choice.owner)!, r);
    return { kind: 'applied', result, via: choice.via };
  }
  if ('ambiguous' in choice)
    return { kind: 'ambiguous', candidates: choice.ambiguous.map((k) => parts.get(k)!) };
  if (!park || all.length === 0) return { kind: 'none' };
  await tx.outbox.parkReceipt(
    {
      connectionId: r.connectionId,
      receiptId: r.receiptId,
      format: r.format,
      state: r.state,
      stat: r.stat,
      errorCode: r.errorCode,
      receivedAt: r.receivedAt,
    },
    all,
  );
  return { kind: 'parked' };
}

/** What matching parked receipts again settled, and the ones that turned out ambiguous (dropped). */
export interface Rematched {
  settled: SmsRecord[];
  ambiguous: Array<{ receipt: ParkedReceipt; candidates: PartRef[] }>;
}

export interface SubmitRecorded extends Rematched {
  submitted: SmsRecord;
}

/** Matches parked receipts again; each that now finds an owner (or several) leaves the park. */
async function rematch(tx: Tx, parked: ParkedReceipt[], convert: boolean, out: Rematched): Promise<void> {
  for (const receipt of parked) {
    const format = receipt.format as MessageIdFormat;
    const match = await matchReceipt(tx, { ...receipt, format }, false, convert || format !== 'auto');
    if (match.kind === 'none') continue;
    await tx.outbox.dropParked(receipt.id);
    if (match.kind === 'applied' && match.result.changed) out.settled.push(match.result.sms);
    if (match.kind === 'ambiguous') out.ambiguous.push({ receipt, candidates: match.candidates });
  }
}

/** Records a submit and applies the parked receipts it resolves, in one transaction (`seen`: `markSubmitted`). */
export async function recordSubmit(
  tx: Tx,
  id: number,
  connectionId: string,
  parts: SubmittedPart[],
  seen?: SmsRecord,
): Promise<SubmitRecorded> {
  const submitted = await tx.outbox.markSubmitted(id, connectionId, parts, seen);
  const out: SubmitRecorded = { submitted, settled: [], ambiguous: [] };
  const exact: string[] = [];
  const alternate: string[] = [];
  for (const p of parts) {
    exact.push(p.messageId);
    if (p.alternate !== undefined) alternate.push(p.alternate);
  }
  const parked = await tx.outbox.parkedFor(connectionId, exact, alternate);
  // nearly always none (no receipt overtook its submit): no second pass to await
  if (parked.length > 0) await rematch(tx, parked, false, out);
  return out;
}

/**
 * The parked receipts' second chance: those of `auto` connections parked past the grace period are matched with
 * every reading; the ones too old or too many are dropped as orphans.
 */
export async function sweepParked(
  tx: Tx,
  now: number,
  maxAgeMs: number,
  max: number,
): Promise<Rematched & { orphans: ParkedReceipt[] }> {
  const out: Rematched = { settled: [], ambiguous: [] };
  const due = await tx.outbox.parkedBefore(now - AUTO_CONVERSION_GRACE_MS);
  await rematch(
    tx,
    due.filter((r) => r.format === 'auto'),
    true,
    out,
  );
  return { ...out, orphans: await tx.outbox.expireParked(now - maxAgeMs, max) };
}

/** The one log line for a receipt that more than one SMS could own. */
export function logAmbiguous(
  log: { warn(fields: object, message: string): void },
  receiptId: string,
  connectionId: string,
  candidates: PartRef[],
): void {
  log.warn(
    { message_id: receiptId, connection: connectionId, candidates },
    'receipt could belong to more than one SMS; applied to none',
  );
}
