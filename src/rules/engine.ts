import { deviceTopics } from '../topics.js';
import type { Condition, Payload } from './condition.js';
import { fitToParts } from './fit-text.js';
import { PayloadFields } from './payload-fields.js';
import { type Contact, Directory, type Recipient } from './recipients.js';
import type { PoliciesInput, Priority, RotationInput } from './schema.js';
import { type CompiledTemplate, formatTime, type TemplateView } from './template.js';
import { TopicCache, TopicTrie } from './topic-trie.js';

export type { Contact, PoliciesInput, Priority, Recipient, RotationInput };

export interface Escalation {
  afterMs: number;
  /** contact or group ids, as written */
  to: readonly string[];
  recipients: readonly Recipient[];
}

/** A rule as loaded: the fields of the file in camelCase, durations in ms, recipients resolved. */
export interface CompiledRule {
  readonly id: string;
  /** the file it came from */
  readonly file: string;
  readonly topic: string;
  readonly when: string | undefined;
  /** contact or group ids, as written */
  readonly to: readonly string[];
  /** contacts of `to`, deduplicated by phone */
  readonly recipients: readonly Recipient[];
  /** the template source */
  readonly text: string;
  readonly priority: Priority;
  readonly cooldownMs: number | undefined;
  readonly escalate: readonly Escalation[];
  readonly resolveTopic: string | undefined;
  readonly maxParts: number | undefined;
  /** receipts for this rule's SMS; undefined: the connection decides */
  readonly registeredDelivery?: boolean | undefined;
  readonly enabled: boolean;
  /** alert policy fields; undefined means the default documented in schema.ts */
  readonly title?: string | undefined;
  readonly resolveWhen?: string | undefined;
  readonly notifyResolved?: boolean | undefined;
  readonly receiptTimeoutMs?: number | undefined;
  readonly resolveAfterMs?: number | undefined;
}

/** A message that closes the alert of (rule, device). */
export interface Resolution {
  rule: CompiledRule;
  device: { id: string; name?: string | undefined } | undefined;
  reason: 'resolve_topic' | 'resolve_when';
}

export interface RuleMatch {
  rule: CompiledRule;
  recipients: Recipient[];
  /** the rendered text; `{{alert.ref}}` is `ctx.alertRef` or empty (see `render`) */
  text: string;
  priority: Priority;
  /** the device the message is about: `ctx.device`, else the `<id>` of a `devices/<id>/...` topic */
  device: { id: string; name?: string | undefined } | undefined;
  /** Renders the text again with an alert reference, once the alert engine has one. */
  render(alertRef: string): string;
  /** whether `text` was cut to fit the part limit (see EvaluateContext.maxParts) */
  truncated: boolean;
}

export interface EvaluateContext {
  /** the registered device; default: `{ id }` from a `devices/<id>/...` topic. `device.name` defaults to its id. */
  device?: { id: string; name?: string | undefined } | undefined;
  now: Date;
  /** value of `{{alert.ref}}` in `text`. Default: empty. */
  alertRef?: string | undefined;
  /** a bigger payload is not evaluated (a diagnostic says so). Default 64 KiB (`limits.rule_payload_bytes`). */
  maxPayloadBytes?: number | undefined;
  /** SMS parts a text may take when its rule has no `max_parts`; the text is cut to fit. Default 4 (`smpp.max_parts`). */
  maxParts?: number | undefined;
}

export const DEFAULT_MAX_RULE_PAYLOAD_BYTES = 65_536;

export interface Evaluation {
  matches: RuleMatch[];
  /** why a rule whose topic matched could not be checked (bad payload, condition error); for logs */
  diagnostics: string[];
}

/** What the rest of the bridge sees of a compiled rule set. */
export interface RuleSet {
  /** every rule, disabled ones included */
  readonly rules: readonly CompiledRule[];
  /** number of rules, disabled ones included (`rules.length`) */
  readonly size: number;
  readonly contacts: ReadonlyMap<string, Contact>;
  /** group id -> its contacts (nested groups flattened), deduplicated by phone */
  readonly groups: ReadonlyMap<string, readonly Recipient[]>;
  /**
   * Whether any enabled rule's `topic` or `resolve_topic` matches `topic`. When false, `evaluate` and
   * `resolutions` return nothing for any payload, so intake stops here: one lookup in a bounded per-topic cache.
   */
  canMatch(topic: string): boolean;
  evaluate(topic: string, payload: Buffer, ctx: EvaluateContext): Evaluation;
  /** the alerts this message closes: `resolve_topic` matches, or `topic` matches and `resolve_when` holds */
  resolutions(topic: string, payload: Buffer, ctx: EvaluateContext): Resolution[];
  /** file-level alert policies of all files, joined */
  readonly policies: PoliciesInput;
  readonly rotations: ReadonlyMap<string, RotationInput>;
  /** contacts named directly or through groups, deduplicated by phone; unknown ids are skipped */
  resolveRecipients(ids: readonly string[]): Recipient[];
  /** whether `id` is a known contact or group */
  has(id: string): boolean;
  /** the rule with this id */
  rule(id: string): CompiledRule | undefined;
  contactByPhone(phone: string): Contact | undefined;
  /** groups (nested ones included) that hold this phone */
  groupsOfPhone(phone: string): string[];
}

/** A rule with what it needs at run time. */
export interface RuleEntry {
  rule: CompiledRule;
  condition: Condition | undefined;
  template: CompiledTemplate;
  resolveCondition?: Condition | undefined;
}

type Json = { ok: true; value: unknown } | { ok: false };

/** What can match one topic: rules by `topic`, rules by `resolve_topic`, and those of the first with `resolve_when`. */
interface Route {
  candidates: RuleEntry[];
  byResolveTopic: CompiledRule[];
  withResolveWhen: RuleEntry[];
}

/** Shared by every topic no rule can match, so that a cached miss holds no arrays of its own. */
const NO_ROUTE: Route = Object.freeze({
  candidates: [],
  byResolveTopic: [],
  withResolveWhen: [],
}) as unknown as Route;

function parseJson(text: string): Json {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/**
 * What a `when` reads of a payload: a plain JSON object's fields read from its bytes (PayloadFields), else the
 * parsed object (`parse` is the caller's, so that a template needing the JSON parses it once), else why not.
 */
function conditionData(payload: Buffer, parse: () => Json): Payload | 'not JSON' | 'not a JSON object' {
  const fields = PayloadFields.scan(payload);
  if (fields) return fields;
  const json = parse();
  if (!json.ok) return 'not JSON';
  const value = json.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  return value as Record<string, unknown>;
}

/** `ctx.device`, else `{ id }` from a `devices/<id>/...` topic */
function deviceOf(topic: string, ctx: EvaluateContext): RuleMatch['device'] {
  if (ctx.device) return ctx.device;
  const id = deviceTopics.deviceIdOf(topic);
  return id === undefined ? undefined : { id };
}

export class CompiledRuleSet implements RuleSet {
  readonly rules: readonly CompiledRule[];
  private readonly rulesById: ReadonlyMap<string, CompiledRule>;
  private readonly byTopic = new TopicTrie<RuleEntry>();
  private readonly byResolveTopic = new TopicTrie<CompiledRule>();
  /** whether any rule has `resolve_when`; without one, resolutions() skips the JSON parse */
  private anyResolveWhen = false;
  /** topic -> what matches it; a rule set is immutable (a reload builds a new one), so entries never go stale */
  private readonly routes = new TopicCache<Route>();
  private lastTopic: string | undefined;
  private lastRoute: Route = NO_ROUTE;

  constructor(
    entries: readonly RuleEntry[],
    private readonly directory: Directory,
    readonly policies: PoliciesInput = { digest: [], caps: [], quiet_hours: [] },
    readonly rotations: ReadonlyMap<string, RotationInput> = new Map(),
  ) {
    this.rules = entries.map((e) => e.rule);
    this.rulesById = new Map(this.rules.map((r) => [r.id, r]));
    for (const entry of entries) {
      if (!entry.rule.enabled) continue;
      this.byTopic.add(entry.rule.topic, entry);
      if (entry.rule.resolveTopic) this.byResolveTopic.add(entry.rule.resolveTopic, entry.rule);
      if (entry.resolveCondition) this.anyResolveWhen = true;
    }
  }

  /** No rules, no contacts: what runs before the first rule files load. */
  static empty(): CompiledRuleSet {
    return new CompiledRuleSet([], new Directory(new Map(), new Map()));
  }

  get size(): number {
    return this.rules.length;
  }

  private route(topic: string): Route {
    // intake asks canMatch, evaluate and resolutions about the same message in a row
    if (topic === this.lastTopic) return this.lastRoute;
    const route = this.lookup(topic);
    this.lastTopic = topic;
    this.lastRoute = route;
    return route;
  }

  private lookup(topic: string): Route {
    const cached = this.routes.get(topic);
    if (cached) return cached;
    const candidates = this.byTopic.match(topic);
    const byResolveTopic = this.byResolveTopic.match(topic);
    const route =
      candidates.length === 0 && byResolveTopic.length === 0
        ? NO_ROUTE
        : { candidates, byResolveTopic, withResolveWhen: candidates.filter((e) => e.resolveCondition) };
    this.routes.set(topic, route);
    return route;
  }

  /** topics in the per-topic cache (at most MAX_CACHED_TOPICS) */
  get cachedTopics(): number {
    return this.routes.size;
  }

  canMatch(topic: string): boolean {
    return this.route(topic) !== NO_ROUTE;
  }

  get contacts(): ReadonlyMap<string, Contact> {
    return this.directory.contacts;
  }

  get groups(): ReadonlyMap<string, readonly Recipient[]> {
    return this.directory.groups;
  }

  /**
   * The rules this message triggers. The payload is parsed as JSON only when a matching rule needs it (a `when`,
   * or `payload.*` in its text); a rule without either matches any payload, and `{{payload}}` is the raw text.
   * `{{time}}` is `YYYY-MM-DD HH:MM` in UTC. Never throws for bad input: problems go to `diagnostics`.
   */
  evaluate(topic: string, payload: Buffer, ctx: EvaluateContext): Evaluation {
    const candidates = this.route(topic).candidates;
    const matches: RuleMatch[] = [];
    const diagnostics: string[] = [];
    if (candidates.length === 0) return { matches, diagnostics };
    const maxBytes = ctx.maxPayloadBytes ?? DEFAULT_MAX_RULE_PAYLOAD_BYTES;
    if (payload.length > maxBytes) {
      diagnostics.push(
        `the payload on ${topic} is ${payload.length} bytes, over the ${maxBytes} the rules evaluate; not evaluated`,
      );
      return { matches, diagnostics };
    }

    let raw: string | undefined;
    let json: Json | undefined;
    const parsed = (): Json => {
      raw ??= payload.toString('utf8');
      json ??= parseJson(raw);
      return json;
    };
    // read once, by the first rule with a `when`
    let data: ReturnType<typeof conditionData> | undefined;
    // looked up and formatted once a rule matches: most messages match none
    let device: RuleMatch['device'] | null = null;
    let time: string | undefined;

    for (const { rule, condition, template } of candidates) {
      if (condition) {
        data ??= conditionData(payload, parsed);
        if (typeof data === 'string') {
          diagnostics.push(
            `rule ${rule.id}: the payload on ${topic} is ${data}, so 'when' cannot be checked`,
          );
          continue;
        }
        const result = condition(data);
        if (!result.ok) {
          diagnostics.push(`rule ${rule.id}: 'when: ${rule.when}' failed on ${topic}: ${result.error}`);
          continue;
        }
        if (!result.match) continue;
      }
      raw ??= payload.toString('utf8');
      let payloadValue: unknown = raw;
      if (template.needsJson) {
        const parsedJson = parsed();
        if (parsedJson.ok) payloadValue = parsedJson.value;
        else
          diagnostics.push(
            `rule ${rule.id}: the payload on ${topic} is not JSON; payload fields render empty`,
          );
      }
      if (device === null) device = deviceOf(topic, ctx);
      time ??= formatTime(ctx.now);
      const at = time;
      const about = device;
      const rawText = raw;
      const view = (alertRef: string): TemplateView => ({
        device: about ? { id: about.id, name: about.name ?? about.id } : undefined,
        payload: payloadValue,
        rawPayload: rawText,
        topic,
        time: at,
        rule: { id: rule.id },
        alert: { ref: alertRef },
      });
      // what max_parts cannot carry is cut here, so the stored text is the sent text
      const maxParts = rule.maxParts ?? ctx.maxParts;
      const render = (alertRef: string) => fitToParts(template.render(view(alertRef)), maxParts);
      const full = template.render(view(ctx.alertRef ?? ''));
      const text = fitToParts(full, maxParts);
      matches.push({
        rule,
        recipients: [...rule.recipients],
        text,
        truncated: text !== full,
        priority: rule.priority,
        device: about,
        render,
      });
    }
    return { matches, diagnostics };
  }

  resolutions(topic: string, payload: Buffer, ctx: EvaluateContext): Resolution[] {
    const route = this.route(topic);
    const withWhen = this.anyResolveWhen ? route.withResolveWhen : NO_ROUTE.withResolveWhen;
    if (route.byResolveTopic.length === 0 && withWhen.length === 0) return [];
    const device = deviceOf(topic, ctx);
    const out: Resolution[] = route.byResolveTopic.map((rule) => ({ rule, device, reason: 'resolve_topic' }));
    if (withWhen.length === 0) return out;
    if (payload.length > (ctx.maxPayloadBytes ?? DEFAULT_MAX_RULE_PAYLOAD_BYTES)) return out;
    const data = conditionData(payload, () => parseJson(payload.toString('utf8')));
    if (typeof data === 'string') return out;
    for (const { rule, resolveCondition } of withWhen) {
      const result = resolveCondition!(data);
      if (result.ok && result.match) out.push({ rule, device, reason: 'resolve_when' });
    }
    return out;
  }

  resolveRecipients(ids: readonly string[]): Recipient[] {
    return this.directory.resolve(ids);
  }

  rule(id: string): CompiledRule | undefined {
    return this.rulesById.get(id);
  }

  has(id: string): boolean {
    return this.directory.has(id);
  }

  contactByPhone(phone: string): Contact | undefined {
    return this.directory.contactByPhone(phone);
  }

  groupsOfPhone(phone: string): string[] {
    return this.directory.groupsOfPhone(phone);
  }
}
