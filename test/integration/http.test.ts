// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the config strings hold ${VAR} references on purpose
import { afterEach, describe, expect, it } from 'vitest';
import { parseBridgeConfig } from '../../src/config/load-bridge.js';
import { HttpServer } from '../../src/http/server.js';
import type { HttpSources } from '../../src/http/sources.js';
import { silentLogger } from '../../src/logger.js';
import { waitFor } from '../helpers/harness.js';
import { bound, type HttpHarness, startHttpHarness } from './http-harness.js';

const ESME_RINVDSTADR = 0x0b;

async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

async function smsState(h: HttpHarness, id: number, state: string) {
  return waitFor(async () => {
    const sms = await json<{ state: string; error_code: number | null }>(await h.api(`/api/sms/${id}`));
    return sms.state === state ? sms : undefined;
  }, `SMS ${id} ${state}`);
}

describe('HTTP endpoints through the real app', () => {
  let h: HttpHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it('refuses the admin API without the bearer token and keeps health and metrics open', async () => {
    h = await startHttpHarness();
    const none = await h.api('/api/sms', { auth: false });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect((await json<{ error: { code: string } }>(none)).error.code).toBe('ERR_HTTP_UNAUTHORIZED');
    const wrong = await h.api('/api/sms', { auth: false, headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(401);
    expect((await h.api('/api/status/stream', { auth: false })).status).toBe(401);
    expect((await h.api('/api/sms/1/retry', { auth: false, method: 'POST' })).status).toBe(401);
    expect((await h.api('/api/sms')).status).toBe(200);

    expect((await h.api('/healthz', { auth: false })).status).toBe(200);
    expect((await h.api('/metrics', { auth: false })).status).toBe(200);
    const page = await h.api('/status', { auth: false });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
  });

  it('is ready only while the broker listens, the store is open and an SMSC is bound', async () => {
    h = await startHttpHarness();
    await bound(h);
    const ready = await h.api('/readyz', { auth: false });
    expect(ready.status).toBe(200);
    expect(await json(ready)).toMatchObject({
      ready: true,
      checks: { broker: true, store: true, smsc: true },
      connections: [{ id: 'main', bound: true }],
    });

    await h.sim.stop();
    const down = await waitFor(async () => {
      const res = await h!.api('/readyz', { auth: false });
      return res.status === 503 ? json(res) : undefined;
    }, 'not ready once the SMSC is gone');
    expect(down).toMatchObject({ ready: false, checks: { broker: true, store: true, smsc: false } });
  });

  it('exposes the series in /metrics after an SMS is sent and its receipt comes back', async () => {
    h = await startHttpHarness({ sim: { receipts: true, receiptDelayMs: 20 } });
    await bound(h);
    await h.publish('devices/pump-7/alerts/overheat', JSON.stringify({ temp: 95 }));
    // the state is readable in the store as soon as it is committed; its event (and metric) once it is durable
    let text = '';
    await waitFor(async () => {
      text = await (await h!.api('/metrics', { auth: false })).text();
      // the counts by state are read again at most every COUNTS_MIN_INTERVAL_MS (2 s) after a change
      return (
        text.includes('sms_bridge_sms_state_changes_total{state="delivered",error_code=""} 1') &&
        text.includes('sms_bridge_sms{state="delivered"} 1')
      );
    }, 'delivered in the metrics');
    for (const series of [
      'sms_bridge_mqtt_messages_in_total 1',
      'sms_bridge_rule_hits_total 1',
      'sms_bridge_delivery_receipts_total 1',
      'sms_bridge_sms{state="delivered"} 1',
      'sms_bridge_sms{state="failed"} 0',
      'sms_bridge_sms_state_changes_total{state="queued",error_code=""} 1',
      'sms_bridge_sms_state_changes_total{state="submitted",error_code=""} 1',
      'sms_bridge_sms_state_changes_total{state="delivered",error_code=""} 1',
      'sms_bridge_queue_depth{lane="critical"} 0',
      'sms_bridge_queue_depth{lane="low"} 0',
      'sms_bridge_smpp_bound{connection="main"} 1',
      'sms_bridge_submit_latency_seconds_count{connection="main"} 1',
      'sms_bridge_receipt_latency_seconds_count{connection="main",state="delivered"} 1',
      'process_cpu_seconds_total',
    ]) {
      expect(text).toContain(series);
    }
  });

  it('retries a permanently failed SMS and lists and searches SMS', async () => {
    const failDestinations: Record<string, number> = { '+447700900002': ESME_RINVDSTADR };
    h = await startHttpHarness({ sim: { failDestinations } });
    await bound(h);

    const bad = await h.api('/api/sms', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'not a number', text: 'x' }),
    });
    expect(bad.status).toBe(400);
    expect((await json<{ error: { code: string } }>(bad)).error.code).toBe('ERR_HTTP_INVALID');

    const sent = await h.api('/api/sms', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ to: '+44 7700 900002', text: 'test from the admin API', priority: 'high' }),
    });
    expect(sent.status).toBe(201);
    const { id } = await json<{ id: number }>(sent);
    const failed = await smsState(h, id, 'failed');
    expect(failed.error_code).toBe(ESME_RINVDSTADR);

    const search = await json<{ sms: Array<{ id: number }> }>(
      await h.api('/api/sms?state=failed&to=447700900002'),
    );
    expect(search.sms.map((s) => s.id)).toEqual([id]);
    expect(
      (await json<{ sms: unknown[] }>(await h.api('/api/sms?state=delivered&to=%2B447700900002'))).sms,
    ).toEqual([]);
    expect((await h.api('/api/sms?state=lost')).status).toBe(400);
    const metrics = await (await h.api('/metrics', { auth: false })).text();
    expect(metrics).toContain('sms_bridge_sms_state_changes_total{state="failed",error_code="11"} 1');

    expect((await h.api('/api/sms/9999/retry', { method: 'POST' })).status).toBe(404);
    delete failDestinations['+447700900002'];
    const retry = await h.api(`/api/sms/${id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    expect(await json(retry)).toMatchObject({ id, state: 'queued', error: null });
    await smsState(h, id, 'submitted');
    // the simulator records only what it accepted: the retry
    expect(h.sim.received.filter((r) => r.to === '+447700900002')).toHaveLength(1);

    const again = await h.api(`/api/sms/${id}/retry`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect((await json<{ error: { code: string } }>(again)).error.code).toBe('ERR_HTTP_CONFLICT');
  });

  it('streams status snapshots as Server-Sent Events', async () => {
    h = await startHttpHarness();
    await bound(h);
    const res = await h.api('/api/status/stream');
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    while (!text.includes('"bound":true')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      text += value;
    }
    expect(text).toContain('event: status\ndata: {');
    await reader.cancel();
  });
});

describe('HTTP configuration', () => {
  it('takes the token from the environment and treats an empty one as none', () => {
    const yaml = (token: string) =>
      `smpp: { connections: [{ id: a, url: "smpp://127.0.0.1:2775", system_id: x }] }\nhttp: { enabled: true, token: "${token}" }\n`;
    expect(parseBridgeConfig(yaml('${T}'), { env: { T: 'abc' } }).http.token).toBe('abc');
    expect(parseBridgeConfig(yaml('${T:-}'), { env: {} }).http.token).toBeUndefined();
  });

  const fakeSources = (): HttpSources => ({
    store: {
      getSms: async () => undefined,
      listSms: async () => [],
      countByState: async () => ({ queued: 0, submitted: 0, delivered: 0, failed: 0, expired: 0 }),
      healthy: async () => true,
    },
    brokerListening: () => true,
    links: [],
    queueDepth: () => ({}),
    counters: () => ({ messagesIn: 0, ruleHits: 0, receipts: 0 }),
    queue: async () => [],
    requeue: async () => undefined,
    maxAgeMs: () => 60_000,
  });

  it("counts the store's SMS by state at most once per interval however often /metrics is asked", async () => {
    const sources = fakeSources();
    let counted = 0;
    const count = sources.store.countByState;
    sources.store.countByState = () => {
      counted++;
      return count();
    };
    const server = new HttpServer({ host: '127.0.0.1', port: 0, sources, logger: silentLogger() });
    await server.start();
    try {
      const scrape = () => fetch(`http://127.0.0.1:${server.port}/metrics`).then((r) => r.text());
      await Promise.all(Array.from({ length: 20 }, scrape));
      for (let i = 0; i < 20; i++) expect(await scrape()).toContain('sms_bridge_sms{state="queued"} 0');
      expect(counted).toBe(1);
    } finally {
      await server.stop();
    }
  });

  it('refuses the admin API when no token is configured', async () => {
    const sources = fakeSources();
    const server = new HttpServer({ host: '127.0.0.1', port: 0, sources, logger: silentLogger() });
    await server.start();
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/sms`, {
        headers: { authorization: 'Bearer anything' },
      });
      expect(res.status).toBe(403);
      expect((await json<{ error: { code: string } }>(res)).error.code).toBe('ERR_HTTP_DISABLED');
      const ready = await fetch(`http://127.0.0.1:${server.port}/readyz`);
      expect(ready.status).toBe(503);
    } finally {
      await server.stop();
    }
  });

  it('shows open alerts in the status data when an alerts module is wired in', async () => {
    const alert = {
      id: 7,
      ref: 'K7',
      state: 'open',
      rule: 'pump-overheat',
      label: 'pump-7 overheat',
      count: 3,
    };
    const sources = { ...fakeSources(), alerts: async () => [alert] };
    const server = new HttpServer({
      host: '127.0.0.1',
      port: 0,
      token: 'k',
      sources,
      logger: silentLogger(),
    });
    await server.start();
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/api/status`, {
        headers: { authorization: 'Bearer k' },
      });
      expect(await json(res)).toMatchObject({ alerts: [alert], connections: [], recent: [] });
    } finally {
      await server.stop();
    }
  });
});
