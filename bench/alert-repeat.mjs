// Repeats of live alerts in an alert storm over many devices, through the store: `live` alerts open, then
// `repeats` decisions that each repeat one of them (count + 1, the same state), 50 per group commit, spread over
// all of them. Prints the WAL frames (pages) written and the CPU per repeat. Benchmark 2's alerts are all first
// alerts of new devices; `throughputRun({ topic })` repeats those of 50 devices, whose index entries share a few
// pages; this is the storm of many.
//   node bench/alert-repeat.mjs [dist=dist] [live=20000] [repeats=20000]
// Alternate two builds to compare (the frames are deterministic, the CPU is not).
import { benchAlert } from './lib/bench-alert.mjs';
import { frameCountingStore } from './lib/frame-store.mjs';

const [dist = 'dist', live = '20000', repeats = '20000'] = process.argv.slice(2);
const { store, start, frames, close } = await frameCountingStore(dist, 'repeat');
const none = { heldAdded: [], heldRemoved: [], heldMoved: [], sent: [] };
const now = Date.now();
const alerts = Array.from({ length: Number(live) }, (_, i) =>
  benchAlert(i + 1, `d${(i * 7919) % 100_003}`, now),
);
for (let i = 0; i < alerts.length; i += 500) {
  const batch = alerts.slice(i, i + 500).map((alert) => ({ alert, recipients: [], base: 0 }));
  await store.transaction((tx) => tx.alerts.save({ alerts: batch, ...none }));
}
start();
const cpu0 = process.cpuUsage();
const n = Number(repeats);
for (let done = 0; done < n; done += 50) {
  await store.transaction(async (tx) => {
    for (let k = 0; k < 50; k++) {
      const a = alerts[((done + k) * 4099) % alerts.length];
      const base = a.version;
      Object.assign(a, { count: a.count + 1, updatedAt: a.updatedAt + 1, version: base + 1 });
      await tx.alerts.save({ alerts: [{ alert: a, recipients: [], base }], ...none });
    }
  });
}
const cpu = process.cpuUsage(cpu0);
const written = frames();
await close();
const cpuUs = (cpu.user + cpu.system) / n;
process.stdout.write(
  `${JSON.stringify({ dist, live: Number(live), repeats: n, framesPerRepeat: written / n, cpuUs })}\n`,
);
