import { createHash } from 'node:crypto';

/**
 * The status page: one HTML document, no build step. Its script streams `/api/status/stream` (Server-Sent
 * Events read through fetch, so the bearer token travels in a header and never in a URL) and redraws.
 * The token comes from `#token=...` once, or from the form, and is kept in sessionStorage.
 */

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{display:flex;align-items:center;gap:1rem;padding:.75rem 1.25rem;background:#1d2330;color:#fff}
header h1{font-size:1.1rem;margin:0;font-weight:600}
#live{font-size:.85rem;opacity:.85}#live.up::before{content:"● ";color:#4ade80}#live.down::before{content:"● ";color:#f87171}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:1rem;padding:1rem 1.25rem}
section{background:#fff;border-radius:6px;padding:.75rem 1rem;box-shadow:0 1px 2px #0001;min-width:0}
section.wide{grid-column:1/-1}
h2{font-size:.95rem;margin:0 0 .5rem}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top;overflow-wrap:anywhere}
th{font-weight:600;font-size:.8rem;color:#555}
.badge{display:inline-block;padding:0 .45rem;border-radius:9px;font-size:.8rem;background:#e5e7eb}
.bound,.delivered{background:#dcfce7}.down,.failed,.expired{background:#fee2e2}.queued{background:#fef9c3}.submitted{background:#dbeafe}
.muted{color:#777}form{display:flex;gap:.5rem}#login{padding:1rem 1.25rem}
button{font:inherit;padding:.1rem .6rem;cursor:pointer}
@media (max-width:720px){
main{padding:.75rem}table,tbody,tr,td{display:block}thead{display:none}tr{border-bottom:1px solid #ddd;padding:.3rem 0}
td{display:flex;gap:.5rem;border:0;padding:.1rem 0}td::before{content:attr(data-label);flex:0 0 5.5rem;color:#555;font-size:.8rem;font-weight:600}
td[data-label=""]::before{content:none}
}
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const KEY = 'sms-bridge-token';
let token = sessionStorage.getItem(KEY) || '';
const fromHash = /[#&]token=([^&]+)/.exec(location.hash);
if (fromHash) {
  token = decodeURIComponent(fromHash[1]);
  sessionStorage.setItem(KEY, token);
  history.replaceState(null, '', location.pathname + location.search);
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c == null ? '' : String(c)));
  return node;
}
const badge = (text, cls) => el('span', { class: 'badge ' + (cls || text) }, text);
function table(headers, rows) {
  // each cell carries its column name: on a phone the rows stack and the names become labels
  for (const row of rows) [...row.children].forEach((cell, i) => cell.setAttribute('data-label', headers[i] || ''));
  return el('table', {}, el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', {}, h)))), el('tbody', {}, ...rows));
}
function fill(id, ...nodes) { $(id).replaceChildren(...nodes); }
const time = (iso) => new Date(iso).toLocaleTimeString();

function live(up, text) { const n = $('live'); n.className = up ? 'up' : 'down'; n.textContent = text; }

function render(s) {
  fill('connections', table(['connection', 'state', 'last error'], s.connections.map((c) =>
    el('tr', { 'data-connection': c.id, 'data-state': c.bound ? 'bound' : 'down' },
      el('td', {}, c.id), el('td', {}, badge(c.bound ? 'bound' : 'down')), el('td', { class: 'muted' }, c.last_error || '')))));
  fill('queue', table(['lane', 'waiting'], Object.entries(s.queue).map(([lane, n]) =>
    el('tr', { 'data-lane': lane }, el('td', {}, lane), el('td', {}, n)))));
  const c = s.counters;
  fill('counters', table(['', ''], [
    ['MQTT messages in', c.messagesIn], ['rule hits', c.ruleHits], ['delivery receipts', c.receipts],
    ...Object.entries(s.sms_by_state).map(([state, n]) => ['SMS ' + state, n]),
  ].map(([k, v]) => el('tr', {}, el('td', {}, k), el('td', { 'data-counter': k }, v)))));
  const rules = Object.entries(s.recent_by_rule);
  fill('rules', el('p', {}, 'Rule hits since start: ', el('strong', { id: 'rule-hits' }, c.ruleHits)),
    rules.length ? table(['rule', 'recent SMS'], rules.map(([r, n]) => el('tr', {}, el('td', {}, r), el('td', {}, n))))
      : el('p', { class: 'muted' }, 'No rule-made SMS among the recent ones.'));
  if (s.alerts === null) fill('alerts', el('p', { class: 'muted' }, 'Alerts module not enabled.'));
  else if (s.alerts.length === 0) fill('alerts', el('p', { class: 'muted' }, 'No open alerts.'));
  else fill('alerts', table(['ref', 'alert', 'state', 'rule', 'count', 'opened'], s.alerts.map((a) =>
    el('tr', { 'data-alert': a.id, 'data-state': a.state }, el('td', {}, a.ref || a.id), el('td', {}, a.label || a.device || ''),
      el('td', {}, badge(a.state, 'queued')), el('td', {}, a.rule || ''), el('td', {}, a.count == null ? '' : a.count),
      el('td', {}, a.openedAt ? new Date(a.openedAt).toLocaleString() : '')))));
  fill('recent', s.recent.length === 0 ? el('p', { class: 'muted' }, 'No SMS yet.') :
    table(['id', 'created', 'to', 'from', 'priority', 'state', 'tries', 'error', 'text', ''], s.recent.map((m) =>
      el('tr', { 'data-sms': m.id, 'data-state': m.state },
        el('td', {}, m.id), el('td', {}, time(m.created_at)), el('td', {}, m.to), el('td', {}, m.rule || m.source),
        el('td', {}, m.priority), el('td', {}, badge(m.state)), el('td', {}, m.attempts), el('td', { class: 'muted' }, m.error || ''),
        el('td', {}, m.text.length > 60 ? m.text.slice(0, 60) + '…' : m.text),
        el('td', {}, m.state === 'failed' || m.state === 'expired' ? el('button', { onclick: () => retry(m.id) }, 'retry') : '')))));
  live(true, 'live · updated ' + new Date().toLocaleTimeString());
}

async function retry(id) {
  const res = await fetch('/api/sms/' + id + '/retry', { method: 'POST', headers: { authorization: 'Bearer ' + token } });
  if (!res.ok) alert('retry failed: ' + ((await res.json()).error?.message || res.status));
}

function askToken(message) {
  $('login').hidden = false;
  $('login-msg').textContent = message;
  live(false, 'not signed in');
}

async function stream() {
  if (!token) return askToken('Enter the admin token (http.token) to see the status.');
  $('login').hidden = true;
  try {
    const res = await fetch('/api/status/stream', { headers: { authorization: 'Bearer ' + token, accept: 'text/event-stream' } });
    if (res.status === 401 || res.status === 403) {
      sessionStorage.removeItem(KEY);
      token = '';
      return askToken((await res.json()).error?.message || 'Token refused.');
    }
    if (!res.ok || !res.body) throw new Error('HTTP ' + res.status);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf('\\n\\n')) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split('\\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\\n');
        if (/^event: status$/m.test(frame) && data) render(JSON.parse(data));
      }
    }
    throw new Error('stream ended');
  } catch (err) {
    live(false, 'disconnected (' + err.message + '), reconnecting…');
    setTimeout(stream, 2000);
  }
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem(KEY, token);
  void stream();
});
void stream();
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only the page's own script and style run, and it talks only to this server. */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mqtt-sms-bridge status</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header><h1>mqtt-sms-bridge</h1><span id="live" class="down">connecting…</span></header>
<div id="login" hidden>
  <p id="login-msg"></p>
  <form id="login-form"><input id="token" type="password" placeholder="admin token" autocomplete="current-password"><button>Show status</button></form>
</div>
<main>
  <section><h2>SMSC connections</h2><div id="connections"></div></section>
  <section><h2>Queue</h2><div id="queue"></div></section>
  <section><h2>Counters</h2><div id="counters"></div></section>
  <section><h2>Rule hits</h2><div id="rules"></div></section>
  <section class="wide"><h2>Open alerts</h2><div id="alerts"></div></section>
  <section class="wide"><h2>Recent SMS</h2><div id="recent"></div></section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
