// WAL frames (pages written) per SMS of the store's alert -> SMS write path: per round, 64 alert decisions (the SMS,
// the alert, its recipient, the sent row) group-committed, then their 64 submits. Deterministic (no timing), so
// schema changes (an index more or less) compare in one run each. Devices as benchmark 2 names them: 50 clients,
// `alerts-<client>x<k>`, so the (rule, device) key of the live alerts takes 50 places in its index; `mono` gives
// them ascending names instead.
//   node bench/lib/wal-frames.mjs [dist=dist] [rounds=50] [devices=spread|mono]
import { join, resolve } from 'node:path';
import { frameCountingStore } from './frame-store.mjs';

const [dist = 'dist', rounds = '50', devices = 'spread'] = process.argv.slice(2);
const root = resolve(dist);
const { recordSubmit } = await import(join(root, 'smpp/receipt-match.js'));
const { benchDecision } = await import('./bench-alert.mjs');
const { store, start, frames, close } = await frameCountingStore(dist, 'frames');
const now = Date.now();
const device = (id) =>
  devices === 'mono' ? `d${String(id).padStart(9, '0')}` : `alerts-${id % 50}x${Math.floor(id / 50)}`;
const decide = (id) => store.transaction((tx) => benchDecision(tx, id, device(id), now));
const submit = (sms) =>
  store.transaction((tx) =>
    recordSubmit(tx, sms.id, 'main', [{ seq: 1, messageId: String(sms.id), alternate: String(sms.id) }]),
  );
let next = 1;
const round = async () => {
  const records = await Promise.all(Array.from({ length: 64 }, () => decide(next++)));
  await Promise.all(records.map(submit));
};
// a table of some size first, then the WAL emptied and the measured rounds
for (let i = 0; i < 100; i++) await round();
start();
for (let i = 0; i < Number(rounds); i++) await round();
const written = frames();
const n = Number(rounds) * 64;
process.stdout.write(
  `${JSON.stringify({ dist, devices, sms: n, frames: written, framesPerSms: written / n })}\n`,
);
await close();
