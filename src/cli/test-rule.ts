import { explainRule, type RecipientExplanation } from '../alerts/explain.js';
import { formatIssue } from '../errors.js';
import { maskPhone } from '../logger.js';
import type { CompiledRule, RuleSet } from '../rules/engine.js';
import { TopicTrie } from '../rules/topic-trie.js';
import { splitSms } from '../smpp/segment.js';
import { deviceTopics } from '../topics.js';
import { type CliIo, EXIT, parseCommandLine, readAll } from './io.js';
import { DEFAULT_CONFIG, loadEverything } from './load.js';

export const TEST_RULE_USAGE = `Usage: mqtt-sms-bridge test-rule --topic TOPIC --payload PAYLOAD [options]

Dry run: evaluates the rules against one message as if a device had published it, and
prints which rules fire, to whom, the text as it would be sent, its encoding and its
number of SMS parts, and every policy that can change what the rule sends: the rule's own
(cooldown, escalation, receipt_timeout, resolving) and, for each person it can reach, the
digest, caps and quiet hours of the rule files, saying when one cannot apply. Nothing is
sent and no state is changed, so policies that depend on history are described, not applied.

Options:
  -t, --topic TOPIC       the MQTT topic, e.g. devices/pump-7/alerts/overheat
  -p, --payload PAYLOAD   the message, e.g. '{"temp":95}'; '-' reads it from standard input
  -d, --device ID         the device (default: the <id> of a devices/<id>/... topic)
      --alert-ref REF     what {{alert.ref}} renders as (default: 1234)
  -c, --config FILE       bridge configuration (default: config/bridge.yaml)
      --json              print the result as JSON
  -h, --help              show this help
`;

export interface RuleOutcome {
  rule: string;
  file: string;
  priority: string;
  to: Array<{ contact: string; phone: string }>;
  text: string;
  encoding: 'GSM 03.38' | 'UCS2';
  parts: number;
  /** GSM septets or UTF-16 units */
  units: number;
  truncated: boolean;
  /** the rule's own policies */
  policies: string[];
  /** everyone the rule can reach (escalation included) and the file policies that apply to them */
  recipients: RecipientExplanation[];
}

export interface TestRuleResult {
  topic: string;
  device: string | undefined;
  fired: RuleOutcome[];
  /** rules whose topic matches but that did not fire, with why */
  skipped: Array<{ rule: string; reason: string }>;
  diagnostics: string[];
}

export async function testRuleCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(
    argv,
    {
      topic: { type: 'string', short: 't' },
      payload: { type: 'string', short: 'p' },
      device: { type: 'string', short: 'd' },
      'alert-ref': { type: 'string' },
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
    },
    TEST_RULE_USAGE,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const { topic, device } = parsed.values;
  let payload = parsed.values.payload;
  if (topic === undefined || payload === undefined) {
    io.stderr(`--topic and --payload are required\n\n${TEST_RULE_USAGE}`);
    return EXIT.usage;
  }
  if (payload === '-') payload = (await readAll(io.stdin)).replace(/\r?\n$/, '');
  const loaded = loadEverything(parsed.values.config ?? DEFAULT_CONFIG, io.cwd, io.env);
  if (!loaded.config || !loaded.set) {
    for (const error of loaded.errors) io.stderr(`${error}\n`);
    for (const issue of loaded.issues) io.stderr(`${formatIssue(issue)}\n`);
    for (const note of loaded.skipped) io.stderr(`skipped: ${note}\n`);
    io.stderr('\nfix these first (mqtt-sms-bridge check)\n');
    return EXIT.problems;
  }
  const deviceId = device ?? deviceTopics.deviceIdOf(topic);
  const registered = deviceId === undefined ? undefined : loaded.set.devices.device(deviceId);
  const result = testRule(loaded.set.rules, {
    topic,
    payload,
    device: registered ?? (deviceId === undefined ? undefined : { id: deviceId }),
    alertRef: parsed.values['alert-ref'] ?? '1234',
    maxParts: loaded.config.smpp.max_parts,
  });
  const shown = loaded.config.log.show_phone_numbers ? result : maskPhones(result);
  if (parsed.values.json) io.stdout(`${JSON.stringify(shown, null, 2)}\n`);
  else io.stdout(formatResult(shown));
  return EXIT.ok;
}

/** Evaluates one message against a rule set; pure, for the command and its tests. */
export function testRule(
  rules: RuleSet,
  message: {
    topic: string;
    payload: string;
    device: { id: string; name?: string | undefined } | undefined;
    alertRef: string;
    maxParts: number;
    now?: Date;
  },
): TestRuleResult {
  const now = (message.now ?? new Date()).getTime();
  const { matches, diagnostics } = rules.evaluate(message.topic, Buffer.from(message.payload, 'utf8'), {
    device: message.device,
    now: new Date(now),
    alertRef: message.alertRef,
    maxParts: message.maxParts,
  });
  const fired = matches.map((match): RuleOutcome => {
    const explained = explainRule(rules, match.rule, match.priority, now);
    const split = splitSms(match.text, { maxParts: match.rule.maxParts ?? message.maxParts, reference: 0 });
    return {
      rule: match.rule.id,
      file: match.rule.file,
      priority: match.priority,
      to: match.recipients.map((r) => ({ contact: r.contactId, phone: r.phone })),
      text: match.text,
      encoding: split.dataCoding === 0 ? 'GSM 03.38' : 'UCS2',
      parts: split.parts.length,
      units: split.units,
      truncated: split.truncated || match.truncated,
      policies: explained.policies,
      recipients: explained.recipients,
    };
  });
  const trie = new TopicTrie<CompiledRule>();
  for (const rule of rules.rules) trie.add(rule.topic, rule);
  const firedIds = new Set(fired.map((f) => f.rule));
  const skipped = trie
    .match(message.topic)
    .filter((rule) => !firedIds.has(rule.id))
    .map((rule) => ({
      rule: rule.id,
      reason: !rule.enabled
        ? 'disabled (enabled: false)'
        : (diagnostics.find((d) => d.startsWith(`rule ${rule.id}:`)) ?? `'when: ${rule.when}' is false`),
    }));
  return { topic: message.topic, device: message.device?.id, fired, skipped, diagnostics };
}

/** Phone numbers as the logs show them (log.show_phone_numbers). */
function maskPhones(result: TestRuleResult): TestRuleResult {
  return {
    ...result,
    fired: result.fired.map((f) => ({
      ...f,
      to: f.to.map((t) => ({ ...t, phone: maskPhone(t.phone) })),
      recipients: f.recipients.map((r) => ({ ...r, phone: maskPhone(r.phone) })),
    })),
  };
}

function formatResult(result: TestRuleResult): string {
  const lines: string[] = [];
  lines.push(`topic ${result.topic}${result.device ? ` (device ${result.device})` : ''}`);
  if (result.fired.length === 0) lines.push('no rule fires');
  for (const f of result.fired) {
    lines.push('', `rule ${f.rule} fires (${f.file}), priority ${f.priority}`);
    lines.push(`  to:       ${f.to.map((t) => `${t.contact} ${t.phone}`).join(', ') || '(nobody)'}`);
    lines.push(`  text:     ${f.text}`);
    lines.push(
      `  encoding: ${f.encoding}, ${f.units} ${f.encoding === 'UCS2' ? 'UTF-16 units' : 'septets'}, ` +
        `${f.parts} SMS part(s)${f.truncated ? ' (truncated to the part limit)' : ''}`,
    );
    for (const p of f.policies) lines.push(`  policy:   ${p}`);
    for (const r of f.recipients) {
      lines.push(`  ${r.contact === undefined ? '' : `${r.contact} `}${r.phone} (${r.when}):`);
      for (const p of r.policies) lines.push(`    ${p}`);
    }
  }
  for (const s of result.skipped) lines.push('', `rule ${s.rule} does not fire: ${s.reason}`);
  const extra = result.diagnostics.filter((d) => !result.skipped.some((s) => s.reason === d));
  for (const d of extra) lines.push('', `note: ${d}`);
  return `${lines.join('\n')}\n`;
}
