import {
  constructFromEvents,
  defineMappingTag,
  defineScalarTag,
  EVENT_ID,
  type Event,
  NOT_RESOLVED,
  parseEvents,
  Schema,
  seqTag,
  strTag,
} from 'js-yaml';

/*
 * The fast path for reading YAML: js-yaml builds the value straight from its event stream, without `yaml`'s
 * located Document (the benchmark's 1,000-rule file, cold: about a third of the CPU). It gives the value `yaml`
 * would give, or declines and `yaml` reads the file as before (so every error message and position is
 * `yaml`'s). The schema below resolves plain scalars as `yaml`'s core schema does. Declined: anything js-yaml
 * rejects, more or less than one document, directives, tags, anchors and aliases, keys that are not strings,
 * `__proto__`, and the corners where the two parsers were found to differ (test/unit/config/yaml-fast.test.ts
 * fuzzes for them): implicit keys near `yaml`'s 1,024-character limit, tabs, lone carriage returns and block
 * scalars' indentation indicators.
 */

/** The plain scalars of `yaml`'s core schema (node_modules/yaml/dist/schema/core), resolved the same way. */
const nullTag = defineScalarTag<null>('tag:yaml.org,2002:null', {
  implicit: true,
  implicitFirstChars: ['', '~', 'n', 'N'],
  resolve: (s) => (/^(?:~|[Nn]ull|NULL)?$/.test(s) ? null : NOT_RESOLVED),
  identify: (v) => v === null,
});
const boolTag = defineScalarTag<boolean>('tag:yaml.org,2002:bool', {
  implicit: true,
  implicitFirstChars: ['t', 'T', 'f', 'F'],
  resolve: (s) => (/^(?:[Tt]rue|TRUE|[Ff]alse|FALSE)$/.test(s) ? s[0] === 't' || s[0] === 'T' : NOT_RESOLVED),
  identify: (v) => typeof v === 'boolean',
});
const DIGITS = [...'0123456789'];
const intTag = defineScalarTag<number>('tag:yaml.org,2002:int', {
  implicit: true,
  implicitFirstChars: ['-', '+', ...DIGITS],
  resolve: (s) => {
    if (/^0o[0-7]+$/.test(s)) return parseInt(s.substring(2), 8);
    if (/^[-+]?[0-9]+$/.test(s)) return parseInt(s, 10);
    if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.substring(2), 16);
    return NOT_RESOLVED;
  },
  identify: (v) => Number.isInteger(v),
});
const floatTag = defineScalarTag<number>('tag:yaml.org,2002:float', {
  implicit: true,
  implicitFirstChars: ['-', '+', '.', ...DIGITS],
  resolve: (s) => {
    if (/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/.test(s)) {
      if (s.slice(-3).toLowerCase() === 'nan') return Number.NaN;
      return s[0] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
    }
    if (/^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(s)) return parseFloat(s);
    if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(s)) return parseFloat(s);
    return NOT_RESOLVED;
  },
  identify: (v) => typeof v === 'number',
});
/** Plain objects as `yaml`'s toJS builds them; any other key declines (js-yaml would stringify it). */
const mapTag = defineMappingTag<Record<string, unknown>>('tag:yaml.org,2002:map', {
  create: () => ({}),
  addPair: (map, key, value) => {
    if (typeof key !== 'string' || key === '__proto__') return 'declined key';
    map[key] = value;
    return '';
  },
  has: (map, key) => typeof key === 'string' && Object.hasOwn(map, key),
  keys: (map) => Object.keys(map),
  get: (map, key) => map[key as string],
  identify: () => false,
});
const SCHEMA = new Schema([strTag, seqTag, mapTag, nullTag, boolTag, intTag, floatTag]);

/** `yaml` refuses an implicit key whose `:` is more than 1,024 characters after its start; stay well clear. */
const MAX_KEY_SPAN = 1000;
const NONE = -1;

/** The value of a one-document YAML text, or undefined when `yaml` has to read it. Never throws. */
export function fastYamlValue(text: string): { value: unknown } | undefined {
  // js-yaml takes some tabs next to indentation that `yaml` refuses (`  \t: v`); tabs are rare in YAML
  if (text.includes('\t')) return undefined;
  // and reads a block scalar's indentation indicator at the top level by the spec (`|1` is column 0), `yaml` not
  if (/[|>][-+]?[1-9]/.test(text)) return undefined;
  // a lone carriage return breaks a line in js-yaml (YAML 1.2 b-break) and is text in `yaml`; \r\n is fine
  if (/\r(?!\n)/.test(text)) return undefined;
  // an escaped line break followed by an empty line, in a double-quoted scalar: js-yaml folds it to one space,
  // `yaml` keeps two (and the spec a line feed); found by the mutation property test (seed 1950556576)
  if (/\\\r?\n *\r?\n/.test(text)) return undefined;
  // a byte order mark past the start is dropped by `yaml` and kept in the text by js-yaml (a key `\uFEFFtype`);
  // NEL and the Unicode line and paragraph separators are line breaks in YAML 1.1 only: left to `yaml`
  if (text.indexOf('\uFEFF', 1) !== -1 || /[\u0085\u2028\u2029]/.test(text)) return undefined;
  // document markers other than one `---` first and one `...` last (`...` then `...`: one document for js-yaml,
  // two for `yaml`), and 8-digit escapes past U+10FFFF (js-yaml takes \U1001F600, `yaml` refuses it)
  const markers = text.replace(/^---(?=[ \r\n])/, '').replace(/\n\.\.\.[ \r\n]*$/, '\n');
  if (/^(?:---|\.\.\.)/m.test(markers) || /\\U(?!000[0-9a-fA-F]{5}|0010[0-9a-fA-F]{4})/.test(text)) {
    return undefined;
  }
  let events: Event[];
  try {
    events = parseEvents(text, {});
  } catch {
    return undefined;
  }
  if (!plainEvents(text, events)) return undefined;
  try {
    const [value] = constructFromEvents(events, { source: text, schema: SCHEMA, maxAliases: 0 });
    return { value };
  } catch {
    return undefined;
  }
}

/** One document, no directive, tag, anchor or alias, no implicit key near the length limit. */
function plainEvents(text: string, events: readonly Event[]): boolean {
  let documents = 0;
  // per open node: NONE for a document or sequence, else the number of keys and values seen in the mapping
  const open: number[] = [];
  for (const e of events) {
    switch (e.type) {
      case EVENT_ID.DOCUMENT:
        if (++documents > 1 || e.directives.length > 0) return false;
        open.push(NONE);
        break;
      case EVENT_ID.POP:
        open.pop();
        break;
      case EVENT_ID.ALIAS:
        return false;
      default: {
        if (e.tagStart !== NONE || e.anchorStart !== NONE) return false;
        const top = open.length - 1;
        const seen = open[top] ?? NONE;
        if (seen !== NONE) {
          open[top] = seen + 1;
          if (
            seen % 2 === 0 &&
            e.type === EVENT_ID.SCALAR &&
            keySpan(text, e.valueStart, e.valueEnd) > MAX_KEY_SPAN
          )
            return false;
        }
        if (e.type !== EVENT_ID.SCALAR) open.push(e.type === EVENT_ID.MAPPING ? 0 : NONE);
      }
    }
  }
  return documents === 1;
}

/** From a key's first character to the `:` after it (past a closing quote and blanks). */
function keySpan(text: string, start: number, end: number): number {
  if (start === NONE) return 0;
  let i = end;
  if (text[i] === '"' || text[i] === "'") i++;
  while (text[i] === ' ' || text[i] === '\t') i++;
  return i - start;
}
