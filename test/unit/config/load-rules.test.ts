import { describe, expect, it } from 'vitest';
import { loadRuleFiles } from '../../../src/config/load-rules.js';
import { FileIssuesError } from '../../../src/errors.js';

describe('loadRuleFiles', () => {
  it('loads the shipped demo rules: pump-overheat to a group, and low battery', () => {
    const rules = loadRuleFiles(['config/rules/*.yaml'], process.cwd());
    expect(rules.rules.map((r) => r.id)).toEqual(['pump-overheat', 'pump-low-battery']);
    const overheat = rules.rules[0]!;
    expect(overheat).toMatchObject({
      topic: 'devices/+/alerts/overheat',
      when: 'temp > 90',
      priority: 'critical',
    });
    expect(overheat.text).toBe('{{device.name}} overheating: {{payload.temp}}C. Reply ACK {{alert.ref}}');
    expect(overheat.recipients.length).toBeGreaterThan(0);
    const { matches } = rules.evaluate('devices/pump-7/alerts/overheat', Buffer.from('{"temp":95}'), {
      device: { id: 'pump-7', name: 'Pump 7' },
      now: new Date(0),
    });
    expect(matches.map((m) => m.render('42'))).toEqual(['Pump 7 overheating: 95C. Reply ACK 42']);
  });

  it('merges the files a glob matches, relative to cwd, skipping dotfiles', () => {
    const rules = loadRuleFiles(['rules/good/*.yaml'], 'test/fixtures/config');
    expect(rules.rules.map((r) => [r.id, r.file])).toEqual([
      ['pump-overheat', 'rules/good/pumps.yaml'],
      ['any-alert', 'rules/good/pumps.yaml'],
      ['retired', 'rules/good/pumps.yaml'],
    ]);
    expect([...rules.contacts.keys()]).toEqual(['alice', 'carol']);
  });

  it('reports problems of every file at once, in pattern order, with the paths as found by the glob', () => {
    let error: unknown;
    try {
      loadRuleFiles(['rules/bad/duplicate-*.yaml', 'rules/bad/bad-priority.yaml'], 'test/fixtures/config');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FileIssuesError);
    expect((error as FileIssuesError).code).toBe('ERR_RULE_INVALID');
    expect((error as FileIssuesError).issues.map((i) => `${i.file}:${i.line}:${i.col}`)).toEqual([
      'rules/bad/duplicate-b.yaml:6:9',
      'rules/bad/bad-priority.yaml:2:3',
      'rules/bad/bad-priority.yaml:4:9',
      'rules/bad/bad-priority.yaml:8:15',
    ]);
  });

  it('returns an empty rule set when the glob matches nothing', () => {
    expect(loadRuleFiles(['nowhere/*.yaml'], 'test/fixtures/config').rules).toEqual([]);
  });
});
