import type { CountryCode } from 'libphonenumber-js';
import { parseYaml, type YamlPath, type YamlSource } from '../config/yaml.js';
import { closest, describe, sortIssues, validate } from '../config/zod-issues.js';
import { type FileIssue, FileIssuesError } from '../errors.js';
import { type Condition, compileCondition } from './condition.js';
import { CompiledRuleSet, type RuleEntry } from './engine.js';
import { type Contact, Directory, findGroupCycles, normalizePhone } from './recipients.js';
import {
  compiledRules,
  contactSchema,
  groupSchema,
  ID_HINT,
  ID_PATTERN,
  type PoliciesInput,
  policiesSchema,
  type RotationInput,
  type RuleInput,
  rotationSchema,
  ruleFileSchema,
} from './schema.js';
import { type CompiledTemplate, compileTemplate } from './template.js';

export interface RuleFileInput {
  /** shown in errors, e.g. `config/rules/pumps.yaml` */
  file: string;
  text: string;
}

export interface CompileOptions {
  /** Country of numbers written without `+` and a country code. Default: none (such numbers are errors). */
  defaultCountry?: CountryCode | undefined;
}

interface Place {
  source: YamlSource;
  path: YamlPath;
}

/** A reference to a contact or group id, checked once every file is read. */
interface Reference extends Place {
  id: string;
}

interface PendingRule {
  input: RuleInput;
  file: string;
  condition: Condition | undefined;
  template: CompiledTemplate;
  resolveCondition: Condition | undefined;
}

/**
 * Compiles rule files into a rule set: contacts and groups of all files are merged, ids must be unique across
 * files, phone numbers become E.164, `when` and `text` are compiled, every id in `to` must exist. Throws
 * FileIssuesError `ERR_RULE_INVALID` with every problem of every file, each at its file:line:col.
 */
export function compileRules(files: readonly RuleFileInput[], options: CompileOptions = {}): CompiledRuleSet {
  const state = new CompileState(options);
  for (const { file, text } of files) state.addFile(file, text);
  return state.finish(files.map((f) => f.file));
}

class CompileState {
  readonly issues: FileIssue[] = [];
  readonly contacts = new Map<string, Contact>();
  readonly groups = new Map<string, string[]>();
  /** where each contact, group and rule id was defined first */
  readonly contactPlaces = new Map<string, Place>();
  readonly groupPlaces = new Map<string, Place>();
  readonly rulePlaces = new Map<string, Place>();
  readonly references: Reference[] = [];
  readonly pending: PendingRule[] = [];
  readonly policies: PoliciesInput = { digest: [], caps: [], quiet_hours: [] };
  readonly rotations = new Map<string, RotationInput>();
  readonly rotationPlaces = new Map<string, Place>();

  constructor(private readonly options: CompileOptions) {}

  addFile(file: string, text: string): void {
    const parsed = parseYaml(file, text);
    this.issues.push(...parsed.issues);
    if (parsed.value === undefined) return;
    const source = parsed.source;
    const value = parsed.value ?? {};
    const top = validate(ruleFileSchema, value, source);
    if (!top.ok) this.issues.push(...top.issues);
    if (!isMap(value)) return;
    if (isMap(value.contacts)) {
      for (const [id, raw] of Object.entries(value.contacts)) this.addContact(source, id, raw);
    }
    if (isMap(value.groups)) {
      for (const [id, raw] of Object.entries(value.groups)) this.addGroup(source, id, raw);
    }
    if (value.policies !== undefined) this.addPolicies(source, value.policies);
    if (isMap(value.rotations)) {
      for (const [id, raw] of Object.entries(value.rotations)) this.addRotation(source, id, raw);
    }
    if (Array.isArray(value.rules)) {
      value.rules.forEach((raw, i) => {
        this.addRule(source, i, raw);
      });
    }
  }

  private addContact(source: YamlSource, id: string, raw: unknown): void {
    const path = ['contacts', id];
    if (!this.checkId(source, path, id, 'contact', this.contactPlaces)) return;
    const result = validate(contactSchema, raw, source, { at: path });
    if (!result.ok) {
      this.issues.push(...result.issues);
      return;
    }
    const phone = normalizePhone(result.data.phone, this.options.defaultCountry);
    if (phone.error !== undefined) {
      this.issues.push(source.issue([...path, 'phone'], phone.error));
      return;
    }
    this.contacts.set(id, { id, phone: phone.phone, name: result.data.name, pin: result.data.pin });
  }

  private addGroup(source: YamlSource, id: string, raw: unknown): void {
    const path = ['groups', id];
    if (!this.checkId(source, path, id, 'group', this.groupPlaces)) return;
    const result = validate(groupSchema, raw, source, { at: path });
    if (!result.ok) {
      this.issues.push(...result.issues);
      return;
    }
    this.groups.set(id, result.data);
    result.data.forEach((member, i) => {
      this.references.push({ source, path: [...path, i], id: member });
    });
  }

  private addPolicies(source: YamlSource, raw: unknown): void {
    const result = validate(policiesSchema, raw, source, { at: ['policies'] });
    if (!result.ok) {
      this.issues.push(...result.issues);
      return;
    }
    for (const kind of ['digest', 'caps', 'quiet_hours'] as const) {
      result.data[kind].forEach((entry, i) => {
        this.addReferences(source, ['policies', kind, i, 'to'], entry.to);
        (this.policies[kind] as unknown[]).push(entry);
      });
    }
  }

  private addRotation(source: YamlSource, id: string, raw: unknown): void {
    const path = ['rotations', id];
    if (!this.checkId(source, path, id, 'rotation', this.rotationPlaces)) return;
    const result = validate(rotationSchema, raw, source, { at: path });
    if (!result.ok) {
      this.issues.push(...result.issues);
      return;
    }
    this.addReferences(source, [...path, 'weeks'], result.data.weeks);
    this.rotations.set(id, result.data);
  }

  /** Records the id's place; false (with an issue) when it is malformed or already defined. */
  private checkId(
    source: YamlSource,
    path: YamlPath,
    id: string,
    kind: string,
    places: Map<string, Place>,
  ): boolean {
    if (!ID_PATTERN.test(id)) {
      this.issues.push(source.issue(path, `${ID_HINT}, got ${describe(id)}`, true));
      return false;
    }
    const first = places.get(id);
    if (first) {
      this.issues.push(
        source.issue(
          path,
          `${kind} '${id}' is already defined at ${first.source.where(first.path, true)}`,
          true,
        ),
      );
      return false;
    }
    places.set(id, { source, path });
    return true;
  }

  private addRule(source: YamlSource, index: number, raw: unknown): void {
    const path = ['rules', index];
    const result = validate(compiledRules(), raw, source, { at: path });
    if (!result.ok) this.issues.push(...result.issues);
    // the fields that are well-formed are checked further even when others are not: every problem at once
    const rule: Partial<Record<string, unknown>> = isMap(raw) ? raw : {};
    let ok = result.ok;

    if (typeof rule.id === 'string' && ID_PATTERN.test(rule.id)) {
      const first = this.rulePlaces.get(rule.id);
      if (first) {
        const where = first.source.where([...first.path, 'id']);
        this.issues.push(
          source.issue([...path, 'id'], `duplicate rule id '${rule.id}' (first defined at ${where})`),
        );
        ok = false;
      } else {
        this.rulePlaces.set(rule.id, { source, path });
      }
    }

    let condition: Condition | undefined;
    if (typeof rule.when === 'string' && rule.when.length > 0) {
      try {
        condition = compileCondition(rule.when);
      } catch (err) {
        this.issues.push(source.issue([...path, 'when'], (err as Error).message));
        ok = false;
      }
    }

    let template: CompiledTemplate | undefined;
    if (typeof rule.text === 'string' && rule.text.length > 0) {
      try {
        template = compileTemplate(rule.text);
      } catch (err) {
        this.issues.push(source.issue([...path, 'text'], `invalid template: ${(err as Error).message}`));
        ok = false;
      }
    }

    let resolveCondition: Condition | undefined;
    if (typeof rule.resolve_when === 'string' && rule.resolve_when.length > 0) {
      try {
        resolveCondition = compileCondition(rule.resolve_when);
      } catch (err) {
        this.issues.push(source.issue([...path, 'resolve_when'], (err as Error).message));
        ok = false;
      }
    }

    this.addReferences(source, [...path, 'to'], rule.to);
    if (Array.isArray(rule.escalate)) {
      rule.escalate.forEach((step, i) => {
        if (isMap(step)) this.addReferences(source, [...path, 'escalate', i, 'to'], step.to);
      });
    }

    if (ok && result.ok && template) {
      this.pending.push({ input: result.data, file: source.file, condition, template, resolveCondition });
    }
  }

  private addReferences(source: YamlSource, path: YamlPath, ids: unknown): void {
    if (!Array.isArray(ids)) return;
    ids.forEach((id, i) => {
      if (typeof id === 'string') this.references.push({ source, path: [...path, i], id });
    });
  }

  finish(fileOrder: readonly string[]): CompiledRuleSet {
    for (const [id, place] of this.groupPlaces) {
      const contact = this.contactPlaces.get(id);
      if (contact) {
        const where = contact.source.where(contact.path, true);
        this.issues.push(
          place.source.issue(place.path, `'${id}' is both a group and a contact (at ${where})`, true),
        );
        this.groups.delete(id); // reported once, not again as a cycle
      }
    }
    for (const [id, place] of this.rotationPlaces) {
      if (this.contactPlaces.has(id) || this.groupPlaces.has(id)) {
        this.issues.push(place.source.issue(place.path, `'${id}' is already a contact or group`, true));
      }
    }
    const known = [...this.contactPlaces.keys(), ...this.groupPlaces.keys(), ...this.rotationPlaces.keys()];
    for (const ref of this.references) {
      if (this.contactPlaces.has(ref.id) || this.groupPlaces.has(ref.id) || this.rotationPlaces.has(ref.id))
        continue;
      const near = closest(ref.id, known);
      const hint = near ? ` (did you mean '${near}'?)` : '';
      this.issues.push(ref.source.issue(ref.path, `unknown contact or group '${ref.id}'${hint}`));
    }
    for (const cycle of findGroupCycles(this.groups)) {
      const place = this.groupPlaces.get(cycle[0]!)!;
      this.issues.push(
        place.source.issue(place.path, `groups include each other: ${cycle.join(' -> ')}`, true),
      );
    }
    if (this.issues.length > 0)
      throw new FileIssuesError('ERR_RULE_INVALID', sortIssues(this.issues, fileOrder));

    const directory = new Directory(this.contacts, this.groups);
    const entries: RuleEntry[] = this.pending.map(
      ({ input, file, condition, template, resolveCondition }) => ({
        rule: {
          id: input.id,
          file,
          topic: input.topic,
          when: input.when,
          to: input.to,
          recipients: directory.resolve(input.to),
          text: input.text,
          priority: input.priority,
          cooldownMs: input.cooldown,
          escalate: input.escalate.map((step) => ({
            afterMs: step.after,
            to: step.to,
            recipients: directory.resolve(step.to),
          })),
          resolveTopic: input.resolve_topic,
          maxParts: input.max_parts,
          registeredDelivery: input.registered_delivery,
          enabled: input.enabled,
          title: input.title,
          resolveWhen: input.resolve_when,
          notifyResolved: input.notify_resolved,
          receiptTimeoutMs: input.receipt_timeout,
          resolveAfterMs: input.resolve_after,
        },
        condition,
        template,
        resolveCondition,
      }),
    );
    return new CompiledRuleSet(entries, directory, this.policies, this.rotations);
  }
}

function isMap(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
