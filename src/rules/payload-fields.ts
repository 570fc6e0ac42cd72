/**
 * The top-level fields of a JSON object payload, found by one pass over its bytes and decoded only when a
 * condition reads them: most telemetry is a flat object of which a `when` reads one or two fields, and neither
 * the UTF-8 decoding of the whole payload nor an object with every field is needed to decide it.
 *
 * `scan` accepts only what `JSON.parse` accepts (RFC 8259) and only the plain case: an object whose keys are
 * ASCII without escapes, nested at most `MAX_DEPTH` deep. Anything else, valid or not, returns undefined and the
 * caller parses with `JSON.parse` as before, so every verdict on a payload that is not plain is `JSON.parse`'s.
 */

const MAX_DEPTH = 32;
/** fields remembered per payload; an object with more is left to JSON.parse */
const MAX_FIELDS = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const PLUS = 0x2b;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

/** the byte at `i`, or -1 past the end (a typed array read out of bounds gives undefined, which deoptimises) */
const at = (b: Uint8Array, i: number): number => (i < b.length ? b[i]! : -1);
const isDigit = (c: number): boolean => c >= ZERO && c <= NINE;
// RFC 8259 §2: space, tab, line feed, carriage return
const isSpace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i]!)) i++;
  return i;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** End (exclusive) of the string whose opening quote is at `i`, or -1; -(end) - 2 when it holds a `\`. */
function skipString(b: Uint8Array, i: number): number {
  let escaped = false;
  for (i++; i < b.length; i++) {
    const c = b[i]!;
    if (c === QUOTE) return escaped ? -(i + 1) - 2 : i + 1;
    if (c < 0x20) return -1; // RFC 8259 §7: control characters must be escaped
    if (c !== BACKSLASH) continue;
    escaped = true;
    const e = at(b, ++i);
    if (e === 0x75) {
      // \uXXXX
      for (let k = 0; k < 4; k++) if (!isHex(at(b, ++i))) return -1;
    } else if (
      !(
        e === QUOTE ||
        e === BACKSLASH ||
        e === 0x2f ||
        e === 0x62 ||
        e === 0x66 ||
        e === 0x6e ||
        e === 0x72 ||
        e === 0x74
      )
    ) {
      return -1;
    }
  }
  return -1;
}

/** RFC 8259 §6: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; end (exclusive) or -1 */
function skipNumber(b: Uint8Array, i: number): number {
  if (at(b, i) === MINUS) i++;
  const first = at(b, i);
  if (first === ZERO) i++;
  else if (isDigit(first)) while (isDigit(at(b, i))) i++;
  else return -1;
  if (at(b, i) === DOT) {
    i++;
    if (!isDigit(at(b, i))) return -1;
    while (isDigit(at(b, i))) i++;
  }
  const e = at(b, i);
  if (e === 0x65 || e === 0x45) {
    i++;
    const sign = at(b, i);
    if (sign === PLUS || sign === MINUS) i++;
    if (!isDigit(at(b, i))) return -1;
    while (isDigit(at(b, i))) i++;
  }
  return i;
}

function skipWord(b: Uint8Array, i: number, word: string): number {
  for (let k = 0; k < word.length; k++) if (at(b, i + k) !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/** End (exclusive) of the JSON value starting at `i` (no leading space), or -1 if it is not one. */
function skipValue(b: Uint8Array, i: number, depth: number): number {
  const c = at(b, i);
  if (c === QUOTE) {
    const end = skipString(b, i);
    return end < -1 ? -end - 2 : end;
  }
  if (c === MINUS || isDigit(c)) return skipNumber(b, i);
  if (c === 0x74) return skipWord(b, i, 'true');
  if (c === 0x66) return skipWord(b, i, 'false');
  if (c === 0x6e) return skipWord(b, i, 'null');
  if (c !== OPEN_OBJECT && c !== OPEN_ARRAY) return -1;
  if (depth >= MAX_DEPTH) return -1;
  const object = c === OPEN_OBJECT;
  const close = object ? CLOSE_OBJECT : CLOSE_ARRAY;
  i = skipSpace(b, i + 1);
  if (at(b, i) === close) return i + 1;
  for (;;) {
    if (object) {
      if (at(b, i) !== QUOTE) return -1;
      i = skipString(b, i);
      if (i === -1) return -1;
      if (i < -1) i = -i - 2;
      i = skipSpace(b, i);
      if (at(b, i) !== COLON) return -1;
      i = skipSpace(b, i + 1);
    }
    i = skipValue(b, i, depth + 1);
    if (i < 0) return -1;
    i = skipSpace(b, i);
    const next = at(b, i);
    if (next === close) return i + 1;
    if (next !== COMMA) return -1;
    i = skipSpace(b, i + 1);
  }
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * The number `JSON.parse` gives for the valid JSON number in `b[start, end)`. Digits that fit a double exactly
 * divided by an exact power of ten round once, as the full conversion does (Clinger's fast path); longer ones
 * and exponents go to `Number()`.
 */
function numberAt(b: Buffer, start: number, end: number): number {
  let i = start;
  const negative = b[i] === MINUS;
  if (negative) i++;
  let digits = 0;
  let scale = -1;
  for (; i < end; i++) {
    const c = b[i]!;
    if (c === DOT) {
      scale = 0;
      continue;
    }
    if (!isDigit(c) || digits >= 1e14 || scale >= 22) return Number(b.toString('latin1', start, end));
    digits = digits * 10 + (c - ZERO);
    if (scale >= 0) scale++;
  }
  const value = scale > 0 ? digits / POWERS_OF_TEN[scale]! : digits;
  return negative ? -value : value;
}

/** Set by `walk`: where the value of the last field named `hint` starts and ends (see PayloadFields.positions). */
let hintStart = -1;
let hintEnd = 0;

function sameKey(b: Buffer, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let k = 0; k < name.length; k++) if (b[start + k] !== name.charCodeAt(k)) return false;
  return true;
}

/**
 * Whether `b` is a plain JSON object (see above). Each field's positions go to `positions` when given; else only
 * those of the last field named `hint` are kept (in `hintStart`, `hintEnd`; `hintStart` -1 when there is none).
 */
function walk(b: Buffer, hint: string | undefined, positions: number[] | undefined): boolean {
  hintStart = -1;
  let fields = 0;
  let i = skipSpace(b, 0);
  if (at(b, i) !== OPEN_OBJECT) return false;
  i = skipSpace(b, i + 1);
  if (at(b, i) === CLOSE_OBJECT) i++;
  else {
    for (;;) {
      if (at(b, i) !== QUOTE) return false;
      const keyStart = i + 1;
      for (i = keyStart; i < b.length && b[i] !== QUOTE; i++) {
        const c = b[i]!;
        if (c === BACKSLASH || c < 0x20 || c >= 0x80) return false; // left to JSON.parse
      }
      if (i >= b.length) return false;
      const keyEnd = i;
      i = skipSpace(b, i + 1);
      if (at(b, i) !== COLON) return false;
      const valueStart = skipSpace(b, i + 1);
      let escaped = false;
      if (at(b, valueStart) === QUOTE) {
        i = skipString(b, valueStart);
        escaped = i < -1;
        if (escaped) i = -i - 2;
      } else i = skipValue(b, valueStart, 1);
      if (i < 0 || ++fields > MAX_FIELDS) return false;
      const valueEnd = escaped ? -i : i;
      if (positions !== undefined) positions.push(keyStart, keyEnd, valueStart, valueEnd);
      else if (hint !== undefined && sameKey(b, keyStart, keyEnd, hint)) {
        hintStart = valueStart;
        hintEnd = valueEnd;
      }
      i = skipSpace(b, i);
      if (at(b, i) === CLOSE_OBJECT) {
        i++;
        break;
      }
      if (at(b, i) !== COMMA) return false;
      i = skipSpace(b, i + 1);
    }
  }
  return skipSpace(b, i) === b.length;
}

export class PayloadFields {
  private lastName: string | undefined;
  private lastValue: unknown;

  private constructor(
    private readonly bytes: Buffer,
    /**
     * per field: key start, key end, value start, value end (exclusive), in payload order; the value end is
     * negated for a string with an escape (one array rather than two). Made on the first read of a field other
     * than the hint: most payloads are read for one field, and an array per message is not free.
     */
    private positions: number[] | undefined,
    private readonly hint: string | undefined,
    private readonly hintStart: number,
    private readonly hintEnd: number,
  ) {}

  /**
   * The fields of `payload` when it is a plain JSON object (see above); undefined: use JSON.parse. `hint`: the
   * field the caller will read (the rules of a topic that all test one field), located in the same pass.
   */
  static scan(payload: Buffer, hint?: string): PayloadFields | undefined {
    const positions = hint === undefined ? [] : undefined;
    if (!walk(payload, hint, positions)) return undefined;
    return new PayloadFields(payload, positions, hint, hintStart, hintEnd);
  }

  /**
   * The number `JSON.parse` would give the field `name` of `payload` (the last one), with no object made;
   * undefined when the payload is not plain (see above), the field is absent or its value is not a number.
   */
  static numberField(payload: Buffer, name: string): number | undefined {
    if (!walk(payload, name, undefined) || hintStart < 0) return undefined;
    const c = payload[hintStart]!;
    return c === MINUS || isDigit(c) ? numberAt(payload, hintStart, hintEnd) : undefined;
  }

  /** The value `JSON.parse` would give the field `name` (the last one, as there), undefined when absent. */
  get(name: string): unknown {
    // the rules on one topic tend to read the same field (several thresholds on `temp`)
    if (name === this.lastName) return this.lastValue;
    this.lastValue = name === this.hint ? this.valueAt(this.hintStart, this.hintEnd) : this.find(name);
    this.lastName = name;
    return this.lastValue;
  }

  private find(name: string): unknown {
    const b = this.bytes;
    let at = this.positions;
    if (at === undefined) {
      at = [];
      walk(b, undefined, at); // the payload passed the same walk in scan
      this.positions = at;
    }
    for (let f = at.length - 4; f >= 0; f -= 4) {
      if (sameKey(b, at[f]!, at[f + 1]!, name)) return this.valueAt(at[f + 2]!, at[f + 3]!);
    }
    return undefined;
  }

  /** the value at `start` (-1: no such field) up to `end`, negated for a string with an escape */
  private valueAt(start: number, end: number): unknown {
    if (start < 0) return undefined;
    return end < 0 ? this.value(start, -end, true) : this.value(start, end, false);
  }

  private value(start: number, end: number, escaped: boolean): unknown {
    const b = this.bytes;
    const c = b[start];
    if (c === QUOTE && !escaped) return b.toString('utf8', start + 1, end - 1);
    if (c === MINUS || (c !== undefined && isDigit(c))) return numberAt(b, start, end);
    if (c === 0x74) return true;
    if (c === 0x66) return false;
    if (c === 0x6e) return null;
    // an object, an array or a string with escapes: valid JSON on its own
    return JSON.parse(b.toString('utf8', start, end));
  }
}
