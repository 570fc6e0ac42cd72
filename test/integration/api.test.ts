import { readFileSync } from 'node:fs';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

async function requester(harness: Harness): Promise<{ client: MqttClient; responses: unknown[] }> {
  const client = await harness.connect();
  const responses: unknown[] = [];
  client.on('message', (topic, payload) => {
    if (topic === 'sms-bridge/response/sms/send') responses.push(JSON.parse(payload.toString()));
  });
  await client.subscribeAsync('sms-bridge/response/sms/send', { qos: 1 });
  return { client, responses };
}

describe('MQTT request API: sms-bridge/request/sms/send', () => {
  it('commits the SMS before the PUBACK, sends it, and answers with the transaction', async () => {
    h = await startHarness();
    const { client, responses } = await requester(h);
    const request = { to: ['+44 7700 900009', 'north-field'], text: 'Gate left open', transaction: 'tx-1' };
    await client.publishAsync('sms-bridge/request/sms/send', JSON.stringify(request), { qos: 1 });
    // PUBACK received: the SMS are in the outbox already
    const stored = await h.app.store.listSms();
    expect(stored.map((s) => [s.to, s.source]).sort()).toEqual([
      ['+447700900001', 'api'],
      ['+447700900009', 'api'],
    ]);
    const response = await waitFor(() => responses[0], 'response');
    expect(response).toEqual({
      status: 'ok',
      data: {
        ids: stored.map((s) => s.id).sort(),
        to: ['+447700900009', '+447700900001'],
        parts: 1,
        encoding: 'GSM 03.38',
      },
      transaction: 'tx-1',
    });
    const sim = h.sim;
    await waitFor(() => sim.received.length === 2, 'both SMS at the SMSC');
    expect(sim.received.map((s) => s.text)).toEqual(['Gate left open', 'Gate left open']);
  });

  it.each([
    ['not JSON', 'hello', undefined, /not JSON/],
    ['a missing text', { to: '+447700900009', transaction: 7 }, 7, /^text: missing required key/],
    [
      'an unknown key',
      { to: '+447700900009', text: 'x', prio: 'high', transaction: 't' },
      't',
      /unknown key 'prio'/,
    ],
    [
      'an unknown contact',
      { to: 'nobody', text: 'x', transaction: 't2' },
      't2',
      /unknown contact or group 'nobody'/,
    ],
    ['a bad number', { to: '+44 12', text: 'x' }, undefined, /^to: expected an international phone number/],
    [
      'a text over max_parts',
      { to: '+447700900009', text: 'x'.repeat(400), max_parts: 2 },
      undefined,
      /needs 3 SMS parts/,
    ],
  ])(
    'answers %s with an error, echoing the transaction, and sends nothing',
    async (_name, body, tx, error) => {
      h = await startHarness();
      const { client, responses } = await requester(h);
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      await client.publishAsync('sms-bridge/request/sms/send', payload, { qos: 1 });
      const response = await waitFor(() => responses[0] as Record<string, unknown> | undefined, 'response');
      expect(response).toMatchObject({ status: 'error', data: {} });
      expect(response.transaction).toBe(tx);
      expect(response.error).toMatch(error);
      expect(await h.app.store.listSms()).toEqual([]);
    },
  );
});

/** The requests and answers the README shows for the API, in order. */
function readmeExamples(): Array<{ request: string; response: string }> {
  const readme = readFileSync('README.md', 'utf8');
  const start = readme.indexOf('### Sending SMS from apps over MQTT');
  const section = readme.slice(start, readme.indexOf('\n### ', start + 1));
  const requests = [...section.matchAll(/^\$ npx mqtt pub .*-m '(.*)'$/gm)].map((m) => m[1]!);
  const responses = [...section.matchAll(/^sms-bridge\/response\/sms\/send (.*)$/gm)].map((m) => m[1]!);
  expect(requests.length).toBeGreaterThanOrEqual(2);
  expect(responses).toHaveLength(requests.length);
  return requests.map((request, i) => ({ request, response: responses[i] ?? '' }));
}

describe('the README example of the MQTT send API', () => {
  it('is what the bridge answers, with the demo rules, byte for byte', async () => {
    const examples = readmeExamples();
    h = await startHarness({ rules: readFileSync('config/rules/pumps.yaml', 'utf8') });
    const { client, responses } = await requester(h);
    for (const [i, example] of examples.entries()) {
      await client.publishAsync('sms-bridge/request/sms/send', example.request, { qos: 1 });
      const answer = await waitFor(() => responses[i], `answer ${i}`);
      expect(JSON.stringify(answer)).toBe(example.response);
    }
  });
});
