import Mustache from 'mustache';

/**
 * SMS text templates. Mustache parses them; a small renderer of our own walks the tokens, because an SMS wants
 * no HTML escaping, must never call functions or reach prototype properties (`payload.constructor`), and prints
 * `{{payload}}` as the raw message text and a nested object as JSON.
 */

/** The variables a template may use; `payload.*` reaches any field of a JSON payload. */
export const TEMPLATE_VARIABLES = [
  'device.id',
  'device.name',
  'payload',
  'payload.*',
  'topic',
  'time',
  'rule.id',
  'alert.ref',
] as const;

const FIXED_NAMES = new Set<string>(TEMPLATE_VARIABLES.filter((v) => !v.endsWith('*')));

export interface TemplateView {
  device: { id: string; name: string } | undefined;
  /** the parsed JSON payload, or the raw text when it is not JSON (or was not parsed) */
  payload: unknown;
  /** the payload as received, for `{{payload}}` */
  rawPayload: string;
  topic: string;
  /** `YYYY-MM-DD HH:MM`, UTC */
  time: string;
  rule: { id: string };
  alert: { ref: string };
}

export interface CompiledTemplate {
  readonly source: string;
  /** uses `payload.<field>` (or a section over the payload), so the payload must be parsed as JSON */
  readonly needsJson: boolean;
  render(view: TemplateView): string;
}

// Mustache tokens: [type, name, start, end, children?]
export type Token = [string, string, number, number, Token[]?, ...unknown[]];

/** Compiles a template; throws an Error whose message says what is wrong (unknown variable, unclosed tag). */
export function compileTemplate(source: string): CompiledTemplate {
  const tokens = variableTokens(source) ?? (Mustache.parse(source) as unknown as Token[]);
  let needsJson = false;
  const check = (list: Token[], insidePayload: boolean, insideSection: boolean): void => {
    for (const token of list) {
      const [type, name] = token;
      if (type === '>') throw new Error(`partials ({{> ${name}}}) are not supported`);
      if (type !== 'name' && type !== '&' && type !== '#' && type !== '^') continue;
      const payloadName = name === 'payload' || name.startsWith('payload.');
      if (payloadName && (name !== 'payload' || type === '#' || type === '^' || insidePayload))
        needsJson = true;
      if (!insidePayload && !payloadName && !FIXED_NAMES.has(name) && !(name === '.' && insideSection)) {
        throw new Error(
          `unknown template variable '${name}'; expected one of ${TEMPLATE_VARIABLES.join(', ')}`,
        );
      }
      if (type === '#' || type === '^') check(token[4] ?? [], insidePayload || payloadName, true);
    }
  };
  check(tokens, false, false);
  return {
    source,
    needsJson,
    render: (view) => renderTokens(tokens, [view], view),
  };
}

/**
 * `{{ name }}`, `{{{ name }}}` or `{{& name }}` as Mustache reads them (its `\s*` inside the braces; a triple
 * ends at the first `}}}`), with a name of no blanks or braces
 */
const VARIABLE_TAG =
  /\{\{\s*(?:\{\s*([^\s{}]+)\s*\}\}\}|(?:(&)\s*([^\s{}]+)|([^\s{}#^/>&=!][^\s{}]*))\s*\}\})/y;

/**
 * The tokens Mustache.parse gives a template whose tags are all variables (most SMS texts), or undefined for
 * any other, which Mustache then reads, with its own errors. Mustache makes a token of each character of text
 * and joins them again: ~30 ms of CPU at start-up with 1,000 rules (BENCHMARKS.md, "Start-up: the rules").
 * A line with a variable tag is never standalone, so no whitespace is stripped from such a template.
 */
export function variableTokens(source: string): Token[] | undefined {
  const tokens: Token[] = [];
  let pos = 0;
  while (pos < source.length) {
    const open = source.indexOf('{{', pos);
    const textEnd = open === -1 ? source.length : open;
    if (textEnd > pos) tokens.push(['text', source.slice(pos, textEnd), pos, textEnd]);
    if (open === -1) break;
    VARIABLE_TAG.lastIndex = open;
    const tag = VARIABLE_TAG.exec(source);
    if (!tag) return undefined;
    const triple = tag[1];
    tokens.push(
      triple !== undefined
        ? ['&', triple, open, VARIABLE_TAG.lastIndex]
        : tag[2] !== undefined
          ? ['&', tag[3]!, open, VARIABLE_TAG.lastIndex]
          : ['name', tag[4]!, open, VARIABLE_TAG.lastIndex],
    );
    pos = VARIABLE_TAG.lastIndex;
  }
  return tokens;
}

function renderTokens(tokens: Token[], stack: unknown[], view: TemplateView): string {
  let out = '';
  for (const token of tokens) {
    const [type, name] = token;
    switch (type) {
      case 'text':
        out += name;
        break;
      case 'name':
      case '&':
        out += show(lookup(stack, name, view), view);
        break;
      case '#': {
        const value = lookup(stack, name, view);
        const children = token[4] ?? [];
        if (Array.isArray(value)) {
          for (const item of value) out += renderTokens(children, [...stack, item], view);
        } else if (value !== null && typeof value === 'object') {
          out += renderTokens(children, [...stack, value], view);
        } else if (value) {
          out += renderTokens(children, stack, view);
        }
        break;
      }
      case '^': {
        const value = lookup(stack, name, view);
        if (!value || (Array.isArray(value) && value.length === 0))
          out += renderTokens(token[4] ?? [], stack, view);
        break;
      }
      default:
        break; // comments, delimiter changes
    }
  }
  return out;
}

const RAW = Symbol('raw payload');

/** A name's dotted parts, split once per name (names come from the templates, not from messages). */
const PATHS = new Map<string, { head: string; rest: string[] }>();
/** More distinct names than any set of templates has: the cache starts again rather than grow. */
export const MAX_TEMPLATE_PATHS = 10_000;

function pathOf(name: string): { head: string; rest: string[] } {
  let path = PATHS.get(name);
  if (path === undefined) {
    const [head, ...rest] = name.split('.');
    path = { head: head!, rest };
    if (PATHS.size >= MAX_TEMPLATE_PATHS) PATHS.clear();
    PATHS.set(name, path);
  }
  return path;
}

/** Mustache name lookup (innermost context first), own properties only. */
function lookup(stack: unknown[], name: string, view: TemplateView): unknown {
  if (name === '.') return stack[stack.length - 1];
  const { head, rest } = pathOf(name);
  for (let i = stack.length - 1; i >= 0; i--) {
    const context = stack[i];
    if (context === null || typeof context !== 'object' || !Object.hasOwn(context, head)) continue;
    if (context === view && head === 'payload' && rest.length === 0) return RAW;
    let value: unknown = (context as Record<string, unknown>)[head];
    for (const key of rest) {
      if (value === null || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
      value = (value as Record<string, unknown>)[key];
    }
    return value;
  }
  return undefined;
}

function show(value: unknown, view: TemplateView): string {
  if (value === RAW) return view.rawPayload;
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `{{time}}`: `YYYY-MM-DD HH:MM` in UTC, the same on every server whatever its time zone. */
export function formatTime(date: Date): string {
  const minute = Math.floor(date.getTime() / 60_000);
  // the messages of one minute share it: made once a minute, not three strings a message
  if (minute !== lastMinute) {
    lastTime = date.toISOString().slice(0, 16).replace('T', ' ');
    lastMinute = minute;
  }
  return lastTime;
}
let lastMinute = Number.NaN;
let lastTime = '';
