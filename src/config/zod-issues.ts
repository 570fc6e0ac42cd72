import type { z } from 'zod';
import type { FileIssue } from '../errors.js';
import type { YamlPath, YamlSource } from './yaml.js';

type RawIssue = z.core.$ZodRawIssue;

export interface ValidateOptions {
  /** Where the validated value sits in the document, e.g. `['rules', 3]`. */
  at?: YamlPath;
  /** Text put before the message of an issue at `path`, e.g. which environment variable set the value. */
  note?: (path: YamlPath) => string | undefined;
  /**
   * The schema is validated once per load (the bridge config): without zod's per-object fast path, which
   * zod compiles with `new Function` on each object schema's first parse, outside the code cache, and which
   * costs more than it saves on one value (BENCHMARKS.md, "Start-up: the rules"). Default `false`.
   */
  once?: boolean;
}

export type Validated<T> = { ok: true; data: T } | { ok: false; issues: FileIssue[] };

const EVERY = { error: explainIssue };
const ONCE = { error: explainIssue, jitless: true };

/** Validates with zod and turns every issue (not only the first) into a located FileIssue. */
export function validate<S extends z.ZodType>(
  schema: S,
  value: unknown,
  source: YamlSource,
  options: ValidateOptions = {},
): Validated<z.output<S>> {
  const result = schema.safeParse(value, options.once ? ONCE : EVERY);
  if (result.success) return { ok: true, data: result.data };
  const at = options.at ?? [];
  const issues: FileIssue[] = [];
  for (const issue of result.error.issues) {
    const path = [...at, ...(issue.path as Array<string | number>)];
    if (issue.code === 'unrecognized_keys') {
      const lines = issue.message.split('\n');
      issue.keys.forEach((key, i) => {
        const keyPath = [...path, key];
        issues.push(
          source.issue(keyPath, withNote(options, keyPath, lines[i] ?? `unknown key '${key}'`), true),
        );
      });
    } else {
      issues.push(source.issue(path, withNote(options, path, issue.message)));
    }
  }
  return { ok: false, issues };
}

/** Issues in reading order: by file (in `fileOrder` when given), then line and column. */
export function sortIssues(issues: readonly FileIssue[], fileOrder: readonly string[] = []): FileIssue[] {
  const rank = (file: string) => {
    const i = fileOrder.indexOf(file);
    return i === -1 ? fileOrder.length : i;
  };
  return [...issues].sort(
    (a, b) => rank(a.file) - rank(b.file) || a.file.localeCompare(b.file) || a.line - b.line || a.col - b.col,
  );
}

function withNote(options: ValidateOptions, path: YamlPath, message: string): string {
  const note = options.note?.(path);
  return note ? `${note}: ${message}` : message;
}

/** Messages that say what was expected and what was found; schema-level messages take precedence. */
export function explainIssue(issue: RawIssue): string | undefined {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return `missing required key (expected ${typeName(issue.expected)})`;
      return `expected ${typeName(issue.expected)}, got ${describe(issue.input)}`;
    case 'invalid_value': {
      const values = issue.values.map((v) => (typeof v === 'string' ? v : String(v)));
      const expected = values.length === 1 ? values[0] : `one of ${values.join('|')}`;
      return `expected ${expected}, got ${describe(issue.input)}`;
    }
    case 'too_small':
    case 'too_big':
      return explainBound(issue);
    case 'unrecognized_keys':
      return issue.keys.map((key) => unknownKeyMessage(key, knownKeys(issue.inst))).join('\n');
    case 'not_multiple_of':
      return `expected a multiple of ${String(issue.divisor)}, got ${describe(issue.input)}`;
    case 'invalid_union':
      return `got ${describe(issue.input)}, which matches none of the allowed forms`;
    default:
      return undefined;
  }
}

function explainBound(issue: Extract<RawIssue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const limit = Number(
    small ? (issue as { minimum: number }).minimum : (issue as { maximum: number }).maximum,
  );
  const inclusive = issue.inclusive !== false;
  const got = describe(issue.input);
  switch (issue.origin) {
    case 'string':
      if (small && limit === 1) return 'must not be empty';
      return `expected ${small ? 'at least' : 'at most'} ${limit} characters, got ${String(issue.input).length}`;
    case 'array':
    case 'set':
      return `expected ${small ? 'at least' : 'at most'} ${limit} item(s), got ${(issue.input as unknown[]).length}`;
    default: {
      const op = small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<';
      return `expected a number ${op} ${limit}, got ${got}`;
    }
  }
}

function typeName(expected: string): string {
  switch (expected) {
    case 'object':
    case 'record':
    case 'map':
      return 'a map';
    case 'array':
    case 'tuple':
    case 'set':
      return 'a list';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'string':
    case 'number':
      return `a ${expected}`;
    default:
      return expected;
  }
}

/** How a found value is shown in a message: strings quoted, collections by kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'an empty value';
  if (typeof value === 'string') return `'${value.length > 60 ? `${value.slice(0, 57)}...` : value}'`;
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return String(value);
}

function knownKeys(inst: unknown): string[] {
  const shape = (inst as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def
    ?.shape;
  return shape ? Object.keys(shape) : [];
}

function unknownKeyMessage(key: string, known: string[]): string {
  if (known.length === 0) return `unknown key '${key}'`;
  const near = closest(key, known);
  return near
    ? `unknown key '${key}' (did you mean '${near}'?)`
    : `unknown key '${key}'; expected one of ${known.join(', ')}`;
}

/** The known word within a small edit distance of `word`, if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  for (const candidate of candidates) {
    const d = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Edit distance counting a swap of neighbours as one edit (`prot` -> `port` is 1). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
