import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/devices/password.js';
import { createLogger } from '../../src/logger.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

const RULES = `
contacts:
  alice: { phone: "+44 7700 900001", name: Alice }
groups:
  north-field: [alice]
rules:
  - id: pump-overheat
    topic: devices/+/alerts/overheat
    to: [north-field]
    text: "{{device.id}} overheating: {{payload.temp}}C"
    cooldown: 0s
`;

const ALICE = '+447700900001';
const STRANGER = '+447700900999';
/** an unmasked phone number: 10 to 15 digits in a row, with or without + */
const PHONE = /\+?\d{10,15}/;

/** Every string in a log line (keys included, `msg` too) with an unmasked phone number in it. */
function leaks(value: unknown, path = ''): string[] {
  if (typeof value === 'string') return PHONE.test(value) ? [`${path}: ${value}`] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => leaks(v, `${path}[${i}]`));
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([k, v]) => [
      ...(PHONE.test(k) ? [`${path}.${k} (key)`] : []),
      ...leaks(v, `${path}.${k}`),
    ]);
  }
  return [];
}

describe('no phone number in the logs (log.show_phone_numbers: false)', () => {
  const lines: Array<Record<string, unknown>> = [];
  let h: Harness;
  let pump: MqttClient;

  beforeAll(async () => {
    const hash = await hashPassword('pump7-secret');
    const devicesYaml = `
type: pump
commands:
  stop: { payload: { action: stop } }
devices:
  - { id: pump-7, name: North field pump 7, password_hash: "${hash}", operators: [north-field] }
`;
    // debug: every line the bridge can write in this scenario
    const logger = createLogger(
      { level: 'debug', showPhoneNumbers: false },
      { write: (line: string) => void lines.push(JSON.parse(line)) },
    );
    h = await startHarness({
      rules: RULES,
      devicesYaml,
      allowAnonymous: false,
      sim: { receipts: true, receiptDelayMs: 20 },
      logger,
    });
    pump = await h.connect({ clientId: 'pump-7', username: 'pump-7', password: 'pump7-secret' });
    await pump.subscribeAsync('devices/pump-7/commands', { qos: 1 });
    pump.on('message', (_topic, payload) => {
      const command = JSON.parse(payload.toString()) as { request_id: string };
      // its PUBACK may still be on the way when the harness closes the client: that is no failure here
      pump
        .publishAsync(
          'devices/pump-7/commands/result',
          JSON.stringify({ request_id: command.request_id, ok: true, message: 'stopped' }),
          { qos: 1 },
        )
        .catch(() => undefined);
    });
    await waitFor(() => h.app.links[0]!.bound, 'bound');
  });
  afterAll(async () => h.close());

  it('alert -> SMS -> receipt, an SMS command, a refused sender: no line carries a full number', async () => {
    await pump.publishAsync('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 99 }), { qos: 1 });
    await waitFor(() => lines.some((l) => l.msg === 'SMS delivered'), 'the receipt applied');

    expect(await h.sim.injectMo({ from: ALICE, to: 'BRIDGE', text: 'PUMP-7 STOP' })).toBe(0);
    await waitFor(
      () => h.sim.received.some((s) => s.to === ALICE && s.text === 'PUMP-7 STOP done: stopped'),
      'the alert, the reply and the relayed result at Alice',
    );
    expect(await h.sim.injectMo({ from: STRANGER, to: 'BRIDGE', text: 'PUMP-7 STOP' })).toBe(0);
    await waitFor(
      () => lines.filter((l) => l.msg === 'SMS received').length >= 2,
      'both inbound SMS recorded',
    );

    const found = lines.flatMap((line) => leaks(line).map((leak) => `${leak}  in  ${JSON.stringify(line)}`));
    expect(found).toEqual([]);
    // the scenario went through the lines that carry numbers: the inbound child binding among them
    const received = lines.filter((l) => l.msg === 'SMS received');
    expect(received.map((l) => l.from)).toEqual(['+44770090****', '+44770090****']);
    expect(lines.some((l) => l.msg === 'SMS submitted' && l.to === '+44770090****')).toBe(true);
  });
});
