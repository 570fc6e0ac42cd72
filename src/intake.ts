import type { BusMessage } from './broker/bus.js';
import type { Logger } from './logger.js';
import type { EvaluateContext, Resolution, RuleMatch, RuleSet } from './rules/engine.js';
import type { SmsRecord } from './store/store.js';
import { deviceTopics } from './topics.js';

export interface DeviceLookup {
  /** the registered device with this id, if any */
  device(id: string): { id: string; name?: string | undefined } | undefined;
}

export interface IntakeOptions {
  /** the rule set in force; a getter so hot reload swaps it without restarting intake */
  rules: () => RuleSet;
  devices: DeviceLookup;
  logger: Logger;
  /** alert policies (src/alerts): decide which SMS the matches make and commit them */
  alerts: AlertProcessor;
  /** `limits.rule_payload_bytes` and `smpp.max_parts`, for the rules (see EvaluateContext). */
  maxPayloadBytes?: number | undefined;
  maxParts?: number | undefined;
}

export interface AlertProcessor {
  /** Resolves once the SMS it decided on are committed (and announced as `sms.status` events). */
  process(matches: RuleMatch[], resolutions: Resolution[], now: Date): Promise<SmsRecord[]>;
}

/**
 * A message's device and time, looked up when a rule first needs them: most messages that reach the rules
 * match none, and neither a registry lookup nor a `Date` is free at tens of thousands of messages a second.
 */
class MessageContext implements EvaluateContext {
  private found: { id: string; name?: string | undefined } | undefined | null = null;
  private at: Date | undefined;
  readonly maxPayloadBytes: number | undefined;
  readonly maxParts: number | undefined;

  constructor(
    private readonly topic: string,
    private readonly options: IntakeOptions,
  ) {
    this.maxPayloadBytes = options.maxPayloadBytes;
    this.maxParts = options.maxParts;
  }

  get device(): { id: string; name?: string | undefined } | undefined {
    if (this.found === null) {
      const id = deviceTopics.deviceIdOf(this.topic);
      this.found = id === undefined ? undefined : (this.options.devices.device(id) ?? { id });
    }
    return this.found;
  }

  get now(): Date {
    this.at ??= new Date();
    return this.at;
  }
}

const DIAGNOSTIC_LOG_INTERVAL_MS = 60_000;
const noop = (): void => undefined;

/**
 * Turns device messages into committed SMS. Runs before the broker acknowledges a message, so the promise it
 * returns settles only after the commit (guarantee 1), and it never rejects for bad input: only a store
 * failure withholds the PUBACK.
 */
export class Intake {
  private readonly log: Logger;
  private readonly lastDiagnostic = new Map<string, number>();
  messagesIn = 0;
  ruleHits = 0;

  constructor(private readonly options: IntakeOptions) {
    this.log = options.logger.child({ module: 'intake' });
  }

  /**
   * Undefined when the message produced nothing to commit (most telemetry), decided synchronously so that the
   * broker acknowledges it without a promise hop; otherwise a promise that settles after the commit.
   */
  readonly handle = (message: BusMessage, clientId: string | null): Promise<void> | undefined => {
    this.messagesIn++;
    const rules = this.options.rules();
    const topic = message.topic;
    if (!rules.canMatch(topic)) return undefined;
    const ctx = new MessageContext(topic, this.options);
    const { matches, diagnostics } = rules.evaluate(topic, message.payload, ctx);
    if (diagnostics.length > 0) this.report(topic, clientId, diagnostics);
    const resolutions = rules.resolutions(topic, message.payload, ctx);
    if (matches.length === 0 && resolutions.length === 0) return undefined;
    this.ruleHits += matches.length;
    return this.options.alerts.process(matches, resolutions, ctx.now).then(noop);
  };

  /** Bad payloads are said once a minute per topic, not once per message. */
  private report(topic: string, clientId: string | null, diagnostics: string[]): void {
    const now = Date.now();
    const last = this.lastDiagnostic.get(topic) ?? 0;
    if (now - last < DIAGNOSTIC_LOG_INTERVAL_MS) return;
    if (this.lastDiagnostic.size > 10_000) this.lastDiagnostic.clear();
    this.lastDiagnostic.set(topic, now);
    this.log.warn({ topic, client: clientId, problems: diagnostics }, 'message could not be fully evaluated');
  }
}
