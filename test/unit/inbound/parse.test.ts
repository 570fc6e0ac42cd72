import { describe, expect, it } from 'vitest';
import { type ParsedSms, parseSms, tokenize } from '../../../src/inbound/parse.js';

const cmd = (device: string, command: string, args: string[] = [], pin?: string): ParsedSms =>
  pin === undefined
    ? { kind: 'command', device, command, args }
    : { kind: 'command', device, command, args, pin };

describe('parseSms: commands as real phones send them', () => {
  it.each<[string, ParsedSms]>([
    ['pump-7 stop', cmd('pump-7', 'stop')],
    ['PUMP-7 STOP', cmd('PUMP-7', 'STOP')],
    ['  PUMP-7   STOP. ', cmd('PUMP-7', 'STOP')],
    ['Pump-7 Stop', cmd('Pump-7', 'Stop')],
    ['Pump-7: setpoint 80', cmd('Pump-7', 'setpoint', ['80'])],
    ['pump-7, setpoint, 80!', cmd('pump-7', 'setpoint', ['80'])],
    ['pump-7 setpoint=80', cmd('pump-7', 'setpoint', ['80'])],
    ['pump-7 setpoint 80.5', cmd('pump-7', 'setpoint', ['80.5'])],
    ['pump-7 setpoint 80,5', cmd('pump-7', 'setpoint', ['80,5'])],
    ['pump-7 setpoint -5', cmd('pump-7', 'setpoint', ['-5'])],
    ['pump-7 setpoint 80°C', cmd('pump-7', 'setpoint', ['80°C'])],
    ['pump-7 setpoint 80%', cmd('pump-7', 'setpoint', ['80'])],
    ['"PUMP-7 STOP"', cmd('PUMP-7', 'STOP')],
    ['PUMP-7\nSTOP\n', cmd('PUMP-7', 'STOP')],
    ['PUMP-7\tSTOP', cmd('PUMP-7', 'STOP')],
    ['PUMP–7 STOP', cmd('PUMP-7', 'STOP')], // en dash from autocorrect
    ['ＰＵＭＰ-７ ＳＴＯＰ', cmd('PUMP-7', 'STOP')], // full-width characters
    ['PUMP-7 STOP 👍', cmd('PUMP-7', 'STOP')],
    ['🚨PUMP-7 STOP🚨', cmd('PUMP-7', 'STOP')],
    ['PUMP-7 - STOP', cmd('PUMP-7', 'STOP')],
    ['PUMP-7 STOP please', cmd('PUMP-7', 'STOP', ['please'])],
    ['pump_7 stop', cmd('pump_7', 'stop')],
    ['PUMP-7 MODE auto', cmd('PUMP-7', 'MODE', ['auto'])],
  ])('%j', (text, expected) => {
    expect(parseSms(text)).toEqual(expected);
  });
});

describe('parseSms: PINs', () => {
  it.each<[string, ParsedSms]>([
    ['PIN 1234 PUMP-7 STOP', cmd('PUMP-7', 'STOP', [], '1234')],
    ['pin 1234 pump-7 stop', cmd('pump-7', 'stop', [], '1234')],
    ['PIN:1234 PUMP-7 STOP', cmd('PUMP-7', 'STOP', [], '1234')],
    ['PIN1234 PUMP-7 STOP', cmd('PUMP-7', 'STOP', [], '1234')],
    ['PUMP-7 STOP PIN 1234', cmd('PUMP-7', 'STOP', [], '1234')],
    ['PUMP-7 SETPOINT 80 PIN 1234', cmd('PUMP-7', 'SETPOINT', ['80'], '1234')],
    ['PUMP-7 SETPOINT 80, pin 0042.', cmd('PUMP-7', 'SETPOINT', ['80'], '0042')],
    ['PIN 1234 ACK 42', { kind: 'ack', ref: '42', pin: '1234' }],
    ['STATUS PUMP-7 PIN 1234', { kind: 'status', device: 'PUMP-7', pin: '1234' }],
  ])('%j', (text, expected) => {
    expect(parseSms(text)).toEqual(expected);
  });

  it.each([
    ['PIN PUMP-7 STOP', 'bad_pin'],
    ['PIN 12 PUMP-7 STOP', 'bad_pin'],
    ['PUMP-7 STOP PIN', 'bad_pin'],
    ['PIN 1234 PUMP-7 STOP PIN 1234', 'bad_pin'],
    ['PIN 1234', 'no_command'],
  ])('%j is invalid: %s', (text, code) => {
    expect(parseSms(text)).toMatchObject({ kind: 'invalid', code });
  });
});

describe('parseSms: ACK, STATUS, HELP', () => {
  it.each<[string, ParsedSms]>([
    ['ACK 42', { kind: 'ack', ref: '42' }],
    ['ack 42', { kind: 'ack', ref: '42' }],
    ['Ack #42', { kind: 'ack', ref: '42' }],
    ['ACK42', { kind: 'ack', ref: '42' }],
    ['ack#42.', { kind: 'ack', ref: '42' }],
    ['ACK 42 on my way', { kind: 'ack', ref: '42' }],
    ['ACK A7F3', { kind: 'ack', ref: 'A7F3' }],
    ['STATUS PUMP-7', { kind: 'status', device: 'PUMP-7' }],
    ['status pump-7?', { kind: 'status', device: 'pump-7' }],
    ['STATUS pump 7', { kind: 'status', device: 'pump 7' }],
    ['Status: North field pump 7', { kind: 'status', device: 'North field pump 7' }],
    ['PUMP-7 STATUS', { kind: 'status', device: 'PUMP-7' }],
    ['HELP', { kind: 'help' }],
    ['help!', { kind: 'help' }],
    ['?', { kind: 'help' }],
    ['??', { kind: 'help' }],
    ['HELP PUMP-7', { kind: 'help', device: 'PUMP-7' }],
    ['PUMP-7 HELP', { kind: 'help', device: 'PUMP-7' }],
    ['PUMP-7 STATUS now', cmd('PUMP-7', 'STATUS', ['now'])],
  ])('%j', (text, expected) => {
    expect(parseSms(text)).toEqual(expected);
  });
});

describe('parseSms: what it cannot understand', () => {
  it.each([
    ['', 'empty'],
    ['   \n ', 'empty'],
    ['👍', 'no_words'],
    ['🙂🙂 !!! ...', 'no_words'],
    ['.', 'no_words'],
    ['ACK', 'ack_without_ref'],
    ['ack #', 'ack_without_ref'],
    ['STATUS', 'status_without_device'],
    ['PUMP-7', 'no_command'],
    ['thanks', 'no_command'],
    ['OK', 'no_command'],
  ])('%j -> %s', (text, code) => {
    const parsed = parseSms(text);
    expect(parsed).toMatchObject({ kind: 'invalid', code });
    expect(parsed.kind === 'invalid' && parsed.reason.length).toBeGreaterThan(0);
  });

  it('names the device when only a device was sent', () => {
    expect(parseSms('pump-7.')).toMatchObject({ kind: 'invalid', code: 'no_command', device: 'pump-7' });
  });

  it('never throws on arbitrary text', () => {
    const samples = [
      '\u0000',
      '\uD800',
      'a'.repeat(10_000),
      '%%%% $$$$',
      'PIN',
      'pin pin pin',
      '- -5 +',
      'ACK ACK ACK',
    ];
    for (const text of samples) expect(() => parseSms(text)).not.toThrow();
  });
});

describe('parseSms: multi-word device names', () => {
  const names = new Set(['north field pump 7', 'pump 7', 'pump-7']);
  const isDevice = (words: string) => names.has(words.toLowerCase());

  it.each<[string, ParsedSms]>([
    ['North field pump 7 stop', cmd('North field pump 7', 'stop')],
    ['north FIELD pump 7: setpoint 80', cmd('north FIELD pump 7', 'setpoint', ['80'])],
    ['pump 7 stop', cmd('pump 7', 'stop')],
    ['PIN 1234 pump 7 stop', cmd('pump 7', 'stop', [], '1234')],
    ['pump-7 stop', cmd('pump-7', 'stop')],
    ['pump 8 stop', cmd('pump', '8', ['stop'])],
    ['North field pump 7 status', { kind: 'status', device: 'North field pump 7' }],
  ])('%j', (text, expected) => {
    expect(parseSms(text, { isDevice })).toEqual(expected);
  });

  it('a name alone is a device without a command', () => {
    expect(parseSms('north field pump 7', { isDevice })).toMatchObject({
      kind: 'invalid',
      code: 'no_command',
      device: 'north field pump 7',
    });
  });
});

describe('tokenize', () => {
  it.each([
    ['a  b', ['a', 'b']],
    ['a,b;c:d', ['a', 'b', 'c', 'd']],
    ['1,5 2.5', ['1,5', '2.5']],
    ['(a) [b] {c}', ['a', 'b', 'c']],
    ['#42', ['42']],
    ['-5 +3 --', ['-5', '+3']],
    ['x—y', ['x-y']],
  ])('%j -> %j', (text, expected) => {
    expect(tokenize(text)).toEqual(expected);
  });
});
