import { type FileIssue, FileIssuesError } from '../errors.js';
import { type BridgeConfig, bridgeConfigSchema } from './bridge-schema.js';
import { applyEnvOverrides } from './env-overrides.js';
import { parseYaml, readTextFile } from './yaml.js';
import { describe, sortIssues, validate } from './zod-issues.js';

/**
 * Reads, interpolates (`${VAR}`, `${VAR:-default}`), overrides (`SMS_BRIDGE_CONFIG_*`) and validates the bridge
 * configuration. Throws BridgeError `ERR_CONFIG_READ` when the file cannot be read and FileIssuesError
 * `ERR_CONFIG_INVALID` with every problem found. The result is deeply frozen.
 */
export function loadBridgeConfig(file: string, env: NodeJS.ProcessEnv = process.env): BridgeConfig {
  return parseBridgeConfig(readTextFile(file), { file, env });
}

/** As loadBridgeConfig, from text already read (tests, tools). */
export function parseBridgeConfig(
  text: string,
  options: { file?: string; env?: NodeJS.ProcessEnv } = {},
): BridgeConfig {
  const file = options.file ?? '<config>';
  const env = options.env ?? process.env;
  const parsed = parseYaml(file, text, { env });
  if (parsed.value === undefined) throw new FileIssuesError('ERR_CONFIG_INVALID', parsed.issues);
  const issues: FileIssue[] = [...parsed.issues];
  const value = parsed.value ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    issues.push(parsed.source.issue([], `expected a map of settings, got ${describe(value)}`));
    throw new FileIssuesError('ERR_CONFIG_INVALID', issues);
  }

  const overrides = applyEnvOverrides(value as Record<string, unknown>, bridgeConfigSchema, env);
  for (const problem of overrides.problems) issues.push(parsed.source.issue([], problem.message));
  const note = (path: readonly (string | number)[]) => {
    const override = overrides.applied.find((o) => o.path.every((segment, i) => path[i] === segment));
    return override && `set by ${override.variable}`;
  };

  const result = validate(bridgeConfigSchema, value, parsed.source, { note, once: true });
  if (!result.ok) {
    // a reference that could not be interpolated has been reported already; its leftover text would fail again
    const reported = new Set(parsed.issues.map((i) => `${i.line}:${i.col}`));
    issues.push(...result.issues.filter((i) => !reported.has(`${i.line}:${i.col}`)));
  }
  if (issues.length > 0 || !result.ok) throw new FileIssuesError('ERR_CONFIG_INVALID', sortIssues(issues));
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
