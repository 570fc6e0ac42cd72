// The store's write path (write-path.mjs: each SMS's alert decision, then its submit, `batch` per commit) of
// several built trees in ONE process, alternated per round of `size` SMS (rotating order): median CPU per SMS per
// tree, and per-round ratios to the first tree. Rounds in one process see the same load, which separate
// processes at different moments do not (this VM's load moves their CPU per SMS by 1.5x).
//   node bench/lib/write-path-ab.mjs <tree>... -- [rounds=16] [size=4096] [batch=64] [retained=0]
//     SUBMITS=1: the decisions first, unmeasured, then only their submits are measured
//     SPREAD=1: benchmark 2's device names (alerts-c<k>x<n>) instead of ascending ones
// A tree is a directory with dist/ (built) and bench/ (this one's bench-alert.mjs). The submit passes the queued
// record and `{ oneWrite: true }`, as the sender does; builds before them ignore both.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
// this tree's: the retained write is the same data for every tree
import { benchRetained } from './bench-alert.mjs';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const trees = sep < 0 ? argv : argv.slice(0, sep);
const [rounds = 16, size = 4096, batch = 64, retained = 0] = (sep < 0 ? [] : argv.slice(sep + 1)).map(Number);
const submitsOnly = process.env.SUBMITS === '1';
const setups = [];
for (const [k, tree] of trees.entries()) {
  const d = resolve(tree);
  const { SqliteStore } = await import(join(d, 'dist/store/sqlite/sqlite-store.js'));
  const { recordSubmit } = await import(join(d, 'dist/smpp/receipt-match.js'));
  const { benchDecision } = await import(join(d, 'bench/lib/bench-alert.mjs'));
  const dir = mkdtempSync(join(tmpdir(), `write-path-ab-${k}-`));
  const store = new SqliteStore({ path: join(dir, 'bridge.db'), synchronous: 'full' });
  await store.start();
  const brokerState = store.brokerState();
  let next = 1;
  const decide = async (id) => {
    const now = Date.now();
    const device = process.env.SPREAD === '1' ? `alerts-c${id % 50}x${Math.floor(id / 50)}` : `a${id}`;
    const sms = await store.transaction((tx) => benchDecision(tx, id, device, now));
    if (retained) await benchRetained(brokerState, id, device);
    return sms;
  };
  const part = (sms) => [{ seq: 1, messageId: sms.id.toString(16), alternate: sms.id.toString(16) }];
  const submit = (sms) =>
    store.transaction((tx) => recordSubmit(tx, sms.id, 'main', part(sms), sms), { oneWrite: true });
  const ids = () => Array.from({ length: batch }, () => next++);
  // CPU (us) of one round: decisions and submits, or only the submits
  const round = async () => {
    if (!submitsOnly) {
      const t = process.cpuUsage();
      for (let i = 0; i < size; i += batch)
        await Promise.all((await Promise.all(ids().map(decide))).map(submit));
      const d = process.cpuUsage(t);
      return d.user + d.system;
    }
    const records = [];
    for (let i = 0; i < size; i += batch) records.push(...(await Promise.all(ids().map(decide))));
    const t = process.cpuUsage();
    for (let i = 0; i < size; i += batch) await Promise.all(records.slice(i, i + batch).map(submit));
    const d = process.cpuUsage(t);
    return d.user + d.system;
  };
  await round(); // warm-up
  setups.push({ tree, store, dir, round, cpu: [] });
}
for (let r = 0; r < rounds; r++) {
  for (let k = 0; k < setups.length; k++) {
    const s = setups[(k + r) % setups.length];
    s.cpu.push((await s.round()) / size);
  }
}
const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const s of setups) {
  const ratios = s.cpu.map((c, i) => c / setups[0].cpu[i]);
  const sorted = [...ratios].sort((a, b) => a - b).map((x) => x.toFixed(2));
  process.stdout.write(
    `${s.tree}: ${med(s.cpu).toFixed(1)} us CPU per SMS (median of ${rounds}); B/A per round, median ` +
      `${med(ratios).toFixed(3)} (${sorted.join(' ')})\n`,
  );
  await s.store.stop();
  rmSync(s.dir, { recursive: true, force: true });
}
