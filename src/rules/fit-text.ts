import { decodeText } from '../smpp/encoding.js';
import { splitSms } from '../smpp/segment.js';

/** SMS parts a rule's text may take when neither the rule nor the caller says. The segmenter's default. */
export const DEFAULT_MAX_PARTS = 4;

// No part carries more than 160 septets / 70 UCS2 units, and every character costs at least one.
const MOST_UNITS_PER_PART = 160;

/**
 * The text cut to what `maxParts` SMS parts carry, with the segmenter's own ellipsis, so that what is stored
 * is what is sent. A text that fits comes back unchanged. Cost is bounded by `maxParts`, not by the text.
 */
export function fitToParts(text: string, maxParts = DEFAULT_MAX_PARTS): string {
  const bound = Math.max(1, maxParts) * MOST_UNITS_PER_PART + 1;
  let head = text;
  if (head.length > bound) {
    head = head.slice(0, bound);
    // never leave half a surrogate pair behind
    if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  }
  const split = splitSms(head, { maxParts, reference: 0 });
  if (!split.truncated && head === text) return text;
  return split.parts
    .map((p) => {
      const body = p.udhi ? p.shortMessage.subarray(p.shortMessage[0]! + 1) : p.shortMessage;
      return decodeText(body, p.dataCoding);
    })
    .join('');
}
