import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { type KnownRecipients, loadDeviceFiles, loadDevices } from '../../../src/devices/registry.js';
import { FileIssuesError, isBridgeError } from '../../../src/errors.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const fixtures = path.join(root, 'test/fixtures/devices');
const known: KnownRecipients = {
  contacts: new Set(['alice', 'bob', 'carol']),
  groups: new Set(['north-field', 'supervisors']),
};
const HASH = 'scrypt:1024:8:1:y5yF+yUvAyRhWsCqIs2YfQ==:nnGGQ6fJIX39da852iNIQh2LEn6HeMTYoD7Ud7C5uHA=';

/** The issues of loading these files, as `file:line:col message` strings. */
function issuesOf(files: Array<{ file: string; text: string }>): string[] {
  try {
    loadDeviceFiles(files, known);
  } catch (err) {
    expect(isBridgeError(err, 'ERR_DEVICE_INVALID')).toBe(true);
    return (err as FileIssuesError).issues.map((i) => `${i.file}:${i.line}:${i.col} ${i.message}`);
  }
  throw new Error('expected the files to be refused');
}

function file(text: string, name = 'devices/x.yaml') {
  return { file: name, text };
}

describe('the demo devices file', () => {
  const registry = loadDevices(
    ['devices/*.yaml'],
    { contacts: new Set(['alice']), groups: new Set(['north-field']) },
    root,
  );

  it('loads pump-7 and pump-9 with the pump commands', () => {
    expect(registry.all().map((d) => d.id)).toEqual(['pump-7', 'pump-9']);
    const pump = registry.device('PUMP-7');
    expect(pump).toMatchObject({
      id: 'pump-7',
      name: 'North field pump 7',
      type: 'pump',
      operators: ['north-field'],
    });
    expect([...pump!.commands.keys()]).toEqual(['stop', 'start', 'setpoint']);
    expect(pump!.commands.get('setpoint')?.args).toEqual([
      { name: 'value', type: 'number', min: 0, max: 120, integer: false },
    ]);
  });

  it('checks the documented demo passwords', async () => {
    await expect(registry.verifyPassword('pump-7', 'pump7-demo')).resolves.toBe(true);
    await expect(registry.verifyPassword('pump-9', Buffer.from('pump9-demo'))).resolves.toBe(true);
    await expect(registry.verifyPassword('pump-7', 'pump9-demo')).resolves.toBe(false);
    await expect(registry.verifyPassword('pump-8', 'pump7-demo')).resolves.toBe(false);
  });

  it('refuses the demo file when its operators are not defined', () => {
    expect(() => loadDevices(['devices/*.yaml'], { contacts: new Set(), groups: new Set() }, root)).toThrow(
      FileIssuesError,
    );
  });
});

describe('lookups', () => {
  const registry = loadDevices(['good/*.yaml'], known, fixtures);

  it('finds types defined in another file', () => {
    expect(registry.device('valve-1')?.commands.get('mode')?.args[0]).toMatchObject({ type: 'enum' });
  });

  it.each([
    ['valve-1', 'valve-1'],
    ['VALVE-1', 'valve-1'],
    ['valve_2', 'Valve_2'],
    ['valve-3', undefined],
  ])('device(%j) -> %j', (id, expected) => {
    expect(registry.device(id)?.id).toBe(expected);
  });

  it.each([
    ['East gate valve', 'valve-1'],
    ['  east   GATE valve ', 'valve-1'],
    ['Valve_2', 'Valve_2'], // no name: the id is the name
    ['West gate valve', undefined],
  ])('byName(%j) -> %j', (name, expected) => {
    expect(registry.byName(name)?.id).toBe(expected);
  });

  it.each([
    ['valve 1', 'valve-1'],
    ['VALVE1', 'valve-1'],
    ['eastgatevalve', 'valve-1'],
    ['valve 2', 'Valve_2'],
    ['valve', undefined],
  ])('resolve(%j) -> %j', (text, expected) => {
    expect(registry.resolve(text)?.id).toBe(expected);
  });

  it('does not guess between two devices with the same name', () => {
    const twins = loadDeviceFiles(
      [
        file(`type: t
commands: {}
devices:
  - { id: a, name: Twin, password_hash: "${HASH}" }
  - { id: b, name: twin, password_hash: "${HASH}" }
  - { id: c-1, password_hash: "${HASH}" }
  - { id: c1, password_hash: "${HASH}" }
`),
      ],
      known,
    );
    expect(twins.byName('twin')).toBeUndefined();
    expect(twins.resolve('twin')).toBeUndefined();
    expect(twins.resolve('c 1')).toBeUndefined();
    expect(twins.resolve('c-1')?.id).toBe('c-1');
  });

  it('verifies device passwords by id, ignoring case', async () => {
    await expect(registry.verifyPassword('VALVE-1', 'valve-1-secret')).resolves.toBe(true);
    await expect(registry.verifyPassword('valve-1', 'valve-2-secret')).resolves.toBe(false);
  });

  it('an empty list of files is an empty registry', () => {
    expect(loadDeviceFiles([], known).size).toBe(0);
    expect(loadDevices(['missing/*.yaml'], known, fixtures).size).toBe(0);
  });
});

describe('device file problems, located', () => {
  it('reports every problem of two files at once, with file:line:col', () => {
    expect(() => loadDevices(['bad/*.yaml'], known, fixtures)).toThrow(FileIssuesError);
    let issues: string[] = [];
    try {
      loadDevices(['bad/*.yaml'], known, fixtures);
    } catch (err) {
      issues = (err as FileIssuesError).issues.map((i) => `${i.file}:${i.line}:${i.col} ${i.message}`);
    }
    expect(issues).toEqual([
      'bad/pumps.yaml:7:30 expected type: number, enum or string',
      'bad/pumps.yaml:11:52 max (1) is below min (10)',
      expect.stringMatching(/^bad\/pumps\.yaml:15:20 expected a password hash .*not a plain password/),
      "bad/pumps.yaml:16:17 unknown operator 'north-feld': not a contact or group of the rule files (did you mean 'north-field'?)",
      "bad/pumps.yaml:17:9 duplicate device id 'PUMP-1' (also at bad/pumps.yaml:14:9; ids ignore case)",
      "bad/pumps.yaml:19:5 unknown key 'operatrs' (did you mean 'operators'?)",
      "bad/tanks.yaml:1:7 unknown type 'tank': no device file defines its commands; add `commands:` to define it here",
      "bad/tanks.yaml:3:9 duplicate device id 'pump-1' (also at bad/pumps.yaml:14:9; ids ignore case)",
      "bad/tanks.yaml:5:17 unknown operator 'nobody': not a contact or group of the rule files",
    ]);
  });

  it.each([
    [
      'a placeholder naming no argument',
      `type: t
commands:
  go:
    args: [{ name: speed, type: number }]
    payload: { speed: "{{args.sped}}" }
`,
      ["devices/x.yaml:5:23 '{{args.sped}}' names no argument of this command; arguments: speed"],
    ],
    [
      'a placeholder other than args',
      `type: t
commands:
  go:
    payload: { who: ["{{device.id}}"] }
`,
      ["devices/x.yaml:4:22 unknown placeholder '{{device.id}}'; expected {{args.<name>}}"],
    ],
    [
      'a bad pattern and a duplicate argument',
      `type: t
commands:
  go:
    args:
      - { name: a, type: string, pattern: "[a-" }
      - { name: a, type: enum, values: [x, X] }
    payload: {}
`,
      [
        expect.stringMatching(/^devices\/x\.yaml:5:43 not a regular expression/),
        "devices/x.yaml:6:17 duplicate argument 'a'",
        "devices/x.yaml:6:44 duplicate value 'X' (SMS ignores case)",
      ],
    ],
    [
      'reserved words as command names and device ids',
      `type: t
commands:
  status: { payload: {} }
  two words: { payload: {} }
devices:
  - { id: ACK, password_hash: "${HASH}" }
  - { id: "pump/7", password_hash: "${HASH}" }
`,
      [
        "devices/x.yaml:3:11 'status' is a word of the SMS grammar, not a command name",
        "devices/x.yaml:4:14 command 'two words': expected one word (letters, digits, _ or -)",
        "devices/x.yaml:6:11 'ACK' is a word of the SMS grammar, not a device id",
        'devices/x.yaml:7:11 expected letters, digits, _ or -',
      ],
    ],
    [
      'commands differing only in case',
      `type: t
commands:
  stop: { payload: {} }
  STOP: { payload: {} }
`,
      ["devices/x.yaml:4:9 command 'STOP' repeats 'stop' (SMS ignores case)"],
    ],
    [
      'password hashes that are not scrypt hashes',
      `type: t
commands: {}
devices:
  - { id: a, password_hash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA" }
  - { id: b, password_hash: "scrypt:1000:8:1:c2FsdHNhbHQ=:aGFzaGhhc2hoYXNoaGFzaA==" }
  - { id: c }
`,
      [
        expect.stringMatching(/^devices\/x\.yaml:4:29 argon2 hashes need Node 24/),
        'devices/x.yaml:5:29 N must be a power of two from 2 to 1048576',
        expect.stringMatching(/^devices\/x\.yaml:6:5 .*required.*expected a string/),
      ],
    ],
    [
      'a YAML syntax error',
      'type: t\ncommands: {\n',
      [expect.stringMatching(/^devices\/x\.yaml:\d+:\d+ YAML syntax error/)],
    ],
    ['an empty file', '', ['devices/x.yaml:1:1 expected a map, got an empty value']],
  ])('%s', (_name, text, expected) => {
    expect(issuesOf([file(text)])).toEqual(expected);
  });

  it('a type defined twice points at the first definition', () => {
    const text = 'type: pump\ncommands: {}\n';
    expect(issuesOf([file(text, 'devices/a.yaml'), file(text, 'devices/b.yaml')])).toEqual([
      "devices/b.yaml:1:7 type 'pump' already has its commands in devices/a.yaml:1:7",
    ]);
  });

  it('a device of a type whose file is broken is not also reported as of an unknown type', () => {
    const broken = 'type: pump\ncommands: { stop: { payload: 1 } }\n';
    const user = `type: pump\ndevices: [{ id: p, password_hash: "${HASH}" }]\n`;
    expect(issuesOf([file(broken, 'devices/a.yaml'), file(user, 'devices/b.yaml')])).toEqual([
      'devices/a.yaml:2:30 expected a map, got 1',
    ]);
  });
});

describe('client ids', () => {
  it('reserves a device its id (any case) and the client_ids it lists', () => {
    const registry = loadDeviceFiles(
      [
        {
          file: 'devices/pump.yaml',
          text: `type: pump
commands: { stop: { payload: { action: stop } } }
devices:
  - { id: pump-7, password_hash: "${HASH}", client_ids: [pump-7-diag, "gw/7"] }
`,
        },
      ],
      known,
    );
    expect(registry.clientIdOwner('pump-7-diag')?.id).toBe('pump-7');
    expect(registry.clientIdOwner('gw/7')?.id).toBe('pump-7');
    expect(registry.clientIdOwner('PUMP-7')?.id).toBe('pump-7');
    expect(registry.clientIdOwner('pump-9')).toBeUndefined();
  });

  it('refuses a client id with spaces or control characters, located', () => {
    const load = () =>
      loadDeviceFiles(
        [
          {
            file: 'devices/pump.yaml',
            text: `type: pump
commands: { stop: { payload: { action: stop } } }
devices:
  - { id: pump-7, password_hash: "${HASH}", client_ids: ["a b"] }
`,
          },
        ],
        known,
      );
    expect(load).toThrow(FileIssuesError);
    try {
      load();
    } catch (err) {
      expect((err as FileIssuesError).issues[0]).toMatchObject({ line: 4, path: 'devices.0.client_ids.0' });
    }
  });
});
