// The floor's SQLite connection on a worker thread (floor-pipeline.mjs, `extras: ['worker']`). Each message from
// the main thread is one group commit: a flat array of jobs, each a kind and its fields (ALERT device, text;
// SUBMITTED messageId, smsId; INBOUND from, text, device, payload, reply). The worker runs them in one transaction
// (a savepoint around each with `savepoint`), commits, fsyncs the WAL when `synchronous` is full, and answers once
// with a Float64Array (transferred): four numbers per ALERT job (alert id, its count, opened_at, the SMS id), none
// for the others. The main thread sends the next batch only after the answer, as the floor on the loop waits.
import { fsyncSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { openFloorDb } from './floor-db.mjs';

export const ALERT = 0;
export const SUBMITTED = 1;
export const INBOUND = 2;

if (parentPort) {
  const { dir, extras, synchronous } = workerData;
  const store = openFloorDb(dir, new Set(extras));
  const { st, savepoints } = store;
  parentPort.on('message', (jobs) => {
    if (jobs === 'close') {
      store.db.close();
      parentPort.postMessage('closed');
      return;
    }
    const now = Date.now();
    const out = [];
    st.begin.run();
    for (let i = 0; i < jobs.length; ) {
      if (savepoints) st.savepoint.run();
      const kind = jobs[i];
      if (kind === ALERT) {
        const { alert, smsId } = store.writeAlert(jobs[i + 1], jobs[i + 2], now);
        out.push(Number(alert.id), alert.count, alert.opened_at, Number(smsId));
        i += 3;
      } else if (kind === SUBMITTED) {
        store.writeSubmitted(jobs[i + 1], now, jobs[i + 2]);
        i += 3;
      } else {
        store.writeInbound(now, jobs[i + 1], jobs[i + 2], jobs[i + 3], jobs[i + 4], jobs[i + 5]);
        i += 6;
      }
      if (savepoints) st.release.run();
    }
    st.commit.run();
    if (synchronous === 'full') fsyncSync(store.walFd);
    const answer = new Float64Array(out);
    parentPort.postMessage(answer, [answer.buffer]);
  });
  parentPort.postMessage('ready');
}
