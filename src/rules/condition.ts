import { compileExpression } from 'filtrex';
import { RE2JS } from 're2js';
import { PayloadFields } from './payload-fields.js';

/**
 * `when:` conditions: filtrex expressions over the fields of a JSON payload (`temp > 90 and state == "running"`).
 * filtrex compiles to a function with no access to globals; `a.b` reads nested fields and a missing field is
 * `undefined`, so `exists(temp)` works and `temp > 90` on a payload without `temp` is an error, not a match.
 */

/**
 * Own properties only. filtrex 3.1's `useDotAccessOperatorAndOptionalChaining` reads `obj[name]`, so
 * `constructor` or `__proto__` would reach the prototype; this one does not.
 */
function ownField(name: string, _get: unknown, data: unknown, type: 'unescaped' | 'single-quoted'): unknown {
  // most names are one level: no split (an array per field read) for them
  if (type === 'single-quoted' || !name.includes('.')) return own(data, name);
  const [first, ...rest] = name.split('.');
  let value = own(data, first!);
  for (const key of rest) value = own(value, key);
  return value;
}

function own(value: unknown, key: string): unknown {
  if (value instanceof PayloadFields) return value.get(key);
  if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
  return (value as Record<string, unknown>)[key];
}

/**
 * filtrex 3.1 unwraps a one-element array before comparing (`[95] > 90` is true) and compiles `~=` with the
 * backtracking RegExp. Payloads come from devices: a comparison or arithmetic takes numbers (or, for `+`, two
 * strings) as they are, anything else is an error; `~=` runs on RE2 (linear time).
 */
function strictNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  throw new TypeError(`expected a number, got ${describe(value)}`);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (value === undefined) return 'nothing (missing field)';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

function compare(a: unknown, b: unknown): [number, number] | [string, string] {
  if (typeof a === 'string' && typeof b === 'string') return [a, b];
  return [strictNumber(a), strictNumber(b)];
}

const STRICT_OPERATORS = {
  '+': (a: unknown, b: unknown): number | string => {
    const [x, y] = compare(a, b);
    return typeof x === 'string' ? x + y : x + (y as number);
  },
  '==': (a: unknown, b: unknown) => a === b,
  '!=': (a: unknown, b: unknown) => a !== b,
  '-': (a: unknown, b: unknown) => (b === undefined ? -strictNumber(a) : strictNumber(a) - strictNumber(b)),
  '*': (a: unknown, b: unknown) => strictNumber(a) * strictNumber(b),
  '/': (a: unknown, b: unknown) => strictNumber(a) / strictNumber(b),
  '^': (a: unknown, b: unknown) => strictNumber(a) ** strictNumber(b),
  mod: (a: unknown, b: unknown) => {
    const m = strictNumber(b);
    return ((strictNumber(a) % m) + m) % m;
  },
  '<': (a: unknown, b: unknown) => {
    const [x, y] = compare(a, b);
    return x < y;
  },
  '<=': (a: unknown, b: unknown) => {
    const [x, y] = compare(a, b);
    return x <= y;
  },
  '>': (a: unknown, b: unknown) => {
    const [x, y] = compare(a, b);
    return x > y;
  },
  '>=': (a: unknown, b: unknown) => {
    const [x, y] = compare(a, b);
    return x >= y;
  },
  '~=': (a: unknown, b: unknown) => {
    if (typeof a !== 'string' || typeof b !== 'string')
      throw new TypeError('~= compares text with a pattern');
    return RE2JS.compile(b).matcher(a).find();
  },
};

export const CONDITION_FUNCTIONS = [
  'abs',
  'ceil',
  'empty',
  'exists',
  'floor',
  'log',
  'log2',
  'log10',
  'max',
  'min',
  'round',
  'sqrt',
] as const;

const KNOWN_FUNCTIONS = new Set<string>(CONDITION_FUNCTIONS);
const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'of', 'if', 'then', 'else', 'mod']);

export type ConditionResult = { ok: true; match: boolean } | { ok: false; error: string };
// shared: a condition runs for every message its rule's topic matches
const MATCH: ConditionResult = Object.freeze({ ok: true, match: true });
const NO_MATCH: ConditionResult = Object.freeze({ ok: true, match: false });
/** A JSON object payload: parsed, or its fields read as needed (see PayloadFields). */
export type Payload = Record<string, unknown> | PayloadFields;
/**
 * `field`: the one top-level field the condition reads, when that is known (`field op number`). `numberTest`:
 * the condition's answer when that field (one level) holds a number, which is never an error.
 */
export type Condition = ((data: Payload) => ConditionResult) & {
  readonly field?: string | undefined;
  readonly numberTest?: ((value: number) => boolean) | undefined;
};

/** Compiles `expression`; throws an Error saying what is wrong with it. */
export function compileCondition(expression: string): Condition {
  checkFunctions(expression);
  let fn: (data: unknown) => unknown;
  try {
    fn = compileExpression(expression, { customProp: ownField, operators: STRICT_OPERATORS });
  } catch (err) {
    throw new Error(explainSyntaxError((err as Error).message));
  }
  const fast = comparison(expression);
  if (fast) return fast;
  return (data) => {
    let value: unknown;
    try {
      value = fn(data);
    } catch (err) {
      value = err;
    }
    // filtrex 3 returns runtime errors (wrong type, unknown property) rather than throwing them
    if (value instanceof Error) return { ok: false, error: value.message };
    return value ? MATCH : NO_MATCH;
  };
}

/** `field op number`, as filtrex lexes it (its identifier and number tokens; `\s+` between) */
const COMPARISON = /^\s*([a-zA-Z$_][.a-zA-Z0-9$_]*)\s*(==|!=|>=|<=|<|>)\s*([0-9]+(?:\.[0-9]+)?)\s*$/;

/** The comparisons of `field op number` on a number field: what STRICT_OPERATORS answers for two numbers. */
const NUMBER_TESTS = {
  '==': (a: number, b: number) => a === b,
  '!=': (a: number, b: number) => a !== b,
  '>=': (a: number, b: number) => a >= b,
  '<=': (a: number, b: number) => a <= b,
  '<': (a: number, b: number) => a < b,
  '>': (a: number, b: number) => a > b,
};

/**
 * The most common `when` (`temp > 90`) without filtrex's per-call closures: the same field read and the same
 * operator on the same number, so the same answer and the same errors. A number field is compared directly;
 * anything else goes through the strict operator (its error). Undefined for any other expression.
 */
function comparison(expression: string): Condition | undefined {
  const m = COMPARISON.exec(expression);
  if (!m) return undefined;
  const name = m[1]!;
  // filtrex lexes a keyword followed by a non-word character (`in.x`, `mod`) as the keyword
  if (KEYWORDS.has(name.split('.')[0]!.toLowerCase())) return undefined;
  const op = m[2] as keyof typeof NUMBER_TESTS;
  const operator = STRICT_OPERATORS[op];
  const test = NUMBER_TESTS[op];
  const literal = Number(m[3]);
  const nested = name.includes('.');
  const condition = (data: Payload): ConditionResult => {
    const value = nested ? ownField(name, undefined, data, 'unescaped') : own(data, name);
    if (typeof value === 'number') return test(value, literal) ? MATCH : NO_MATCH;
    try {
      return operator(value, literal) ? MATCH : NO_MATCH;
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  };
  return Object.assign(condition, {
    field: name.split('.')[0]!,
    numberTest: nested ? undefined : (value: number) => test(value, literal),
  });
}

// filtrex only notices an unknown function when the call is evaluated, which a short-circuit may skip.
function checkFunctions(expression: string): void {
  const code = expression.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  for (const m of code.matchAll(/([A-Za-z_$][\w$.]*)\s*\(/g)) {
    const name = m[1]!;
    if (KEYWORDS.has(name.toLowerCase()) || KNOWN_FUNCTIONS.has(name)) continue;
    throw new Error(`unknown function '${name}()'; available: ${CONDITION_FUNCTIONS.join(', ')}`);
  }
}

/** Jison's four-line "Parse error on line 1: / text / ---^ / Expecting ..." as one line. */
function explainSyntaxError(message: string): string {
  const lines = message.split('\n');
  const pointer = lines[2];
  if (!lines[0]?.startsWith('Parse error') || pointer === undefined) {
    return `invalid expression: ${message.replace(/\s*\n\s*/g, ' ')}`;
  }
  const column = pointer.indexOf('^') + 1;
  const expecting = lines[3] ? `: ${lines[3].replace(/^Expecting /, 'expected ')}` : '';
  return `invalid expression at character ${column}${expecting}`;
}
