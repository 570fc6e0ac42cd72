// Bytes allocated per SMS by function (self) and by the innermost frame of the bridge's own code, from a
// `BENCH_ALLOC_PROF=<file>` run of benchmark 2 (a build without its bundle names the modules: see
// bench/lib/cpu-shares.mjs).
//   node bench/lib/alloc-sites.mjs <file.heapprofile> [sms=20000] [top=40] [dist marker=/dist/]
import { readFileSync } from 'node:fs';

const [file, sms = '20000', topN = '40', root = '/dist/'] = process.argv.slice(2);
const n = Number(sms);
const p = JSON.parse(readFileSync(file, 'utf8'));
const short = (url) => {
  if (!url) return '';
  if (url.includes('/node_modules/')) return `nm/${url.split('/node_modules/').pop()}`;
  const i = url.indexOf(root);
  return i >= 0 ? `dist/${url.slice(i + root.length)}` : url;
};
const self = new Map();
const inner = new Map();
let total = 0;
const walk = (node, innermost) => {
  const cf = node.callFrame;
  const s = short(cf.url);
  const key = `${cf.functionName || '(anon)'} ${s}:${cf.lineNumber + 1}`;
  const owner = s.startsWith('dist/') ? key : innermost;
  if (node.selfSize) {
    total += node.selfSize;
    self.set(key, (self.get(key) ?? 0) + node.selfSize);
    inner.set(owner ?? '(none)', (inner.get(owner ?? '(none)') ?? 0) + node.selfSize);
  }
  for (const c of node.children ?? []) walk(c, owner);
};
walk(p.head, undefined);
const out = (line) => process.stdout.write(`${line}\n`);
out(`total ${(total / n).toFixed(0)} B per SMS`);
for (const [title, m] of [
  ['self', self],
  ['innermost frame of the bridge', inner],
]) {
  out(`\n== ${title}`);
  for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(topN)))
    out(`${(v / n).toFixed(0).padStart(7)} B  ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
}
