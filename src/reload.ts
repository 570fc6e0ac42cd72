import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import path from 'node:path';
import { expandGlobs } from './config/glob.js';
import { parseYaml, readTextFile } from './config/yaml.js';
import { type DeviceRegistry, type KnownRecipients, loadDeviceFiles } from './devices/registry.js';
import { BridgeError, type FileIssue, FileIssuesError, formatIssue } from './errors.js';
import type { Logger } from './logger.js';
import { compileRules } from './rules/compile.js';
import type { CompiledRuleSet, RuleSet } from './rules/engine.js';

/** The files integrators edit while the bridge runs: rules and devices, loaded and swapped together. */
export interface ConfigSet {
  rules: CompiledRuleSet;
  devices: DeviceRegistry;
  /** the files read, relative as the globs name them */
  files: { rules: string[]; devices: string[] };
}

export type LoadResult =
  | { ok: true; set: ConfigSet; fingerprint: string }
  | {
      ok: false;
      issues: FileIssue[];
      errors: string[];
      /** checks not run because they depend on a file that could not be parsed, with why */
      skipped: string[];
      fingerprint: string;
    };

export interface ConfigGlobs {
  rules: readonly string[];
  devices: readonly string[];
}

/** The files of `globs`, read but not parsed, and their fingerprint (what a reload compares). */
function readConfigFiles(globs: ConfigGlobs, cwd: string) {
  const errors: string[] = [];
  const read = (patterns: readonly string[]) => {
    try {
      return expandGlobs(patterns, cwd).map((file) => ({
        file,
        text: readTextFile(path.resolve(cwd, file)),
      }));
    } catch (err) {
      if (err instanceof BridgeError) errors.push(err.message);
      else throw err;
      return [];
    }
  };
  const ruleFiles = read(globs.rules);
  const deviceFiles = read(globs.devices);
  return { ruleFiles, deviceFiles, errors, fingerprint: fingerprintOf([...ruleFiles, ...deviceFiles]) };
}

/**
 * Reads and checks the rule and device files together (device operators name contacts and groups of the
 * rule files). Never throws: every problem of every file comes back at once. When the rules do not compile,
 * the devices are still checked, against the contact and group ids the rule files declare; when a rule file
 * is not even valid YAML its ids are unknown, so the operators are not checked and `skipped` says so.
 */
export function loadConfigSet(globs: ConfigGlobs, cwd: string): LoadResult {
  const { ruleFiles, deviceFiles, errors, fingerprint } = readConfigFiles(globs, cwd);
  const issues: FileIssue[] = [];
  let rules: CompiledRuleSet | undefined;
  try {
    rules = compileRules(ruleFiles);
  } catch (err) {
    if (!(err instanceof FileIssuesError)) throw err;
    issues.push(...err.issues);
  }
  const unparsed = rules ? [] : ruleFiles.filter((f) => parseYaml(f.file, f.text).issues.length > 0);
  const skipped =
    unparsed.length > 0 && deviceFiles.length > 0
      ? [
          `device operators not checked: they name contacts and groups of ${unparsed.map((f) => f.file).join(', ')}, ` +
            'which could not be parsed; fix the YAML syntax error first',
        ]
      : [];
  let devices: DeviceRegistry | undefined;
  try {
    const known = rules ? knownOf(rules) : unparsed.length > 0 ? undefined : declaredIds(ruleFiles);
    devices = loadDeviceFiles(deviceFiles, known);
  } catch (err) {
    if (!(err instanceof FileIssuesError)) throw err;
    issues.push(...err.issues);
  }
  if (!rules || !devices || errors.length > 0) return { ok: false, issues, errors, skipped, fingerprint };
  const files = { rules: ruleFiles.map((f) => f.file), devices: deviceFiles.map((f) => f.file) };
  return { ok: true, set: { rules, devices, files }, fingerprint };
}

/** Contact and group ids of a compiled rule set. */
export function knownOf(rules: RuleSet): KnownRecipients {
  return { contacts: new Set(rules.contacts.keys()), groups: new Set(rules.groups.keys()) };
}

/** Contact and group ids as the rule files declare them, for checking devices when the rules are broken. */
function declaredIds(files: ReadonlyArray<{ file: string; text: string }>): KnownRecipients {
  const known = { contacts: new Set<string>(), groups: new Set<string>() };
  for (const { file, text } of files) {
    const value = parseYaml(file, text).value as { contacts?: unknown; groups?: unknown } | null | undefined;
    if (!value || typeof value !== 'object') continue;
    for (const [key, set] of [
      ['contacts', known.contacts],
      ['groups', known.groups],
    ] as const) {
      const map = value[key];
      if (map && typeof map === 'object' && !Array.isArray(map))
        for (const id of Object.keys(map)) set.add(id);
    }
  }
  return known;
}

function fingerprintOf(files: ReadonlyArray<{ file: string; text: string }>): string {
  const hash = createHash('sha256');
  for (const { file, text } of files) hash.update(`${file}\0${text}\0`);
  return hash.digest('hex');
}

/** Where a reloaded set goes. `setDevices` is used when the target has it. */
export interface ReloadTarget {
  setRules(rules: RuleSet): void;
  setDevices?(devices: DeviceRegistry): void;
}

export interface ReloaderOptions extends ConfigGlobs {
  /** where the globs are resolved */
  cwd: string;
  apply: (set: ConfigSet) => void;
  logger: Logger;
  /** Quiet time after the last file event before reloading (editors write in several steps). Default 300. */
  debounceMs?: number;
  /** Watch the directories of the globs. Default `true`; SIGHUP (`reload()`) works either way. */
  watch?: boolean;
}

export type ReloadOutcome =
  | { status: 'reloaded'; set: ConfigSet }
  | { status: 'unchanged' }
  | { status: 'rejected'; issues: FileIssue[]; errors: string[] };

type ReloaderEvents = {
  reloaded: [set: ConfigSet];
  rejected: [problems: { issues: FileIssue[]; errors: string[] }];
};

/**
 * Hot reload of rules and devices, on file change (fs.watch on the globs' directories, debounced) and on
 * request (SIGHUP). A set that fails to load is never applied: the last good one keeps running and the log
 * says why, each problem at file:line:col. Nothing else is touched, so connections and queued SMS carry on.
 */
export class Reloader extends EventEmitter<ReloaderEvents> {
  private readonly log: Logger;
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** fingerprint of the files last applied, or last rejected (so a bad file is reported once, not per event) */
  private lastSeen: string | undefined;

  constructor(private readonly options: ReloaderOptions) {
    super();
    this.log = options.logger.child({ module: 'reload' });
  }

  async start(): Promise<void> {
    // the files the app just loaded: hashed, not compiled a second time (start-up, BENCHMARKS.md)
    this.lastSeen = readConfigFiles(this.options, this.options.cwd).fingerprint;
    if (this.options.watch === false) return;
    const dirs = new Set(
      [...this.options.rules, ...this.options.devices].map((g) =>
        path.dirname(path.resolve(this.options.cwd, g)),
      ),
    );
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.schedule());
        watcher.on('error', (err) => {
          this.log.warn({ err, dir }, 'stopped watching a directory; SIGHUP still reloads');
          watcher.close();
        });
        this.watchers.push(watcher);
      } catch (err) {
        this.log.warn({ dir, err: (err as Error).message }, 'cannot watch a directory; SIGHUP still reloads');
      }
    }
    this.log.debug({ dirs: [...dirs] }, 'watching rule and device files');
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
  }

  /** Loads the files now. `force` applies them even when unchanged (SIGHUP: the operator asked). */
  reload(reason: string, force = false): ReloadOutcome {
    const result = loadConfigSet(this.options, this.options.cwd);
    if (!force && result.fingerprint === this.lastSeen) return { status: 'unchanged' };
    this.lastSeen = result.fingerprint;
    if (!result.ok) {
      const problems = [...result.errors, ...result.issues.map(formatIssue)];
      this.log.error(
        { reason, problems, skipped: result.skipped.length > 0 ? result.skipped : undefined },
        `reload rejected, the last good rules and devices stay in force:\n${problems.join('\n')}`,
      );
      this.emit('rejected', { issues: result.issues, errors: result.errors });
      return { status: 'rejected', issues: result.issues, errors: result.errors };
    }
    this.options.apply(result.set);
    this.log.info(
      { reason, rules: result.set.rules.size, devices: result.set.devices.size, files: result.set.files },
      'rules and devices reloaded',
    );
    this.emit('reloaded', result.set);
    return { status: 'reloaded', set: result.set };
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      try {
        this.reload('file change');
      } catch (err) {
        this.log.error({ err }, 'reload failed');
      }
    }, this.options.debounceMs ?? 300);
    this.timer.unref();
  }
}

/** Applies a set to a target that may or may not take devices yet. */
export function applyConfigSet(target: ReloadTarget, set: ConfigSet): void {
  target.setRules(set.rules);
  target.setDevices?.(set.devices);
}
