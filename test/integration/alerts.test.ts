import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { silentLogger } from '../../src/logger.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

const RULES = `
contacts:
  alice: { phone: "+447700900001", name: Alice }
  bob: { phone: "+447700900002", name: Bob }
  carol: { phone: "+447700900003", name: Carol }
groups:
  field: [alice, bob]
policies:
  digest: [{ max: 3, window: 1s }]
rules:
  - id: overheat
    title: overheat
    topic: devices/+/alerts/overheat
    when: temp > 90
    to: [field]
    text: "{{device.id}} overheating: {{payload.temp}}C. Reply ACK {{alert.ref}}"
    priority: critical
    cooldown: 10m
  - id: pressure
    topic: devices/+/alerts/pressure
    to: [alice]
    text: "{{device.id}} pressure. Reply ACK {{alert.ref}}"
    escalate: [{ after: ESCALATE_AFTER, to: [carol] }]
`;

const CAROL = '+447700900003';

describe('alert policies end to end (broker, SMSC simulator, SQLite)', () => {
  let h: Harness | undefined;
  let second: App | undefined;
  afterEach(async () => {
    await second?.stop();
    second = undefined;
    await h?.close();
    h = undefined;
  });

  it('a storm of 1,000 overheat alerts from 20 devices gives exactly 3 SMS + 1 digest per person', async () => {
    h = await startHarness({ rules: RULES.replace('ESCALATE_AFTER', '1h') });
    const device = await h.connect();
    const sends: Promise<unknown>[] = [];
    // device-minor order: all 20 alerts open at the start; the other 980 messages repeat inside the cooldown
    for (let i = 0; i < 50; i++) {
      for (let d = 1; d <= 20; d++) {
        sends.push(
          device.publishAsync(`devices/pump-${d}/alerts/overheat`, `{"temp":${91 + i}}`, { qos: 1 }),
        );
      }
    }
    await Promise.all(sends);
    const sim = h.sim;
    await waitFor(() => sim.received.length >= 8, 'digests after the window', 8000);
    await new Promise((r) => setTimeout(r, 1500)); // nothing more may come
    expect(sim.received).toHaveLength(8);
    for (const phone of ['+447700900001', '+447700900002']) {
      const mine = sim.received.filter((s) => s.to === phone).map((s) => s.text);
      expect(mine.slice(0, 3)).toEqual([
        'pump-1 overheating: 91C. Reply ACK 1',
        'pump-2 overheating: 91C. Reply ACK 2',
        'pump-3 overheating: 91C. Reply ACK 3',
      ]);
      expect(mine[3]).toMatch(
        /^17 more alerts: #4 pump-4 overheat, #5 pump-5 overheat, .*Reply ACK <number>$/,
      );
    }
    expect(h.app.alerts.live()).toHaveLength(20);
  });

  it('an ACK by SMS stops the escalation and answers the sender', async () => {
    h = await startHarness({ rules: RULES.replace('ESCALATE_AFTER', '800ms') });
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/pressure', '{}', { qos: 1 });
    const sim = h.sim;
    await waitFor(() => sim.received[0], 'alert SMS');
    expect(sim.received[0]?.text).toBe('pump-7 pressure. Reply ACK 1');
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    expect(await sim.injectMo({ from: '+447700900001', to: 'BRIDGE', text: 'ACK 1' })).toBe(0);
    await waitFor(() => sim.received.find((s) => s.text.startsWith('Acked #1')), 'reply to the ACK');
    await new Promise((r) => setTimeout(r, 1200));
    expect(sim.received.filter((s) => s.to === CAROL)).toEqual([]);
    expect(h.app.alerts.live()[0]).toMatchObject({ state: 'acked', ackedBy: 'Alice' });
  });

  it('an UNDELIV receipt escalates at once', async () => {
    h = await startHarness({ rules: RULES.replace('ESCALATE_AFTER', '1h') });
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/pressure', '{}', { qos: 1 });
    const sim = h.sim;
    const first = await waitFor(() => sim.received[0], 'alert SMS');
    await waitFor(async () => (await h!.app.store.listSms())[0]?.state === 'submitted', 'submitted');
    await sim.sendReceipt(first.messageId, 'UNDELIV');
    const escalated = await waitFor(() => sim.received.find((s) => s.to === CAROL), 'escalation to carol');
    expect(escalated.text).toBe('pump-7 pressure. Reply ACK 1');
    expect(h.app.alerts.live()[0]).toMatchObject({ state: 'escalated', step: 1 });
  });

  it('a restart in the middle of an escalation keeps its schedule', async () => {
    h = await startHarness({ rules: RULES.replace('ESCALATE_AFTER', '1500ms') });
    const device = await h.connect();
    await device.publishAsync('devices/pump-7/alerts/pressure', '{}', { qos: 1 });
    const sim = h.sim;
    await waitFor(() => sim.received[0], 'alert SMS');
    const due = h.app.alerts.live()[0]!.nextEscalationAt!;
    await device.endAsync(true);
    await h.app.stop();
    second = new App({ config: loadBridgeConfig(join(h.dir, 'bridge.yaml')), logger: silentLogger() });
    await second.start();
    expect(second.alerts.live()[0]).toMatchObject({ ref: '1', state: 'open', nextEscalationAt: due });
    const escalated = await waitFor(
      () => sim.received.find((s) => s.to === CAROL),
      'escalation after restart',
    );
    expect(escalated.at.getTime()).toBeGreaterThanOrEqual(due - 50);
    expect(second.alerts.live()[0]).toMatchObject({ state: 'escalated', step: 1 });
  });
});
