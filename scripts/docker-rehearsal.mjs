// Replays the Dockerfile's steps on this machine, for where no Docker engine runs (a Docker client alone cannot
// build): each stage's WORKDIR becomes a directory of its own, COPY copies from the build context (minus
// .dockerignore's top-level names) or from an earlier stage, RUN runs in it with `/app` mapped there, and the last
// stage's ENTRYPOINT + CMD is started as an unprivileged user, checked with the HEALTHCHECK command, then stopped
// with STOPSIGNAL. apt-get lines are not run (they install what this machine has or lacks: python3, make, g++,
// tini); a missing tini is left out of the ENTRYPOINT and said so. Not the image: the base image's Node is this
// machine's (`--node=<dir with bin/node>` for another), and its files are not Debian's.
//   node scripts/docker-rehearsal.mjs [--node=/tmp/node22/package] [--keep]
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const context = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nodeDir = process.argv.find((a) => a.startsWith('--node='))?.slice('--node='.length);
const keep = process.argv.includes('--keep');
const root = mkdtempSync(join(tmpdir(), 'docker-rehearsal-'));
const say = (msg) => console.log(`rehearsal: ${msg}`);

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text) {
  const out = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && cur === '')) continue;
    cur += cur ? ` ${line}` : line;
    if (cur.endsWith('\\')) cur = cur.slice(0, -1).trimEnd();
    else {
      if (cur) out.push(cur);
      cur = '';
    }
  }
  const parse = (s) => {
    const [op, ...rest] = s.split(/\s+/);
    return { op: op.toUpperCase(), args: rest.join(' ') };
  };
  return out.map(parse);
}

const ignored = new Set(
  existsSync(join(context, '.dockerignore'))
    ? readFileSync(join(context, '.dockerignore'), 'utf8')
        .split('\n')
        .map((l) => l.trim().replace(/^\/|\/$/g, ''))
        .filter((l) => l && !l.startsWith('#'))
    : [],
);

const env = { ...process.env };
if (nodeDir) {
  env.PATH = `${join(resolve(nodeDir), 'bin')}:${env.PATH}`;
  env.npm_config_nodedir = resolve(nodeDir);
}
const stages = new Map();
let stage;
let last;
for (const { op, args } of instructions(readFileSync(join(context, 'Dockerfile'), 'utf8'))) {
  if (op === 'FROM') {
    const name = /\bAS\s+(\S+)/i.exec(args)?.[1] ?? `stage${stages.size}`;
    stage = { name, dir: join(root, name), env: { ...env }, user: undefined, workdir: undefined };
    stages.set(name, stage);
    last = stage;
    say(`FROM ${args}`);
  } else if (op === 'WORKDIR') {
    stage.workdir = args;
    execFileSync('mkdir', ['-p', stage.dir]);
  } else if (op === 'ENV') {
    const [k, v] = args.split('=');
    stage.env[k] = v;
  } else if (op === 'COPY') {
    const words = args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const dest = paths.pop();
    for (const src of paths) {
      const base = from ? stages.get(from).dir : context;
      const rel = from ? src.replace(/^\/app\/?/, '') : src;
      if (!from && ignored.has(rel.split('/')[0])) throw new Error(`COPY ${src}: .dockerignore leaves it out`);
      const target = join(stage.dir, dest.replace(/^\.\/?/, '').replace(/^\/app\/?/, ''));
      const into = dest.endsWith('/') ? join(target, rel.split('/').pop()) : target;
      cpSync(join(base, rel), into, {
        recursive: true,
        filter: (p) => from || !ignored.has(p.slice(context.length + 1).split('/')[0]),
      });
    }
    say(`COPY ${args}`);
  } else if (op === 'RUN') {
    if (/\bapt-get\b/.test(args)) {
      say(`RUN ${args.slice(0, 60)}... not run here (system packages)`);
      continue;
    }
    const cmd = args.replaceAll('/app', stage.dir).replace(/chown -R node:node/g, 'chown -R nobody:nogroup');
    say(`RUN ${args}`);
    execFileSync('sh', ['-c', cmd], { cwd: stage.dir, env: stage.env, stdio: 'inherit' });
  } else if (op === 'USER') {
    stage.user = args === 'node' ? 'nobody' : args;
  } else {
    stage[op] = args;
  }
}

// the last stage, as `docker run` would start it
const exec = (s) => JSON.parse(s);
let argv = [...exec(last.ENTRYPOINT), ...exec(last.CMD)];
if (argv[0] === '/usr/bin/tini' && !existsSync('/usr/bin/tini')) {
  say('no /usr/bin/tini here: started without it');
  argv = argv.slice(argv.indexOf('--') + 1);
}
// the runtime stage's files belong to root, as COPY leaves them; its data directory to the user
execFileSync('chmod', ['-R', 'a+rX', last.dir]);
execFileSync('chmod', ['a+x', root]);
const [runAs] = [last.user ?? 'root'];
const child = spawn('setpriv', ['--reuid', runAs, '--regid', 'nogroup', '--clear-groups', ...argv], {
  cwd: last.dir,
  // tini is not PID 1 here: as a subreaper it still reaps what the bridge leaves, without its warning
  env: { ...last.env, HOME: '/nonexistent', TINI_SUBREAPER: '1' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
child.stdout.on('data', (d) => {
  out += d;
});
const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
const health = last.HEALTHCHECK.replace(/^.*?\bCMD\s+/, '');
let healthy = false;
for (let i = 0; i < 60 && !healthy && child.exitCode === null; i++) {
  await new Promise((r) => setTimeout(r, 500));
  try {
    execFileSync('sh', ['-c', health], { cwd: last.dir, env: last.env, stdio: 'ignore' });
    healthy = true;
  } catch {}
}
say(healthy ? 'HEALTHCHECK passed' : 'HEALTHCHECK never passed');
// `docker stop` comes later than the first healthy check; a SIGTERM during start-up ends node by the signal
for (let i = 0; i < 60 && !out.includes('"msg":"bridge started"') && child.exitCode === null; i++)
  await new Promise((r) => setTimeout(r, 250));
// the code cache the build stage wrote matches this Node and these flags (src/cli/code-cache.ts's key), so the
// bundle is not compiled again at each start of a container that cannot write dist/
const keyScript = join(root, 'key.cjs');
writeFileSync(
  keyScript,
  `const b = require('fs').readFileSync(${JSON.stringify(join(last.dir, 'dist/bridge.cjs'))});
   process.stdout.write(require('crypto').createHash('sha256').update(b)
     .update('\\0' + process.version + '\\0' + process.arch + '\\0' + process.execArgv.join(' ')).digest('hex'));`,
);
const nodeAt = argv.indexOf('node');
const flags = argv.slice(nodeAt + 1, argv.findIndex((a, i) => i > nodeAt && !a.startsWith('-')));
const key = execFileSync('node', [...flags, keyScript], { env: last.env }).toString();
const cache = readFileSync(join(last.dir, 'dist/bridge.cjs.cache'), 'latin1');
const cacheUsed = cache.slice(0, 200).includes(key);
const stopAt = Date.now();
child.kill(last.STOPSIGNAL ?? 'SIGTERM');
const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
const { code, signal } = await exited;
clearTimeout(timer);
say(`stopped by ${last.STOPSIGNAL}: exit code ${code}, signal ${signal}, in ${Date.now() - stopAt} ms`);
const lines = out.trim().split('\n');
say(`its log: ${lines.length} lines; first: ${lines[0]?.slice(0, 160)}`);
say(`last: ${lines.at(-1)?.slice(0, 160)}`);
if (!keep) rmSync(root, { recursive: true, force: true });
else say(`kept ${root}`);
const ok = healthy && code === 0 && cacheUsed;
say(cacheUsed ? 'the code cache matches the ENTRYPOINT\'s Node and flags' : 'the code cache does not match the ENTRYPOINT: each start compiles the bundle');
process.exit(ok ? 0 : 1);
