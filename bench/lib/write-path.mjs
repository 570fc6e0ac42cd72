// The store's share of the alert -> SMS write path, without the network: per SMS, the alert decision's
// transaction (the SMS, the alert row, its recipient, the sent row), the retained alert topic, then the
// submit's transaction (recordSubmit), `batch` SMS at a time as a loaded bridge groups them. Prints the
// process's CPU and event-loop busy time (CPU plus blocking calls: a synchronous fsync) per SMS.
//   node bench/lib/write-path.mjs [total=20000] [batch=64] [retained=1]
// Used for small changes, run alternately from two trees (the full bench moves by more than they do).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const out = (line) => process.stdout.write(`${line}\n`);
const [total = 20_000, batch = 64, retained = 1] = process.argv.slice(2).map(Number);
const { SqliteStore } = await import('../../dist/store/sqlite/sqlite-store.js');
const { recordSubmit } = await import('../../dist/smpp/receipt-match.js');
const { benchDecision, benchRetained } = await import('./bench-alert.mjs');
const dir = mkdtempSync(join(tmpdir(), 'sms-bridge-write-'));
// CHECKPOINTS=inline: SQLite's own checkpoints inside the commit (before session 5), else the worker's
const store = new SqliteStore({
  path: join(dir, 'bridge.db'),
  synchronous: process.env.SYNC ?? 'full',
  checkpoints: process.env.CHECKPOINTS ?? 'worker',
});
await store.start();
const brokerState = store.brokerState();

async function decide(id) {
  const now = Date.now();
  const sms = await store.transaction((tx) => benchDecision(tx, id, `a${id}`, now));
  if (retained) await benchRetained(brokerState, id, `a${id}`);
  return sms;
}

const submit = (sms) =>
  store.transaction((tx) =>
    recordSubmit(
      tx,
      sms.id,
      'main',
      [{ seq: 1, messageId: sms.id.toString(16), alternate: sms.id.toString(16) }],
      sms, // the queued record, as the sender passes it (ignored by builds before it)
    ),
  );

// warm-up, then the measured part
let next = 1;
const round = async () => {
  const ids = Array.from({ length: batch }, () => next++);
  const records = await Promise.all(ids.map(decide));
  await Promise.all(records.map(submit));
};
for (let i = 0; i < 2000 / batch; i++) await round();
const cpu0 = process.cpuUsage();
const elu0 = performance.eventLoopUtilization();
const t0 = performance.now();
const rounds = Math.ceil(total / batch);
for (let i = 0; i < rounds; i++) await round();
const cpu = process.cpuUsage(cpu0);
const loopMs = performance.eventLoopUtilization(elu0).active;
const wallMs = performance.now() - t0;
const n = rounds * batch;
await store.stop();
rmSync(dir, { recursive: true, force: true });
out(
  JSON.stringify({
    n,
    cpuUsPerSms: (cpu.user + cpu.system) / n,
    userUsPerSms: cpu.user / n,
    loopUsPerSms: (loopMs * 1000) / n,
    wallUsPerSms: (wallMs * 1000) / n,
  }),
);
