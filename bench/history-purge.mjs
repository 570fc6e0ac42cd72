// What removing old history costs the event loop: one store with `n` finished SMS (one part each) older than the
// retention, then HistoryPurger.run(); the time of each purge transaction (PURGE_BATCH rows) as the event loop
// sees it (monitorEventLoopDelay is too coarse: the run is timed per transaction, commit and fsync included).
//   node bench/history-purge.mjs [n=20000] [synchronous=full]
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { HistoryPurger, PURGE_BATCH } from '../dist/history.js';
import { silentLogger } from '../dist/logger.js';
import { recordSubmit } from '../dist/smpp/receipt-match.js';
import { createStore } from '../dist/store/index.js';
import { median, tempDir } from './lib/common.mjs';

const n = Number(process.argv[2] ?? 20_000);
const synchronous = process.argv[3] ?? 'full';
const dir = tempDir();
const store = createStore({ path: join(dir, 'bridge.db'), synchronous });
await store.start();
const DAY = 86_400_000;
for (let done = 0; done < n; done += 1000) {
  const made = await store.transaction((tx) =>
    tx.outbox.enqueue(
      Array.from({ length: 1000 }, (_, i) => ({
        to: '+447700900001',
        text: `history ${done + i}`,
        priority: 'normal',
        source: 'bench',
        expiresAt: Date.now() + 60_000,
      })),
    ),
  );
  await store.transaction(async (tx) => {
    for (const s of made)
      await recordSubmit(tx, s.id, 'main', [{ seq: 1, messageId: `M${s.id}`, alternate: `m${s.id}` }]);
  });
}
// each transaction timed from its call to its answer (the batch's statements run synchronously in it)
const times = [];
const timed = {
  ...store,
  transaction: async (fn) => {
    const t0 = performance.now();
    try {
      return await store.transaction(fn);
    } finally {
      times.push(performance.now() - t0);
    }
  },
};
const cpu0 = process.cpuUsage();
const removed = await new HistoryPurger(timed, { retentionMs: DAY, logger: silentLogger() }).run(
  Date.now() + 2 * DAY,
);
const cpu = process.cpuUsage(cpu0);
const sorted = [...times].sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    n,
    synchronous,
    batch: PURGE_BATCH,
    removed: removed.sms,
    transactions: times.length,
    msPerTransaction: { median: +median(times).toFixed(2), max: +sorted.at(-1).toFixed(2) },
    cpuUsPerSms: +((cpu.user + cpu.system) / removed.sms).toFixed(1),
  })}\n`,
);
await store.stop();
rmSync(dir, { recursive: true, force: true });
