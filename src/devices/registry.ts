import { resolve } from 'node:path';
import { expandGlobs } from '../config/glob.js';
import { parseYaml, readTextFile, type YamlSource } from '../config/yaml.js';
import { closest, sortIssues, validate } from '../config/zod-issues.js';
import { type FileIssue, FileIssuesError } from '../errors.js';
import { hashPassword, verifyPassword } from './password.js';
import { type ArgSpec, type CommandSpec, type DeviceFile, deviceFileSchema } from './schema.js';

export interface DeviceCommand {
  /** as written in the device file */
  name: string;
  args: readonly ArgSpec[];
  payload: Readonly<Record<string, unknown>>;
}

export interface Device {
  /** the registered id, exactly as written (topics use it as is) */
  id: string;
  /** display name; the id when the file gives none */
  name: string;
  type: string;
  /** keyed by lower-case command name (SMS ignores case) */
  commands: ReadonlyMap<string, DeviceCommand>;
  /** contact or group ids from the rule files */
  operators: readonly string[];
  /** MQTT client ids reserved for it besides its id (`client_ids`) */
  clientIds?: readonly string[];
}

/** Contact and group ids the rule files define; operators must be one of them. */
export interface KnownRecipients {
  contacts: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

interface Entry {
  device: Device;
  passwordHash: string;
}

/** The devices of all device files. Lookups ignore case; the password hashes never leave this object. */
export class DeviceRegistry {
  private readonly ids = new Map<string, Entry>();
  private readonly names = new Map<string, Device[]>();
  private readonly loose = new Map<string, Device[]>();
  private readonly clientIds = new Map<string, Device>();
  private dummyHash: Promise<string> | undefined;

  constructor(entries: ReadonlyArray<{ device: Device; passwordHash: string }>) {
    for (const entry of entries) {
      this.ids.set(entry.device.id.toLowerCase(), { device: entry.device, passwordHash: entry.passwordHash });
      push(this.names, nameKey(entry.device.name), entry.device);
      push(this.loose, looseKey(entry.device.id), entry.device);
      push(this.loose, looseKey(entry.device.name), entry.device);
      for (const id of entry.device.clientIds ?? [])
        if (!this.clientIds.has(id)) this.clientIds.set(id, entry.device);
    }
  }

  static empty(): DeviceRegistry {
    return new DeviceRegistry([]);
  }

  get size(): number {
    return this.ids.size;
  }

  all(): Device[] {
    return [...this.ids.values()].map((e) => e.device);
  }

  /** The device with this id, ignoring case. */
  device(id: string): Device | undefined {
    return this.ids.get(id.toLowerCase())?.device;
  }

  /** The device that owns this MQTT client id: its id (ignoring case) or one of its `client_ids`. */
  clientIdOwner(clientId: string): Device | undefined {
    return this.device(clientId) ?? this.clientIds.get(clientId);
  }

  /** The one device with this display name (ignoring case and repeated spaces); undefined when ambiguous. */
  byName(name: string): Device | undefined {
    return only(this.names.get(nameKey(name)));
  }

  /**
   * What a person on a phone most likely meant: an id, else an unambiguous display name, else an unambiguous
   * match ignoring spaces and punctuation (`pump 7`, `PUMP7` for `pump-7`).
   */
  resolve(text: string): Device | undefined {
    return this.device(text) ?? this.byName(text) ?? only(this.loose.get(looseKey(text)));
  }

  /** True when `password` is this device's MQTT password. Unknown ids cost the same time as known ones. */
  async verifyPassword(id: string, password: string | Buffer): Promise<boolean> {
    const entry = this.ids.get(id.toLowerCase());
    if (entry) return verifyPassword(entry.passwordHash, password);
    this.dummyHash ??= hashPassword('not a device password');
    await verifyPassword(await this.dummyHash, password);
    return false;
  }
}

function push(map: Map<string, Device[]>, key: string, device: Device): void {
  if (key.length === 0) return;
  const list = map.get(key);
  if (!list) map.set(key, [device]);
  else if (!list.includes(device)) list.push(device);
}

function only(list: Device[] | undefined): Device | undefined {
  return list?.length === 1 ? list[0] : undefined;
}

function nameKey(text: string): string {
  return text.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();
}

function looseKey(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, '');
}

interface ParsedFile {
  source: YamlSource;
  /** the file as written, for the checks across files, which also run on files the schema refused */
  raw: RawFile;
  /** the validated file, when the schema accepted it */
  data: DeviceFile | undefined;
}

interface RawFile {
  type: string | undefined;
  definesCommands: boolean;
  devices: Array<{ id: string | undefined; operators: string[] }>;
}

/**
 * Builds the registry from the text of every device file, checking each file and then the set: a type's
 * commands are defined once, every device's type is defined, ids are unique (ignoring case), operators are
 * known contacts or groups (not checked when `known` is undefined: the rule files could not be read).
 * Throws one FileIssuesError (`ERR_DEVICE_INVALID`) with every problem found.
 */
export function loadDeviceFiles(
  files: ReadonlyArray<{ file: string; text: string }>,
  known: KnownRecipients | undefined,
): DeviceRegistry {
  const issues: FileIssue[] = [];
  const parsedFiles: ParsedFile[] = [];
  for (const { file, text } of files) {
    const parsed = parseYaml(file, text);
    issues.push(...parsed.issues);
    if (parsed.issues.length > 0) continue;
    const result = validate(deviceFileSchema, parsed.value, parsed.source);
    if (!result.ok) issues.push(...result.issues);
    parsedFiles.push({
      source: parsed.source,
      raw: rawFile(parsed.value),
      data: result.ok ? result.data : undefined,
    });
  }
  issues.push(...checkAcrossFiles(parsedFiles, known));
  if (issues.length > 0) {
    throw new FileIssuesError(
      'ERR_DEVICE_INVALID',
      sortIssues(
        issues,
        files.map((f) => f.file),
      ),
    );
  }

  const commandsOf = new Map<string, Record<string, CommandSpec>>();
  for (const { data } of parsedFiles) if (data?.commands) commandsOf.set(data.type, data.commands);
  const entries = parsedFiles.flatMap(({ data }) => {
    if (!data) return [];
    const commands = commandMap(commandsOf.get(data.type) ?? {});
    return data.devices.map((spec) => ({
      device: {
        id: spec.id,
        name: spec.name ?? spec.id,
        type: data.type,
        commands,
        operators: spec.operators,
        clientIds: spec.client_ids,
      },
      passwordHash: spec.password_hash,
    }));
  });
  return new DeviceRegistry(entries);
}

function checkAcrossFiles(files: readonly ParsedFile[], known: KnownRecipients | undefined): FileIssue[] {
  const issues: FileIssue[] = [];
  const types = new Map<string, string>();
  for (const { source, raw } of files) {
    if (raw.type === undefined || !raw.definesCommands) continue;
    const first = types.get(raw.type);
    if (first) issues.push(source.issue(['type'], `type '${raw.type}' already has its commands in ${first}`));
    else types.set(raw.type, source.where(['type']));
  }

  const operatorIds = known ? [...known.contacts, ...known.groups] : [];
  const seenIds = new Map<string, string>();
  for (const { source, raw } of files) {
    if (raw.type !== undefined && !raw.definesCommands && !types.has(raw.type)) {
      const near = closest(raw.type, [...types.keys()]);
      const hint = near ? ` (did you mean '${near}'?)` : '; add `commands:` to define it here';
      issues.push(
        source.issue(['type'], `unknown type '${raw.type}': no device file defines its commands${hint}`),
      );
    }
    raw.devices.forEach(({ id, operators }, i) => {
      if (id !== undefined) {
        const first = seenIds.get(id.toLowerCase());
        if (first !== undefined) {
          issues.push(
            source.issue(
              ['devices', i, 'id'],
              `duplicate device id '${id}' (also at ${first}; ids ignore case)`,
            ),
          );
        } else {
          seenIds.set(id.toLowerCase(), source.where(['devices', i, 'id']));
        }
      }
      operators.forEach((op, j) => {
        if (!known || known.contacts.has(op) || known.groups.has(op)) return;
        const near = closest(op, operatorIds);
        const hint = near ? ` (did you mean '${near}'?)` : '';
        issues.push(
          source.issue(
            ['devices', i, 'operators', j],
            `unknown operator '${op}': not a contact or group of the rule files${hint}`,
          ),
        );
      });
    });
  }
  return issues;
}

/** What the checks across files need, read leniently from a file the schema may have refused. */
function rawFile(value: unknown): RawFile {
  const file = isRecord(value) ? value : {};
  const devices = Array.isArray(file.devices) ? file.devices : [];
  return {
    type: typeof file.type === 'string' ? file.type : undefined,
    definesCommands: file.commands !== undefined,
    devices: devices.map((item: unknown) => {
      const device = isRecord(item) ? item : {};
      const operators = Array.isArray(device.operators) ? device.operators : [];
      return {
        id: typeof device.id === 'string' ? device.id : undefined,
        operators: operators.filter((op: unknown): op is string => typeof op === 'string'),
      };
    }),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function commandMap(commands: Record<string, CommandSpec>): ReadonlyMap<string, DeviceCommand> {
  const map = new Map<string, DeviceCommand>();
  for (const [name, spec] of Object.entries(commands)) {
    map.set(name.toLowerCase(), { name, args: spec.args, payload: spec.payload });
  }
  return map;
}

/**
 * Reads the device files the globs name (relative to `cwd`, as the rule globs: see `expandGlobs`) and loads
 * them. Throws `ERR_CONFIG_READ` when a file cannot be read, `ERR_DEVICE_INVALID` with every problem found.
 */
export function loadDevices(
  globs: readonly string[],
  known: KnownRecipients,
  cwd = process.cwd(),
): DeviceRegistry {
  const files = expandGlobs(globs, cwd).map((file) => ({ file, text: readTextFile(resolve(cwd, file)) }));
  return loadDeviceFiles(files, known);
}
