import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { BridgeConfig } from '../config/bridge-schema.js';
import { parseBridgeConfig } from '../config/load-bridge.js';
import { parseYaml, readTextFile } from '../config/yaml.js';
import { BridgeError, type FileIssue, FileIssuesError } from '../errors.js';
import { type ConfigGlobs, type ConfigSet, loadConfigSet } from '../reload.js';

export const DEFAULT_CONFIG = 'config/bridge.yaml';

export interface CheckedFiles {
  config: BridgeConfig | undefined;
  set: ConfigSet | undefined;
  /** located problems, in the order bridge config, rules, devices */
  issues: FileIssue[];
  /** problems without a place (a file that cannot be read, a glob that is not supported) */
  errors: string[];
  /** checks not run because a file they depend on could not be parsed, with why */
  skipped: string[];
}

/**
 * Loads the bridge configuration and the rule and device files it names, collecting every problem rather
 * than stopping at the first. When the configuration itself is invalid, its `rules` and `devices` globs are
 * still read from the file where possible, so that those files are checked too.
 */
export function loadEverything(configFile: string, cwd: string, env: NodeJS.ProcessEnv): CheckedFiles {
  const issues: FileIssue[] = [];
  const errors: string[] = [];
  const skipped: string[] = [];
  let text: string | undefined;
  let config: BridgeConfig | undefined;
  try {
    text = readTextFile(path.resolve(cwd, configFile));
    config = parseBridgeConfig(text, { file: configFile, env });
  } catch (err) {
    if (err instanceof FileIssuesError) issues.push(...err.issues);
    else if (err instanceof BridgeError) errors.push(err.message);
    else throw err;
  }
  const globs: ConfigGlobs = config ?? globsFromText(configFile, text);
  const loaded = loadConfigSet(globs, cwd);
  if (!loaded.ok) {
    issues.push(...loaded.issues);
    errors.push(...loaded.errors);
    skipped.push(...loaded.skipped);
  }
  if (config?.mqtt.tls) errors.push(...unreadable(config.mqtt.tls, cwd));
  return { config, set: loaded.ok ? loaded.set : undefined, issues, errors, skipped };
}

function globsFromText(file: string, text: string | undefined): ConfigGlobs {
  const value = text === undefined ? undefined : parseYaml(file, text).value;
  const pick = (key: 'rules' | 'devices', fallback: string) => {
    const list = value && typeof value === 'object' ? (value as Record<string, unknown>)[key] : undefined;
    return Array.isArray(list) && list.every((g) => typeof g === 'string') ? (list as string[]) : [fallback];
  };
  return { rules: pick('rules', 'config/rules/*.yaml'), devices: pick('devices', 'devices/*.yaml') };
}

function unreadable(tls: { cert: string; key: string; ca?: string | undefined }, cwd: string): string[] {
  const problems: string[] = [];
  for (const key of ['cert', 'key', 'ca'] as const) {
    const file = tls[key];
    if (file === undefined) continue;
    try {
      const pem = readFileSync(path.resolve(cwd, file), 'utf8');
      if (!pem.includes('-----BEGIN ')) problems.push(`mqtt.tls.${key}: ${file} is not a PEM file`);
    } catch (err) {
      problems.push(`mqtt.tls.${key}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  return problems;
}
