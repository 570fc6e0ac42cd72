import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkCommand } from '../../../src/cli/check.js';
import { runCli } from '../../../src/cli/main.js';
import { captureIo } from './helpers.js';

const BRIDGE = `mqtt: { port: 0 }
smpp:
  connections:
    - { id: main, url: "smpp://127.0.0.1:2775", system_id: bridge }
rules: [rules/*.yaml]
devices: [devices/*.yaml]
`;
const RULES = `contacts:
  alice: { phone: "+447700900001" }
groups:
  field: [alice]
rules:
  - id: hot
    topic: devices/+/alerts/overheat
    when: temp > 90
    to: [field]
    text: "{{device.name}} at {{payload.temp}}C"
`;
const DEVICES = `type: pump
commands:
  stop: { payload: { action: stop } }
devices:
  - id: pump-7
    password_hash: "scrypt:16384:8:1:TMU9kinzlwHxVzaZygxH6A==:UmjkOX+9lJHUEMC+YgHWE1vAhV4uh53RC9oO/OgPq6o="
    operators: [field]
`;

let dir: string;
function write(files: Record<string, string>): void {
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'sms-bridge-check-'));
  write({ 'bridge.yaml': BRIDGE, 'rules/pumps.yaml': RULES, 'devices/pump.yaml': DEVICES });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('check', () => {
  it('says ok and exits 0 for good files', async () => {
    const io = captureIo(dir);
    expect(await checkCommand(['-c', 'bridge.yaml'], io)).toBe(0);
    expect(io.out).toBe('ok: bridge.yaml; 1 rule(s) in 1 file(s); 1 device(s) in 1 file(s)\n');
  });

  it('reports every problem of every file at file:line:col and exits 1', async () => {
    write({
      'bridge.yaml': BRIDGE.replace('port: 0', 'prot: 0'),
      'rules/pumps.yaml': RULES.replace('temp > 90', 'temp >').replace('[field]', '[feild]'),
      'devices/pump.yaml': DEVICES.replace('operators: [field]', 'operators: [nobody]'),
    });
    const io = captureIo(dir);
    expect(await checkCommand(['--config', 'bridge.yaml'], io)).toBe(1);
    const lines = io.err.trim().split('\n');
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^bridge\.yaml:1:9 mqtt\.prot: unknown key 'prot' \(did you mean 'port'\?\)$/),
        expect.stringMatching(/^rules\/pumps\.yaml:8:11 rules\.0\.when: /),
        expect.stringMatching(/^rules\/pumps\.yaml:9:10 rules\.0\.to\.0: unknown contact or group 'feild'/),
        expect.stringMatching(/^devices\/pump\.yaml:7:17 /),
      ]),
    );
    expect(lines.at(-1)).toBe('4 problem(s) in 3 file(s)');
  });

  it('still checks the rule and device files when the bridge configuration is invalid', async () => {
    write({ 'bridge.yaml': `${BRIDGE}bogus: 1\n`, 'rules/pumps.yaml': RULES.replace('text:', 'txt:') });
    const io = captureIo(dir);
    expect(await checkCommand(['-c', 'bridge.yaml'], io)).toBe(1);
    expect(io.err).toMatch(/^bridge\.yaml:7:1 /m);
    expect(io.err).toMatch(/^rules\/pumps\.yaml:10:5 rules\.0\.txt: unknown key/m);
  });

  it('names a file that cannot be read', async () => {
    const io = captureIo(dir);
    expect(await checkCommand(['-c', 'missing.yaml'], io)).toBe(1);
    expect(io.err).toMatch(/cannot read .*missing\.yaml: no such file/);
  });

  it('prints JSON for tools with --json', async () => {
    write({ 'rules/pumps.yaml': RULES.replace('priority', 'x').replace('when: temp > 90', 'when: temp >') });
    const io = captureIo(dir);
    expect(await checkCommand(['-c', 'bridge.yaml', '--json'], io)).toBe(1);
    const result = JSON.parse(io.out);
    expect(result.ok).toBe(false);
    expect(result.problems[0]).toMatchObject({
      file: 'rules/pumps.yaml',
      line: 8,
      col: 11,
      path: 'rules.0.when',
    });
  });

  it('checks that the TLS certificate files can be read', async () => {
    write({
      'bridge.yaml': BRIDGE.replace(
        'mqtt: { port: 0 }',
        'mqtt: { port: 0, tls: { cert: no.pem, key: no.key } }',
      ),
    });
    const io = captureIo(dir);
    expect(await checkCommand(['-c', 'bridge.yaml'], io)).toBe(1);
    expect(io.err).toContain('mqtt.tls.cert: cannot read no.pem: ENOENT');
  });
});

describe('the command line', () => {
  it.each([
    [['--help'], 0, /^Usage: mqtt-sms-bridge <command>/],
    [['help', 'check'], 0, /^Usage: mqtt-sms-bridge check/],
    [['check', '--help'], 0, /^Usage: mqtt-sms-bridge check/],
    [['start', '-h'], 0, /^Usage: mqtt-sms-bridge start/],
    [['test-rule', '--help'], 0, /^Usage: mqtt-sms-bridge test-rule/],
    [['hash-password', '--help'], 0, /^Usage: mqtt-sms-bridge hash-password/],
    [['simulate', '--help'], 0, /^Usage: mqtt-sms-bridge simulate/],
  ])('%j prints its usage', async (argv, code, usage) => {
    const io = captureIo(dir);
    expect(await runCli(argv, io)).toBe(code);
    expect(io.out).toMatch(usage);
  });

  it.each([[['frobnicate']], [['check', '--bogus']], [['test-rule', '--topic', 'a']], [[]]])(
    '%j is a usage error (exit 2)',
    async (argv) => {
      const io = captureIo(dir);
      expect(await runCli(argv, io)).toBe(2);
      expect(io.out + io.err).toMatch(/Usage: mqtt-sms-bridge/);
    },
  );
});
