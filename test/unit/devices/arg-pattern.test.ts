import { describe, expect, it } from 'vitest';
import { loadDeviceFiles } from '../../../src/devices/registry.js';
import type { FileIssuesError } from '../../../src/errors.js';
import { decide } from '../../../src/inbound/authorize.js';

const HASH = 'scrypt:1024:8:1:y5yF+yUvAyRhWsCqIs2YfQ==:nnGGQ6fJIX39da852iNIQh2LEn6HeMTYoD7Ud7C5uHA=';
const known = { contacts: new Set(['alice']), groups: new Set<string>() };

const deviceFile = (pattern: string) => ({
  file: 'devices/sign.yaml',
  text: `type: sign
commands:
  label:
    args: [{ name: text, type: string, pattern: "${pattern}", max_length: 160 }]
    payload: { label: "{{args.text}}" }
devices:
  - { id: sign-1, password_hash: "${HASH}", operators: [alice] }
`,
});

describe('device argument patterns (issue 11, attack 8)', () => {
  it('match an operator SMS against (a+)+b in linear time: the SMS is refused, not a stalled CPU', () => {
    const devices = loadDeviceFiles([deviceFile('(a+)+b')], known);
    const ctx = { devices, contactIdsForPhone: () => ['alice'], groupMembers: () => [] };
    // with a backtracking engine 30 a's take minutes (2^30 paths); vitest's 5 s timeout reports the hang
    expect(decide(`sign-1 label ${'a'.repeat(30)}`, '+447700900001', ctx)).toMatchObject({
      kind: 'refused',
      reason: 'bad_argument',
    });
    expect(decide('sign-1 label aaab', '+447700900001', ctx)).toMatchObject({
      kind: 'command',
      args: { text: 'aaab' },
    });
  });

  it.each([
    ['(a)\\\\1', 'a backreference'],
    ['(?=a)a', 'a lookahead'],
  ])('refuses %s (%s) at load, with file:line:col', (pattern) => {
    let issues: string[] = [];
    try {
      loadDeviceFiles([deviceFile(pattern)], known);
    } catch (err) {
      issues = (err as FileIssuesError).issues.map((i) => `${i.file}:${i.line}:${i.col} ${i.message}`);
    }
    expect(issues).toEqual([expect.stringMatching(/^devices\/sign\.yaml:4:49 not a regular expression RE2/)]);
  });
});
