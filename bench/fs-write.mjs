// What one write of gathered log lines (20 lines, ~3.6 KB) to /dev/null costs this process: asynchronous
// `fs.write` (a round trip through libuv's thread pool, as sonic-boom's asynchronous destination makes) of a
// string and of a Buffer, against `fs.writeSync`. CPU per write (all threads) and wall time per write.
//   node bench/fs-write.mjs [writes=20000]
import fs from 'node:fs';

const n = Number(process.argv[2] ?? 20_000);
const fd = fs.openSync('/dev/null', 'w');
const line =
  '{"level":30,"time":1796641379458,"pid":3831,"hostname":"vm","module":"announce","sms_id":1,"to":"+44770090****","state":"queued","rule":"bench","device":"a0x0","msg":"SMS queued"}\n';
const chunk = line.repeat(20);
const buf = Buffer.from(chunk);
for (const mode of ['string', 'buffer', 'sync', 'string', 'buffer', 'sync']) {
  const t = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    if (mode === 'sync') fs.writeSync(fd, chunk);
    else await new Promise((r) => fs.write(fd, mode === 'string' ? chunk : buf, r));
  }
  const c = process.cpuUsage(t);
  const wall = ((performance.now() - t0) * 1000) / n;
  process.stdout.write(
    `${mode}: ${((c.user + c.system) / n).toFixed(1)} us CPU, ${wall.toFixed(1)} us wall per write\n`,
  );
}
