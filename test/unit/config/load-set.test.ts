import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkCommand } from '../../../src/cli/check.js';
import { formatIssue } from '../../../src/errors.js';
import { loadConfigSet } from '../../../src/reload.js';
import { captureIo } from '../cli/helpers.js';

/** Issue 15, item 4: a YAML syntax error in a rule file does not send the reader to the device files. */

const RULES = 'config/rules/pumps.yaml';
const GLOBS = { rules: ['config/rules/*.yaml'], devices: ['devices/*.yaml'] };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sms-bridge-load-set-'));
  for (const d of ['config', 'devices']) cpSync(d, path.join(dir, d), { recursive: true });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** The demo rule file with `edit` applied. */
function editRules(edit: (text: string) => string): void {
  const file = path.join(dir, RULES);
  writeFileSync(file, edit(readFileSync(file, 'utf8')));
}

describe('a rule file with a YAML syntax error', () => {
  beforeEach(() => editRules((t) => t.replace('name: Carol }', 'name: Carol')));

  it('reports the syntax error only, and says the operator check was skipped', () => {
    const result = loadConfigSet(GLOBS, dir);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map(formatIssue)).toEqual([
      'config/rules/pumps.yaml:8:1 YAML syntax error: Flow map in block collection must be sufficiently indented and end with a }',
    ]);
    expect(result.skipped).toEqual([
      'device operators not checked: they name contacts and groups of config/rules/pumps.yaml, which could not be ' +
        'parsed; fix the YAML syntax error first',
    ]);
  });

  it('check prints the syntax error, no device problem, and what it skipped', async () => {
    const io = captureIo(dir);
    expect(await checkCommand([], io)).toBe(1);
    expect(io.err).not.toContain('devices/pump.yaml');
    expect(io.err).toContain('config/rules/pumps.yaml:8:1 YAML syntax error');
    expect(io.err).toContain('\n1 problem(s) in 1 file(s)\nskipped: device operators not checked');
  });
});

describe('rule files that parse', () => {
  it('still check every device operator, also when the rules do not compile', () => {
    editRules((t) =>
      t.replace('priority: critical', 'priority: urgent').replace('north-field:', 'north-feld:'),
    );
    const result = loadConfigSet(GLOBS, dir);
    if (result.ok) throw new Error('expected problems');
    expect(result.skipped).toEqual([]);
    expect(result.issues.map((i) => `${i.file}:${i.line}`)).toContain('devices/pump.yaml:21');
  });
});
