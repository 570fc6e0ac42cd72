import { describe, expect, it } from 'vitest';
import { loadDeviceFiles } from '../../../src/devices/registry.js';
import { type AuthorizeContext, authorize, decide } from '../../../src/inbound/authorize.js';
import { parseSms } from '../../../src/inbound/parse.js';
import { helpText, oneSms } from '../../../src/inbound/replies.js';
import { encodeText } from '../../../src/smpp/encoding.js';

const HASH = 'scrypt:1024:8:1:y5yF+yUvAyRhWsCqIs2YfQ==:nnGGQ6fJIX39da852iNIQh2LEn6HeMTYoD7Ud7C5uHA=';

const registry = loadDeviceFiles(
  [
    {
      file: 'devices/pump.yaml',
      text: `type: pump
commands:
  stop: { payload: { action: stop } }
  start: { payload: { action: start } }
  setpoint:
    args: [{ name: value, type: number, min: 0, max: 120 }]
    payload: { action: setpoint, value: "{{args.value}}", note: "set to {{args.value}}" }
devices:
  - { id: pump-7, name: North field pump 7, password_hash: "${HASH}", operators: [north-field] }
  - { id: pump-9, name: North field pump 9, password_hash: "${HASH}", operators: [north-field] }
`,
    },
    {
      file: 'devices/valve.yaml',
      text: `type: valve
commands:
  mode:
    args: [{ name: mode, type: enum, values: [auto, manual] }]
    payload: { action: mode, mode: "{{args.mode}}" }
  label:
    args: [{ name: text, type: string, pattern: "[A-Z][A-Z0-9]{0,7}" }]
    payload: { label: "{{args.text}}" }
  level:
    args:
      - { name: level, type: number, min: -10, max: 10, integer: true }
      - { name: speed, type: enum, values: [1, 2, 3] }
    payload: { set: ["{{args.level}}", "{{args.speed}}"] }
devices:
  - { id: valve-1, password_hash: "${HASH}", operators: [carol] }
  - { id: tank-3, password_hash: "${HASH}", operators: [all-staff] }
`,
    },
  ],
  {
    contacts: new Set(['alice', 'bob', 'carol', 'erin']),
    groups: new Set(['north-field', 'supervisors', 'all-staff']),
  },
);

const ALICE = '+447700900001';
const BOB = '+447700900002';
const CAROL = '+447700900003';
const ERIN = '+447700900005';
const STRANGER = '+447700900099';

const phones: Record<string, string[]> = {
  [ALICE]: ['alice'],
  [BOB]: ['bob'],
  [CAROL]: ['carol'],
  [ERIN]: ['erin'],
};
const groups: Record<string, string[]> = {
  'north-field': ['alice', 'bob'],
  supervisors: ['carol'],
  'all-staff': ['alice', 'bob', 'carol'],
};

const ctx: AuthorizeContext = {
  devices: registry,
  contactIdsForPhone: (phone) => phones[phone] ?? [],
  groupMembers: (id) => groups[id] ?? [],
  pins: new Map([['bob', '4321']]),
};

describe('accepted commands', () => {
  it.each([
    [
      'PUMP-7 STOP',
      ALICE,
      {
        command: 'stop',
        args: {},
        payload: { action: 'stop' },
        reply: 'PUMP-7 STOP sent.',
        contactIds: ['alice'],
      },
    ],
    [
      'pump-7: setpoint 80',
      ALICE,
      {
        command: 'setpoint',
        args: { value: 80 },
        payload: { action: 'setpoint', value: 80, note: 'set to 80' },
        reply: 'PUMP-7 SETPOINT 80 sent.',
      },
    ],
    ['Pump-7 Setpoint 80,5', ALICE, { args: { value: 80.5 }, payload: { action: 'setpoint', value: 80.5 } }],
    ['pump-7 setpoint 0', ALICE, { args: { value: 0 } }],
    ['pump-7 setpoint 120', ALICE, { args: { value: 120 } }],
    ['North field pump 7 stop', ALICE, { command: 'stop' }],
    ['pump 7 stop', ALICE, { command: 'stop' }],
    ['PUMP7 STOP', ALICE, { command: 'stop' }],
    ['PIN 4321 PUMP-7 STOP', BOB, { command: 'stop', contactIds: ['bob'] }],
    ['PUMP-7 STOP PIN 4321', BOB, { command: 'stop' }],
    ['PIN 9999 PUMP-7 STOP', ALICE, { command: 'stop' }], // alice has no PIN: one sent is ignored
    ['VALVE-1 MODE Manual', CAROL, { args: { mode: 'manual' }, payload: { action: 'mode', mode: 'manual' } }],
    ['valve-1 label GATE2', CAROL, { args: { text: 'GATE2' }, payload: { label: 'GATE2' } }],
    ['tank-3 level -5 2', ALICE, { args: { level: -5, speed: 2 }, payload: { set: [-5, 2] } }],
    ['tank-3 level 10 3', CAROL, { args: { level: 10, speed: 3 }, reply: 'TANK-3 LEVEL 10 3 sent.' }],
  ])('%j from %s', (text, sender, expected) => {
    const decision = decide(text, sender, ctx);
    expect(decision).toMatchObject({ kind: 'command', ...expected });
  });

  it('resolves the device to the registered one', () => {
    const decision = decide('PUMP-7 STOP', ALICE, ctx);
    expect(decision.kind === 'command' && decision.device.id).toBe('pump-7');
  });
});

describe('refusals, each with a short reply', () => {
  it.each([
    ['PUMP-7 STOP', STRANGER, 'unknown_sender', 'This number may not send commands to the SMS bridge.'],
    ['PUMP-7 STOP', ERIN, 'not_operator', 'You may not use PUMP-7.'],
    ['PUMP-7 STOP', CAROL, 'not_operator', 'You may not use PUMP-7.'],
    ['VALVE-1 MODE AUTO', ALICE, 'not_operator', 'You may not use VALVE-1.'],
    ['PUMP-8 STOP', ALICE, 'unknown_device', "Unknown device 'PUMP-8'. Your devices: PUMP-7, PUMP-9, TANK-3"],
    ['PUMP-8 STOP', ERIN, 'unknown_device', "Unknown device 'PUMP-8'. Send HELP for what you can do."],
    [
      'PUMP-7 STOPP',
      ALICE,
      'unknown_command',
      "PUMP-7: unknown command 'STOPP'. Try: STOP, START, SETPOINT <0-120>",
    ],
    ['PUMP-7 SETPOINT 150', ALICE, 'bad_argument', "PUMP-7 SETPOINT: '150' is not a number from 0 to 120"],
    ['PUMP-7 SETPOINT -1', ALICE, 'bad_argument', "PUMP-7 SETPOINT: '-1' is not a number from 0 to 120"],
    [
      'PUMP-7 SETPOINT eighty',
      ALICE,
      'bad_argument',
      "PUMP-7 SETPOINT: 'EIGHTY' is not a number from 0 to 120",
    ],
    ['PUMP-7 SETPOINT 1e2', ALICE, 'bad_argument', "PUMP-7 SETPOINT: '1E2' is not a number from 0 to 120"],
    ['PUMP-7 SETPOINT', ALICE, 'bad_argument', 'PUMP-7 SETPOINT: send SETPOINT <0-120>'],
    ['PUMP-7 STOP NOW', ALICE, 'bad_argument', 'PUMP-7 STOP: too many words; send STOP'],
    [
      'PUMP-7 SETPOINT 80 90',
      ALICE,
      'bad_argument',
      'PUMP-7 SETPOINT: too many words; send SETPOINT <0-120>',
    ],
    ['VALVE-1 MODE OFF', CAROL, 'bad_argument', "VALVE-1 MODE: 'OFF' is not one of AUTO, MANUAL"],
    ['VALVE-1 LABEL gate2', CAROL, 'bad_argument', "VALVE-1 LABEL: 'GATE2' is not a valid TEXT"],
    ['TANK-3 LEVEL 2.5 1', CAROL, 'bad_argument', "TANK-3 LEVEL: '2.5' is not a whole number from -10 to 10"],
    ['TANK-3 LEVEL 2 4', CAROL, 'bad_argument', "TANK-3 LEVEL: '4' is not one of 1, 2, 3"],
    ['TANK-3 LEVEL', CAROL, 'bad_argument', 'TANK-3 LEVEL: send LEVEL <-10 to 10> <1/2/3>'],
    ['PUMP-7 STOP', BOB, 'pin_required', 'PIN needed: send PIN <your PIN> PUMP-7 STOP'],
    ['PIN 1111 PUMP-7 STOP', BOB, 'pin_wrong', 'Wrong PIN. Nothing was done.'],
    ['PIN 1111 PUMP-7 STOPP', BOB, 'pin_wrong', 'Wrong PIN. Nothing was done.'],
    ['STATUS PUMP-7', BOB, 'pin_required', 'PIN needed: send PIN <your PIN> STATUS PUMP-7'],
    ['PUMP-7 setpoint 80', BOB, 'pin_required', 'PIN needed: send PIN <your PIN> PUMP-7 SETPOINT 80'],
    ['ACK 42', BOB, 'pin_required', 'PIN needed: send PIN <your PIN> ACK 42'],
    ['ACK 42', STRANGER, 'unknown_sender', 'This number may not send commands to the SMS bridge.'],
    ['thanks!', STRANGER, 'unknown_sender', 'This number may not send commands to the SMS bridge.'],
    ['STATUS PUMP-7', ERIN, 'not_operator', 'You may not use PUMP-7.'],
    [
      'STATUS PUMP-8',
      ALICE,
      'unknown_device',
      "Unknown device 'PUMP-8'. Your devices: PUMP-7, PUMP-9, TANK-3",
    ],
    ['PUMP-7', ALICE, 'invalid', 'PUMP-7: which command? Try: STOP, START, SETPOINT <0-120>'],
    ['PUMP-7', ERIN, 'invalid', "Not understood: 'PUMP-7'. Send HELP for what you can do."],
    ['thanks!', ALICE, 'invalid', "Not understood: 'THANKS'. Send HELP for what you can do."],
    ['', ALICE, 'invalid', 'The message was empty. Send HELP for what you can do.'],
    ['👍', ALICE, 'invalid', 'The message had no words. Send HELP for what you can do.'],
    ['ACK', ALICE, 'invalid', 'ACK needs the alert number, e.g. ACK 42. Send HELP for what you can do.'],
  ])('%j from %s -> %s', (text, sender, reason, reply) => {
    expect(decide(text, sender, ctx)).toMatchObject({ kind: 'refused', reason, reply });
  });

  it('does not reveal a command list to a non-operator', () => {
    const decision = decide('PUMP-7 STOPP', ERIN, ctx);
    expect(decision).toMatchObject({ kind: 'refused', reason: 'not_operator' });
  });

  it('holds a number shared by two contacts to the stricter PIN rule', () => {
    const shared: AuthorizeContext = {
      ...ctx,
      contactIdsForPhone: (p) => (p === ALICE ? ['alice', 'bob'] : []),
    };
    expect(decide('PUMP-7 STOP', ALICE, shared)).toMatchObject({ kind: 'refused', reason: 'pin_required' });
    expect(decide('PIN 4321 PUMP-7 STOP', ALICE, shared)).toMatchObject({
      kind: 'command',
      contactIds: ['alice', 'bob'],
    });
  });

  it('keeps every reply to one GSM SMS, whatever the sender typed', () => {
    const texts = [
      `PUMP-7 ${'X'.repeat(300)}`,
      `${'Y'.repeat(300)} STOP`,
      'PUMP-7 SETPOINT 💥',
      'PUMP-7 STÖP€€€€',
      `PUMP-7 ${'€'.repeat(200)}`,
    ];
    for (const sender of [ALICE, BOB, ERIN, STRANGER]) {
      for (const text of texts) {
        const decision = decide(text, sender, ctx);
        const reply = 'reply' in decision ? decision.reply : '';
        const encoded = encodeText(reply);
        expect(encoded.dataCoding, reply).toBe(0);
        expect(encoded.units, reply).toBeLessThanOrEqual(160);
      }
    }
  });
});

describe('STATUS, ACK and HELP', () => {
  it.each([
    ['STATUS PUMP-7', ALICE, { kind: 'status', contactIds: ['alice'] }],
    ['status north field pump 9', ALICE, { kind: 'status' }],
    ['PUMP-7 STATUS', ALICE, { kind: 'status' }],
    ['PIN 4321 STATUS PUMP-7', BOB, { kind: 'status', contactIds: ['bob'] }],
    ['ACK 42', ALICE, { kind: 'ack', ref: '42', contactIds: ['alice'] }],
    ['ACK 42', ERIN, { kind: 'ack', ref: '42', contactIds: ['erin'] }],
    ['ACK 42 PIN 4321', BOB, { kind: 'ack', ref: '42' }],
  ])('%j from %s', (text, sender, expected) => {
    expect(decide(text, sender, ctx)).toMatchObject(expected);
  });

  it.each(['HELP', '?', 'HELP PUMP-7'])(
    '%j from a stranger is refused as unknown_sender (no reply is sent to strangers)',
    (text) => {
      expect(decide(text, STRANGER, ctx)).toMatchObject({ kind: 'refused', reason: 'unknown_sender' });
    },
  );

  it('STATUS names the device', () => {
    const decision = decide('STATUS pump 9', ALICE, ctx);
    expect(decision.kind === 'status' && decision.device.id).toBe('pump-9');
  });

  it.each([
    [
      'HELP',
      ALICE,
      'Send <DEVICE> <COMMAND>, STATUS <DEVICE>, ACK <ref>, HELP <DEVICE>. Your devices: PUMP-7, PUMP-9, TANK-3.',
    ],
    [
      'HELP',
      BOB,
      'Send <DEVICE> <COMMAND>, STATUS <DEVICE>, ACK <ref>, HELP <DEVICE>. Your devices: PUMP-7, PUMP-9, TANK-3. Start with PIN <your PIN>.',
    ],
    ['?', ERIN, 'Reply ACK <ref> to acknowledge an alert.'],
    [
      'HELP PUMP-7',
      ALICE,
      'PUMP-7 (North field pump 7): STOP, START, SETPOINT <0-120>, STATUS. E.g. PUMP-7 STOP.',
    ],
    [
      'pump-7 help',
      ALICE,
      'PUMP-7 (North field pump 7): STOP, START, SETPOINT <0-120>, STATUS. E.g. PUMP-7 STOP.',
    ],
    [
      'HELP VALVE-1',
      CAROL,
      'VALVE-1: MODE <AUTO/MANUAL>, LABEL <text>, LEVEL <-10 to 10> <1/2/3>, STATUS. E.g. VALVE-1 MODE.',
    ],
    // not an operator: the general help, which does not list the device
    ['HELP VALVE-1', ALICE, expect.stringContaining('Your devices: PUMP-7, PUMP-9, TANK-3.')],
  ])('%j from %s', (text, sender, reply) => {
    expect(decide(text, sender, ctx)).toEqual({ kind: 'help', reply });
  });

  it('helpText is the HELP reply', () => {
    expect(helpText(ALICE, ctx)).toBe((decide('HELP', ALICE, ctx) as { reply: string }).reply);
  });
});

describe('authorize without a device resolver in the parser', () => {
  it('takes the first word as the device', () => {
    expect(authorize(parseSms('pump 7 stop'), ALICE, ctx)).toMatchObject({
      kind: 'refused',
      reason: 'unknown_device',
    });
  });
});

describe('oneSms', () => {
  it.each([
    ['short', 'short'],
    ['ç and emoji 👍', '? and emoji ?'],
    ['a'.repeat(160), 'a'.repeat(160)],
    ['a'.repeat(161), `${'a'.repeat(157)}...`],
    ['€'.repeat(81), `${'€'.repeat(78)}...`],
  ])('%j -> %j', (text, expected) => {
    expect(oneSms(text)).toBe(expected);
  });
});
