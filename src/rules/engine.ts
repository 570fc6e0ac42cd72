import { deviceTopics } from '../topics.js';
import type { Condition, Payload } from './condition.js';
import { fitToParts } from './fit-text.js';
import { PayloadFields } from './payload-fields.js';
import { type Contact, Directory, type Recipient } from './recipients.js';
import type { PoliciesInput, Priority, RotationInput } from './schema.js';
import { type CompiledTemplate, formatTime, type TemplateView } from './template.js';
import { MAX_CACHED_TOPICS, TopicCache, TopicTrie } from './topic-trie.js';

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
  candidates: readonly RuleEntry[];
  /** the one payload field every `when` of the candidates reads, when they read one (see PayloadFields.scan) */
  hint: string | undefined;
  /** when every candidate compares that field (one level) with a number: their tests, in candidate order */
  numberTests: ((value: number) => boolean)[] | undefined;
  byResolveTopic: readonly CompiledRule[];
  withResolveWhen: RuleEntry[];
}

/** Shared by every topic no rule can match, so that a cached miss holds no arrays of its own. */
const NO_ROUTE: Route = Object.freeze({
  candidates: [],
  hint: undefined,
  numberTests: undefined,
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

/** `ctx.device`, else `{ id }` from a `devices/<id>/...` topic */
function deviceOf(topic: string, ctx: EvaluateContext): RuleMatch['device'] {
  if (ctx.device) return ctx.device;
  const id = deviceTopics.deviceIdOf(topic);
  return id === undefined ? undefined : { id };
}

/**
 * One message as its rules read it: the payload's text and JSON, the device and the time, each made once and
 * only when a rule needs it (most messages that reach the rules match none).
 */
class MessageView {
  private raw: string | undefined;
  private json: Json | undefined;
  private about: RuleMatch['device'] | null = null;
  private time: string | undefined;

  constructor(
    readonly topic: string,
    readonly payload: Buffer,
    private readonly ctx: EvaluateContext,
  ) {}

  text(): string {
    this.raw ??= this.payload.toString('utf8');
    return this.raw;
  }

  parsed(): Json {
    this.json ??= parseJson(this.text());
    return this.json;
  }

  device(): RuleMatch['device'] {
    if (this.about === null) this.about = deviceOf(this.topic, this.ctx);
    return this.about;
  }

  formattedTime(): string {
    this.time ??= formatTime(this.ctx.now);
    return this.time;
  }
}

/**
 * What a `when` reads of a payload: a plain JSON object's fields read from its bytes (PayloadFields), else the
 * parsed object (parsed once per message, so that a template needing the JSON does not parse it again), else
 * why not.
 */
function conditionData(message: MessageView, hint?: string): Payload | 'not JSON' | 'not a JSON object' {
  const fields = PayloadFields.scan(message.payload, hint);
  if (fields) return fields;
  const json = message.parsed();
  if (!json.ok) return 'not JSON';
  const value = json.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not a JSON object';
  return value as Record<string, unknown>;
}

/** The field every condition of `entries` reads, when there is one and they all say which. */
function fieldOf(entries: readonly RuleEntry[]): string | undefined {
  let field: string | undefined;
  for (const { condition } of entries) {
    if (condition === undefined) continue;
    if (condition.field === undefined || (field !== undefined && condition.field !== field)) return undefined;
    field = condition.field;
  }
  return field;
}

/** The number tests of `entries` when each has a condition with one and they all read one field. */
function numberTestsOf(entries: readonly RuleEntry[]): ((value: number) => boolean)[] | undefined {
  const tests: ((value: number) => boolean)[] = [];
  for (const { condition } of entries) {
    if (condition?.numberTest === undefined) return undefined;
    tests.push(condition.numberTest);
  }
  return fieldOf(entries) === undefined ? undefined : tests;
}

// Shared by every message that matches nothing: frozen, so that a caller that added to one would throw.
const NO_MATCHES = Object.freeze([]) as unknown as RuleMatch[];
const NO_DIAGNOSTICS = Object.freeze([]) as unknown as string[];
const NOTHING: Evaluation = Object.freeze({ matches: NO_MATCHES, diagnostics: NO_DIAGNOSTICS });
const NO_RESOLUTIONS = Object.freeze([]) as unknown as Resolution[];

function passesAny(tests: readonly ((value: number) => boolean)[], value: number): boolean {
  for (let i = 0; i < tests.length; i++) if (tests[i]!(value)) return true;
  return false;
}

/** `list` with `item` appended; a list is made only once there is something in it */
function added<T>(list: T[] | undefined, item: T): T[] {
  if (list === undefined) return [item];
  list.push(item);
  return list;
}

/**
 * A rule's match. `text`, `truncated` and `recipients` are made when first read: the alert engine reads none of
 * them (it renders with the alert's ref), and making them rendered every alert's text twice (issue 14, session 9).
 */
class Match implements RuleMatch {
  readonly priority: Priority;
  private full: string | undefined;
  private fitted = '';
  private listed: Recipient[] | undefined;

  /**
   * What rendering needs, as fields: no closures over the evaluation (its context, `Date` and view), since a
   * match waits with its message for the commit's fsync, copied by each scavenge meanwhile (issue 14).
   */
  constructor(
    readonly rule: CompiledRule,
    readonly device: RuleMatch['device'],
    private readonly template: CompiledTemplate,
    private readonly payload: unknown,
    private readonly rawText: string,
    private readonly topic: string,
    private readonly time: string,
    private readonly maxParts: number | undefined,
    private readonly defaultRef: string,
  ) {
    this.priority = rule.priority;
  }

  render(alertRef: string): string {
    return fitToParts(this.template.render(this.view(alertRef)), this.maxParts);
  }

  get recipients(): Recipient[] {
    this.listed ??= [...this.rule.recipients];
    return this.listed;
  }

  get text(): string {
    this.rendered();
    return this.fitted;
  }

  get truncated(): boolean {
    this.rendered();
    return this.fitted !== this.full;
  }

  private view(alertRef: string): TemplateView {
    const about = this.device;
    return {
      device: about ? { id: about.id, name: about.name ?? about.id } : undefined,
      payload: this.payload,
      rawPayload: this.rawText,
      topic: this.topic,
      time: this.time,
      rule: { id: this.rule.id },
      alert: { ref: alertRef },
    };
  }

  private rendered(): void {
    if (this.full !== undefined) return;
    this.full = this.template.render(this.view(this.defaultRef));
    this.fitted = fitToParts(this.full, this.maxParts);
  }
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
  /**
   * One Route per answer, shared by every topic with it (the tries' answers are shared arrays): a new topic
   * costs the cache an entry, not five objects promoted to the old generation. At most MAX_CACHED_TOPICS.
   */
  private readonly sharedRoutes = new Map<readonly RuleEntry[], Map<readonly CompiledRule[], Route>>();
  private built = 0;
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
    const candidates = this.byTopic.matchShared(topic);
    const byResolveTopic = this.byResolveTopic.matchShared(topic);
    const route =
      candidates.length === 0 && byResolveTopic.length === 0
        ? NO_ROUTE
        : this.sharedRoute(candidates, byResolveTopic);
    this.routes.set(topic, route);
    return route;
  }

  private sharedRoute(candidates: readonly RuleEntry[], byResolveTopic: readonly CompiledRule[]): Route {
    let routes = this.sharedRoutes.get(candidates);
    if (routes === undefined) {
      if (this.sharedRoutes.size >= MAX_CACHED_TOPICS) this.sharedRoutes.clear();
      routes = new Map();
      this.sharedRoutes.set(candidates, routes);
    }
    let route = routes.get(byResolveTopic);
    if (route === undefined) {
      route = {
        candidates,
        hint: fieldOf(candidates),
        numberTests: numberTestsOf(candidates),
        byResolveTopic,
        withResolveWhen: candidates.filter((e) => e.resolveCondition),
      };
      this.built++;
      routes.set(byResolveTopic, route);
    }
    return route;
  }

  /** topics in the per-topic cache (at most MAX_CACHED_TOPICS) */
  get cachedTopics(): number {
    return this.routes.size;
  }

  /** Routes built so far: one per distinct answer, shared by the topics that have it */
  get routesBuilt(): number {
    return this.built;
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
    const route = this.route(topic);
    const candidates = route.candidates;
    if (candidates.length === 0) return NOTHING;
    const maxBytes = ctx.maxPayloadBytes ?? DEFAULT_MAX_RULE_PAYLOAD_BYTES;
    if (payload.length > maxBytes) {
      const tooBig = `the payload on ${topic} is ${payload.length} bytes, over the ${maxBytes} the rules evaluate; not evaluated`;
      return { matches: NO_MATCHES, diagnostics: [tooBig] };
    }
    // Most telemetry meets none of its thresholds: when the field is a number that no test takes, the answer
    // below would be nothing (a number never makes a comparison fail), so it is given without the objects.
    const tests = route.numberTests;
    if (tests !== undefined) {
      const value = PayloadFields.numberField(payload, route.hint!);
      if (value !== undefined && !passesAny(tests, value)) return NOTHING;
    }
    const message = new MessageView(topic, payload, ctx);
    // read once, by the first rule with a `when`
    let data: ReturnType<typeof conditionData> | undefined;
    let matches: RuleMatch[] | undefined;
    let diagnostics: string[] | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const entry = candidates[i]!;
      const condition = entry.condition;
      if (condition) {
        data ??= conditionData(message, route.hint);
        if (typeof data === 'string') {
          diagnostics = added(
            diagnostics,
            `rule ${entry.rule.id}: the payload on ${topic} is ${data}, so 'when' cannot be checked`,
          );
          continue;
        }
        const result = condition(data);
        if (!result.ok) {
          diagnostics = added(
            diagnostics,
            `rule ${entry.rule.id}: 'when: ${entry.rule.when}' failed on ${topic}: ${result.error}`,
          );
          continue;
        }
        if (!result.match) continue;
      }
      if (entry.template.needsJson && !message.parsed().ok)
        diagnostics = added(
          diagnostics,
          `rule ${entry.rule.id}: the payload on ${topic} is not JSON; payload fields render empty`,
        );
      matches = added(matches, this.matchOf(entry, message, ctx));
    }
    if (matches === undefined && diagnostics === undefined) return NOTHING;
    return { matches: matches ?? NO_MATCHES, diagnostics: diagnostics ?? NO_DIAGNOSTICS };
  }

  /** The match of a rule whose condition holds (or that has none): its text rendered and cut to fit. */
  private matchOf(entry: RuleEntry, message: MessageView, ctx: EvaluateContext): RuleMatch {
    const { rule, template } = entry;
    const rawText = message.text();
    let payloadValue: unknown = rawText;
    if (template.needsJson) {
      const json = message.parsed();
      if (json.ok) payloadValue = json.value;
    }
    // what max_parts cannot carry is cut here, so the stored text is the sent text
    return new Match(
      rule,
      message.device(),
      template,
      payloadValue,
      rawText,
      message.topic,
      message.formattedTime(),
      rule.maxParts ?? ctx.maxParts,
      ctx.alertRef ?? '',
    );
  }

  resolutions(topic: string, payload: Buffer, ctx: EvaluateContext): Resolution[] {
    const route = this.route(topic);
    const withWhen = this.anyResolveWhen ? route.withResolveWhen : NO_ROUTE.withResolveWhen;
    if (route.byResolveTopic.length === 0 && withWhen.length === 0) return NO_RESOLUTIONS;
    const device = deviceOf(topic, ctx);
    const out: Resolution[] = route.byResolveTopic.map((rule) => ({ rule, device, reason: 'resolve_topic' }));
    if (withWhen.length === 0) return out;
    if (payload.length > (ctx.maxPayloadBytes ?? DEFAULT_MAX_RULE_PAYLOAD_BYTES)) return out;
    const data = conditionData(new MessageView(topic, payload, ctx));
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
