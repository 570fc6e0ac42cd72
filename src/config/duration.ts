import { z } from 'zod';

const UNIT_MS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
type Unit = keyof typeof UNIT_MS;
const UNIT_ORDER: readonly Unit[] = ['d', 'h', 'm', 's', 'ms'];
const PART = /(\d+(?:\.\d+)?)(ms|d|h|m|s)/y;

export const DURATION_HINT = 'a duration like 500ms, 30s, 5m, 1h30m, 2d or a number of milliseconds';

/**
 * Parses `500ms`, `30s`, `5m`, `1h`, `2d` and combinations from the largest unit down (`1h30m`) into
 * milliseconds. Strict: no spaces, no repeated or out-of-order units, no bare numbers (write `500ms`).
 * Returns undefined when the text is not a duration.
 */
export function parseDuration(text: string): number | undefined {
  if (text.length === 0) return undefined;
  let ms = 0;
  let pos = 0;
  let lastRank = -1;
  while (pos < text.length) {
    PART.lastIndex = pos;
    const m = PART.exec(text);
    if (!m) return undefined;
    const unit = m[2] as Unit;
    const rank = UNIT_ORDER.indexOf(unit);
    if (rank <= lastRank) return undefined;
    lastRank = rank;
    ms += Number(m[1]) * UNIT_MS[unit];
    pos = PART.lastIndex;
  }
  return Math.round(ms);
}

/** A duration from a string (`30s`) or a number of milliseconds; the output is milliseconds. */
export const durationSchema = z.unknown().transform((value, ctx): number => {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const ms = typeof value === 'string' ? parseDuration(value) : undefined;
  if (ms !== undefined) return ms;
  ctx.issues.push({
    code: 'custom',
    input: value,
    message: `expected ${DURATION_HINT}, got ${typeof value === 'string' ? `'${value}'` : (JSON.stringify(value) ?? 'nothing')}`,
  });
  return z.NEVER;
});
