import type { z } from 'zod';
import { yamlLib } from './yaml.js';

/** zigbee2mqtt's convention: `SMS_BRIDGE_CONFIG_MQTT_PORT=1884` sets `mqtt.port`. */
export const ENV_OVERRIDE_PREFIX = 'SMS_BRIDGE_CONFIG_';

export interface EnvOverride {
  variable: string;
  path: Array<string | number>;
}

export interface EnvOverrideResult {
  applied: EnvOverride[];
  /** Variables that name no known key, or that cannot be applied. */
  problems: Array<{ variable: string; message: string }>;
}

type Def = { type: string; [key: string]: unknown };

/**
 * Applies `SMS_BRIDGE_CONFIG_<PATH>` variables to `target` (the parsed file, before validation). The path is the
 * uppercase keys joined by `_`; since keys contain `_` themselves, it is matched against the schema's keys.
 * A list item is addressed by its index (`SMS_BRIDGE_CONFIG_SMPP_CONNECTIONS_0_PASSWORD`). Values are read as
 * YAML scalars (`1884` is a number) except where the schema wants a string, which gets the text as it is.
 */
export function applyEnvOverrides(
  target: Record<string, unknown>,
  schema: z.ZodType,
  env: NodeJS.ProcessEnv,
): EnvOverrideResult {
  const result: EnvOverrideResult = { applied: [], problems: [] };
  const variables = Object.keys(env)
    .filter((name) => name.startsWith(ENV_OVERRIDE_PREFIX) && name.length > ENV_OVERRIDE_PREFIX.length)
    .sort();
  for (const variable of variables) {
    const raw = env[variable] ?? '';
    const tokens = variable.slice(ENV_OVERRIDE_PREFIX.length).toLowerCase().split('_');
    const found = resolvePath(schema, tokens, 0);
    if (!found) {
      result.problems.push({ variable, message: `${variable} does not name a configuration key` });
      continue;
    }
    const problem = setPath(target, found.path, valueFor(found.leaf, raw));
    if (problem) result.problems.push({ variable, message: `${variable}: ${problem}` });
    else result.applied.push({ variable, path: found.path });
  }
  return result;
}

function defOf(schema: unknown): Def {
  return (schema as { _zod: { def: Def } })._zod.def;
}

/** Looks through defaults, optionals, preprocessing and transforms to the schema that holds the data. */
function unwrap(schema: unknown): Def {
  let def = defOf(schema);
  for (;;) {
    if (['default', 'prefault', 'optional', 'nullable', 'readonly', 'catch'].includes(def.type)) {
      def = defOf(def.innerType);
    } else if (def.type === 'pipe') {
      const input = defOf(def.in);
      // z.preprocess is a pipe from a transform; a refine/transform is a pipe into a transform
      def = input.type === 'transform' ? defOf(def.out) : input;
    } else {
      return def;
    }
  }
}

function resolvePath(
  schema: unknown,
  tokens: string[],
  start: number,
): { path: Array<string | number>; leaf: Def } | undefined {
  const def = unwrap(schema);
  if (def.type === 'array') {
    const index = tokens[start];
    if (index === undefined || !/^\d+$/.test(index)) return undefined;
    const rest = resolvePath(def.element, tokens, start + 1);
    return rest ? { path: [Number(index), ...rest.path], leaf: rest.leaf } : undefined;
  }
  if (def.type !== 'object') return undefined;
  const shape = def.shape as Record<string, unknown>;
  // longest key first: `allow_anonymous` before `allow`
  for (let end = tokens.length; end > start; end--) {
    const key = tokens.slice(start, end).join('_');
    // own keys only: `constructor` or `__proto__` would otherwise reach Object.prototype
    if (!Object.hasOwn(shape, key)) continue;
    const child = shape[key];
    if (end === tokens.length) return { path: [key], leaf: unwrap(child) };
    const rest = resolvePath(child, tokens, end);
    if (rest) return { path: [key, ...rest.path], leaf: rest.leaf };
  }
  return undefined;
}

function valueFor(leaf: Def, raw: string): unknown {
  if (leaf.type === 'string') return raw;
  let value: unknown;
  try {
    value = yamlLib().parse(raw);
  } catch {
    return raw;
  }
  if (leaf.type === 'array') return Array.isArray(value) ? value : [value];
  if (value === null && raw.trim() !== '' && raw.trim() !== 'null' && raw.trim() !== '~') return raw;
  return typeof value === 'object' && value !== null ? raw : value;
}

function setPath(
  target: Record<string, unknown>,
  path: Array<string | number>,
  value: unknown,
): string | undefined {
  let node: unknown = target;
  for (let i = 0; i < path.length - 1; i++) {
    const key = path[i]!;
    const container = node as Record<string | number, unknown>;
    let next = container[key];
    if (typeof key === 'number' && !Array.isArray(container))
      return `${path.slice(0, i).join('.')} is not a list`;
    if (Array.isArray(container) && (typeof key !== 'number' || key >= container.length)) {
      return `${path.slice(0, i + 1).join('.')} does not exist in the file (the list has ${container.length} item(s))`;
    }
    if (next === undefined || next === null) {
      next = typeof path[i + 1] === 'number' ? [] : {};
      container[key] = next;
    } else if (typeof next === 'boolean') {
      // the `simulator: true` shorthand
      next = { enabled: next };
      container[key] = next;
    } else if (typeof next !== 'object') {
      return `${path.slice(0, i + 1).join('.')} is not a map`;
    }
    node = next;
  }
  (node as Record<string | number, unknown>)[path[path.length - 1]!] = value;
  return undefined;
}
