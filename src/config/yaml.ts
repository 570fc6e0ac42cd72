import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Document, LineCounter, Node } from 'yaml';
import { BridgeError, type FileIssue } from '../errors.js';
import { fastYamlValue } from './yaml-fast.js';

export type YamlPath = ReadonlyArray<string | number>;

const require = createRequire(import.meta.url);
let yamlModule: typeof import('yaml') | undefined;
/**
 * `yaml` (its CommonJS build), loaded on first use: a valid file is read by the fast path, so a start-up that
 * finds nothing to report never loads it.
 */
export function yamlLib(): typeof import('yaml') {
  yamlModule ??= require('yaml') as typeof import('yaml');
  return yamlModule;
}

/** A parsed YAML file that can say where any path of its value sits. */
export class YamlSource {
  private parsed: { doc: Document; lineCounter: LineCounter } | undefined;

  constructor(
    readonly file: string,
    private readonly text: string,
    parsed?: { doc: Document; lineCounter: LineCounter },
  ) {
    this.parsed = parsed;
  }

  /** `yaml`'s located Document of the text, built when first needed (to locate a problem). */
  get doc(): Document {
    return this.located().doc;
  }

  private located(): { doc: Document; lineCounter: LineCounter } {
    this.parsed ??= parseLocated(this.text);
    return this.parsed;
  }

  /**
   * Line and column (1-based) of the node at `path`. A missing key points at the map that should hold it;
   * `atKey` points at the key instead of its value (for unknown or duplicate keys).
   */
  locate(path: YamlPath, atKey = false): { line: number; col: number } {
    const { isAlias, isMap, isScalar, isSeq } = yamlLib();
    let node: unknown = this.doc.contents;
    let offset = rangeStart(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      const segment = path[i];
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (!pair) break;
        const keyStart = rangeStart(pair.key);
        const value = pair.value;
        const valueStart = isEmptyScalar(value) ? undefined : rangeStart(value);
        offset = (last && atKey ? keyStart : (valueStart ?? keyStart)) ?? offset;
        node = value;
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment];
        const start = rangeStart(item);
        if (start === undefined) break;
        offset = start;
        node = item;
      } else {
        break;
      }
      if (isAlias(node)) break;
    }
    return this.position(offset);
  }

  /** A located issue at `path`. */
  issue(path: YamlPath, message: string, atKey = false): FileIssue {
    const { line, col } = this.locate(path, atKey);
    return { file: this.file, line, col, path: path.join('.'), message };
  }

  /** Where `path` is, as `file:line:col`, for messages that point at a second place. */
  where(path: YamlPath, atKey = false): string {
    const { line, col } = this.locate(path, atKey);
    return `${this.file}:${line}:${col}`;
  }

  position(offset: number): { line: number; col: number } {
    const pos = this.located().lineCounter.linePos(offset);
    return { line: pos.line, col: pos.col };
  }
}

function rangeStart(node: unknown): number | undefined {
  const range = (node as Node | null | undefined)?.range;
  return range ? range[0] : undefined;
}

function isEmptyScalar(node: unknown): boolean {
  return (
    yamlLib().isScalar(node) && node.value === null && node.range != null && node.range[0] === node.range[1]
  );
}

export interface ParseYamlOptions {
  /** Interpolate `${VAR}` and `${VAR:-default}` in string values from this environment. Default: no interpolation. */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface ParsedYaml {
  source: YamlSource;
  /** The plain value; undefined when the file has syntax errors. An empty file is `null`. */
  value: unknown;
  /** Syntax and interpolation problems, located. */
  issues: FileIssue[];
}

function parseLocated(text: string): { doc: Document; lineCounter: LineCounter } {
  const { LineCounter, parseDocument } = yamlLib();
  const lineCounter = new LineCounter();
  return { doc: parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true }), lineCounter };
}

/**
 * Parses YAML text, keeping positions so that later checks can point at file:line:col. Never throws. The
 * value comes from the fast path when it can (no `${` to interpolate); positions and every syntax error come
 * from `yaml`, as before.
 */
export function parseYaml(file: string, text: string, options: ParseYamlOptions = {}): ParsedYaml {
  if (!(options.env && text.includes('${'))) {
    const fast = fastYamlValue(text);
    if (fast) return { source: new YamlSource(file, text), value: fast.value, issues: [] };
  }
  const located = parseLocated(text);
  const doc = located.doc;
  const source = new YamlSource(file, text, located);
  const issues: FileIssue[] = doc.errors.map((err) => {
    const { line, col } = source.position(err.pos[0]);
    return { file, line, col, path: '', message: `YAML syntax error: ${err.message}` };
  });
  if (issues.length > 0) return { source, value: undefined, issues };
  if (options.env) interpolateEnv(source, options.env, issues);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    issues.push({ file, line: 1, col: 1, path: '', message: `YAML error: ${(err as Error).message}` });
  }
  return { source, value, issues };
}

/**
 * Largest configuration, rule or device file read: 1 MiB, far above any hand-written file. Parsing a 50 MB
 * YAML file blocks the event loop for tens of seconds, so a bigger one is refused before it is read.
 */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

export function readTextFile(file: string, maxBytes = MAX_CONFIG_FILE_BYTES): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const { size } = fstatSync(fd);
    if (size > maxBytes) {
      throw new BridgeError(
        'ERR_CONFIG_READ',
        `cannot read ${file}: it is ${size} bytes, and configuration files may be at most ${maxBytes} bytes`,
        { details: { size, maxBytes } },
      );
    }
    return readFileSync(fd, 'utf8');
  } catch (err) {
    if (err instanceof BridgeError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new BridgeError('ERR_CONFIG_READ', `cannot read ${file}: ${reason}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

// `$${` writes a literal `${`; anything else starting with `${` must be a complete reference.
const REFERENCE = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}|\$\{/g;

/**
 * Replaces `${VAR}` / `${VAR:-default}` in string values (never in keys) on the parsed document, so that
 * positions stay those of the file. As in a shell, the default applies when VAR is unset or empty. A plain
 * (unquoted) scalar that is exactly one reference takes the type of its value (`port: ${PORT:-1883}` is a
 * number); quote it to keep a string.
 */
function interpolateEnv(source: YamlSource, env: NodeJS.ProcessEnv, issues: FileIssue[]): void {
  const { Scalar, visit } = yamlLib();
  visit(source.doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('${')) return;
      const text = node.value;
      const start = node.range?.[0] ?? 0;
      const problems: string[] = [];
      const replaced = text.replace(REFERENCE, (match: string, name?: string, fallback?: string) => {
        if (match === '$${') return '${';
        if (name === undefined) {
          problems.push(`unfinished '\${': write \${NAME} or \${NAME:-default}, or $\${ for a literal '\${'`);
          return match;
        }
        const value = env[name];
        if (value !== undefined && value !== '') return value;
        if (fallback !== undefined) return fallback;
        problems.push(`environment variable ${name} is not set (write \${${name}:-default} for a default)`);
        return match;
      });
      for (const message of problems) {
        const { line, col } = source.position(start);
        issues.push({ file: source.file, line, col, path: pathOf(ancestors, node).join('.'), message });
      }
      if (problems.length > 0) return;
      node.value = node.type === Scalar.PLAIN && isSingleReference(text) ? typedScalar(replaced) : replaced;
    },
  });
}

function pathOf(ancestors: readonly unknown[], node: unknown): Array<string | number> {
  const { isPair, isScalar, isSeq } = yamlLib();
  const chain = [...ancestors, node];
  const path: Array<string | number> = [];
  chain.forEach((item, i) => {
    if (isPair(item) && isScalar(item.key)) path.push(String(item.key.value));
    else if (isSeq(item)) path.push(item.items.indexOf(chain[i + 1] as never));
  });
  return path;
}

function isSingleReference(text: string): boolean {
  return /^\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}$/.test(text);
}

/** `1884` -> 1884, `true` -> true; anything else stays the string it was. */
export function typedScalar(text: string): string | number | boolean {
  try {
    const value: unknown = yamlLib().parse(text);
    return typeof value === 'number' || typeof value === 'boolean' ? value : text;
  } catch {
    return text;
  }
}
