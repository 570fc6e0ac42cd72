import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type FileIssue, FileIssuesError, formatIssue } from '../../../src/errors.js';
import { compileRules, type RuleFileInput } from '../../../src/rules/compile.js';

const BAD = 'test/fixtures/config/rules/bad';
const GOOD = 'test/fixtures/config/rules/good';

function fixture(path: string): RuleFileInput {
  return { file: path, text: readFileSync(path, 'utf8') };
}

function issuesOf(files: RuleFileInput[], options = {}): FileIssue[] {
  try {
    compileRules(files, options);
  } catch (err) {
    if (err instanceof FileIssuesError) {
      expect(err.code).toBe('ERR_RULE_INVALID');
      return err.issues;
    }
    throw err;
  }
  throw new Error('expected ERR_RULE_INVALID');
}

/** One file from inline YAML lines. */
function yaml(...lines: string[]): RuleFileInput[] {
  return [{ file: 'r.yaml', text: `${lines.join('\n')}\n` }];
}

const ALICE = ['contacts:', '  alice: { phone: "+447700900001" }'];

describe('bad rule files: each problem at its exact file:line:col', () => {
  it.each([
    ['bad-priority.yaml', "8:15 rules.0.priority: expected one of critical|high|normal|low, got 'urgent'"],
    ['unknown-contact.yaml', "6:17 rules.0.to.1: unknown contact or group 'alcie' (did you mean 'alice'?)"],
    [
      'invalid-phone.yaml',
      "3:12 contacts.alice.phone: expected an international phone number starting with + and the country code, like +447700900001, got '+44 123'",
    ],
    [
      'bad-when.yaml',
      "6:11 rules.0.when: invalid expression at character 8: expected '-', 'not', 'if', '(', 'Number', 'Symbol', 'String', got '>'",
    ],
    [
      'typo-key.yaml',
      "4:5 rules.0.topic: missing required key (expected a string)\n5:5 rules.0.topc: unknown key 'topc' (did you mean 'topic'?)",
    ],
    [
      'syntax-error.yaml',
      '6:5 YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ],
    ['bad-template.yaml', '7:11 rules.0.text: invalid template: Unclosed section "payload.items" at 20'],
    ['group-cycle.yaml', '4:3 groups.north: groups include each other: north -> south -> north'],
  ])('%s', (name, expected) => {
    const file = `${BAD}/${name}`;
    const issues = issuesOf([fixture(file)]);
    expect(issues.map(formatIssue).join('\n')).toBe(
      expected
        .split('\n')
        .map((line) => `${file}:${line}`)
        .join('\n'),
    );
  });

  it('duplicate rule id across two files: located at the second, naming the first', () => {
    const issues = issuesOf([fixture(`${BAD}/duplicate-a.yaml`), fixture(`${BAD}/duplicate-b.yaml`)]);
    expect(issues).toEqual([
      {
        file: `${BAD}/duplicate-b.yaml`,
        line: 6,
        col: 9,
        path: 'rules.1.id',
        message: `duplicate rule id 'pump-overheat' (first defined at ${BAD}/duplicate-a.yaml:4:9)`,
      },
    ]);
  });

  it('a file with three mistakes gives three issues at once', () => {
    const issues = issuesOf([fixture(`${BAD}/three-mistakes.yaml`)]);
    expect(issues.map((i) => [i.line, i.col, i.path])).toEqual([
      [6, 17, 'rules.0.to.1'],
      [7, 11, 'rules.0.text'],
      [8, 15, 'rules.0.priority'],
    ]);
    expect(issues[1]?.message).toMatch(/^invalid template: unknown template variable 'devise.name'/);
  });

  it('reports the problems of every file, not only the first bad one', () => {
    const issues = issuesOf([fixture(`${BAD}/bad-priority.yaml`), fixture(`${BAD}/syntax-error.yaml`)]);
    expect(issues.map((i) => i.file)).toEqual([`${BAD}/bad-priority.yaml`, `${BAD}/syntax-error.yaml`]);
  });
});

describe('rule checks', () => {
  const rule = (...fields: string[]) =>
    yaml(
      ...ALICE,
      'rules:',
      '  - id: r1',
      '    topic: a/b',
      '    to: [alice]',
      '    text: hi',
      ...fields.map((f) => `    ${f}`),
    );

  it.each([
    [
      'topic: a/#/b',
      '5:12',
      'rules.0.topic',
      "'#' must be a whole level and the last one (as in devices/#), in 'a/#/b'",
    ],
    [
      'resolve_topic: a+',
      '8:20',
      'rules.0.resolve_topic',
      "'+' must be a whole level (as in devices/+/alerts), in 'a+'",
    ],
    ['cooldown: soon', '8:15', 'rules.0.cooldown', /^expected a duration like/],
    ['max_parts: 0', '8:16', 'rules.0.max_parts', 'expected a number >= 1, got 0'],
    ['enabled: "no"', '8:14', 'rules.0.enabled', "expected true or false, got 'no'"],
    [
      'escalate: [{ after: 5m, to: [bob] }]',
      '8:34',
      'rules.0.escalate.0.to.0',
      "unknown contact or group 'bob'",
    ],
    ['escalate: [{ after: 5m }]', '8:16', 'rules.0.escalate.0.to', 'missing required key (expected a list)'],
    ['when: temp > 1 and nope(2)', '8:11', 'rules.0.when', /^unknown function 'nope\(\)'/],
  ])('%s -> %s %s', (field, at, path, message) => {
    // a field given twice is a YAML error, so the replaced fields come from a fresh rule
    const files = field.startsWith('topic:')
      ? yaml(...ALICE, 'rules:', '  - id: r1', `    ${field}`, '    to: [alice]', '    text: hi')
      : rule(field);
    const issues = issuesOf(files);
    expect(issues).toHaveLength(1);
    expect(`${issues[0]?.line}:${issues[0]?.col}`).toBe(at);
    expect(issues[0]?.path).toBe(path);
    expect(issues[0]?.message).toMatch(message);
  });

  it.each([
    [['rules: {}'], '1:8', 'rules', 'expected a list, got a map'],
    [['contacts: [alice]'], '1:11', 'contacts', 'expected a map, got a list'],
    [['rule: []'], '1:1', 'rule', "unknown key 'rule' (did you mean 'rules'?)"],
    [['- a'], '1:1', '', 'expected a map, got a list'],
    [
      ['contacts:', '  "bad id": { phone: "+447700900001" }'],
      '2:3',
      'contacts.bad id',
      /^expected an id of letters/,
    ],
    [
      ['contacts:', '  alice: { phone: "+447700900001", nick: A }'],
      '2:36',
      'contacts.alice.nick',
      "unknown key 'nick'; expected one of phone, name",
    ],
    [['contacts:', '  alice: { phone: "call me" }'], '2:19', 'contacts.alice.phone', /got 'call me'$/],
    [['groups:', '  g: []'], '2:6', 'groups.g', 'expected at least 1 item(s), got 0'],
    [['groups:', '  g: [nobody]'], '2:7', 'groups.g.0', "unknown contact or group 'nobody'"],
    [
      [...ALICE, 'groups:', '  alice: [alice]'],
      '4:3',
      'groups.alice',
      /^'alice' is both a group and a contact \(at r.yaml:2:3\)$/,
    ],
  ])('%j -> %s %s', (lines, at, path, message) => {
    const issues = issuesOf(yaml(...lines));
    expect(issues).toHaveLength(1);
    expect(`${issues[0]?.line}:${issues[0]?.col}`).toBe(at);
    expect(issues[0]?.path).toBe(path);
    expect(issues[0]?.message).toMatch(message);
  });

  it('reports a contact defined in two files at the second, naming the first', () => {
    const issues = issuesOf([
      { file: 'a.yaml', text: ALICE.join('\n') },
      { file: 'b.yaml', text: 'contacts:\n  alice: { phone: "+447700900009" }\n' },
    ]);
    expect(issues).toEqual([
      {
        file: 'b.yaml',
        line: 2,
        col: 3,
        path: 'contacts.alice',
        message: "contact 'alice' is already defined at a.yaml:2:3",
      },
    ]);
  });

  it('reports a group defined in two files', () => {
    const issues = issuesOf([
      { file: 'a.yaml', text: `${ALICE.join('\n')}\ngroups:\n  g: [alice]\n` },
      { file: 'b.yaml', text: 'groups:\n  g: [alice]\n' },
    ]);
    expect(issues.map(formatIssue)).toEqual([
      "b.yaml:2:3 groups.g: group 'g' is already defined at a.yaml:4:3",
    ]);
  });
});

describe('compiled rule set', () => {
  const set = compileRules([fixture(`${GOOD}/contacts.yaml`), fixture(`${GOOD}/pumps.yaml`)]);

  it('keeps every rule with its policy fields in camelCase and durations in ms', () => {
    expect(set.rules.map((r) => r.id)).toEqual(['pump-overheat', 'any-alert', 'retired']);
    expect(set.rules[0]).toEqual({
      id: 'pump-overheat',
      file: `${GOOD}/pumps.yaml`,
      topic: 'devices/+/alerts/overheat',
      when: 'temp > 90 and state == "running"',
      to: ['north-field'],
      recipients: [{ contactId: 'alice', phone: '+447700900001', name: 'Alice' }],
      text: '{{device.name}} overheating: {{payload.temp}}C. Reply ACK {{alert.ref}}',
      priority: 'critical',
      cooldownMs: 600_000,
      escalate: [
        {
          afterMs: 300_000,
          to: ['supervisors'],
          recipients: [{ contactId: 'carol', phone: '+447700900003', name: undefined }],
        },
      ],
      resolveTopic: 'devices/+/alerts/overheat/clear',
      maxParts: 2,
      enabled: true,
    });
    expect(set.rules[1]).toMatchObject({
      priority: 'normal',
      escalate: [],
      enabled: true,
      cooldownMs: undefined,
    });
    expect(set.rules[2]?.enabled).toBe(false);
  });

  it('normalises phone numbers to E.164 and merges contacts and groups of all files', () => {
    expect([...set.contacts.values()]).toEqual([
      { id: 'alice', phone: '+447700900001', name: 'Alice' },
      { id: 'carol', phone: '+447700900003', name: undefined },
    ]);
    expect(set.groups.get('everyone')?.map((r) => r.phone)).toEqual(['+447700900001', '+447700900003']);
  });

  it('resolves ids to recipients, nested groups flattened, deduplicated by phone, unknown ids skipped', () => {
    expect(set.resolveRecipients(['alice', 'everyone', 'nobody']).map((r) => r.contactId)).toEqual([
      'alice',
      'carol',
    ]);
    expect(set.has('supervisors')).toBe(true);
    expect(set.has('nobody')).toBe(false);
    expect(set.contactByPhone('+447700900003')?.id).toBe('carol');
    expect(set.groupsOfPhone('+447700900001')).toEqual(['north-field', 'everyone']);
  });

  it('reads national numbers with a default country', () => {
    const national = compileRules(yaml('contacts:', '  bob: { phone: "07700 900002" }'), {
      defaultCountry: 'GB',
    });
    expect(national.contacts.get('bob')?.phone).toBe('+447700900002');
    expect(issuesOf(yaml('contacts:', '  bob: { phone: "07700 900002" }'))[0]?.path).toBe(
      'contacts.bob.phone',
    );
  });

  it('accepts empty files and files with only some sections', () => {
    expect(compileRules([{ file: 'empty.yaml', text: '' }, ...yaml('rules: []')]).rules).toEqual([]);
  });
});
