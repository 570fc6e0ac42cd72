import type { ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import { smsJson } from '../sms-json.js';
import type { HttpSources } from './sources.js';

const RECENT = 50;
/** a change is pushed at most this often, however many SMS change */
const DEBOUNCE_MS = 100;
/** counters and binds are polled this often while someone watches */
const TICK_MS = 1000;
/** an SSE comment keeps proxies from closing an idle stream */
const HEARTBEAT_MS = 15_000;

/** What the status page shows. */
export async function statusSnapshot(sources: HttpSources) {
  const [counts, recent, alerts] = await Promise.all([
    sources.store.countByState(),
    sources.store.listSms({ limit: RECENT }),
    sources.alerts ? sources.alerts() : Promise.resolve(null),
  ]);
  const ruleSms: Record<string, number> = {};
  for (const sms of recent) if (sms.ruleId) ruleSms[sms.ruleId] = (ruleSms[sms.ruleId] ?? 0) + 1;
  return {
    connections: sources.links.map((l) => ({ id: l.id, bound: l.bound, last_error: l.lastError ?? null })),
    queue: sources.queueDepth(),
    sms_by_state: counts,
    counters: sources.counters(),
    /** SMS per rule among the recent ones */
    recent_by_rule: ruleSms,
    recent: recent.map(smsJson),
    alerts,
  };
}

/**
 * Server-Sent Events for the status page: each client gets the snapshot when it connects and again whenever
 * it changes (an SMS changed state, a bind came or went, a counter moved).
 */
export class StatusFeed {
  private readonly clients = new Set<ServerResponse>();
  private last = '';
  private tick: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private building = false;
  private again = false;

  constructor(
    private readonly sources: HttpSources,
    private readonly log: Logger,
  ) {}

  /** Takes over the response and streams to it until the client leaves or the feed stops. */
  attach(res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    this.clients.add(res);
    res.on('close', () => {
      this.clients.delete(res);
      if (this.clients.size === 0) this.idle();
    });
    if (!this.tick) {
      this.tick = setInterval(() => this.changed(), TICK_MS);
      this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS);
    }
    void this.welcome(res);
  }

  /** Something changed: push a fresh snapshot soon. */
  changed(): void {
    if (this.clients.size === 0 || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      void this.push();
    }, DEBOUNCE_MS);
  }

  stop(): void {
    this.idle();
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private idle(): void {
    clearInterval(this.tick);
    clearInterval(this.heartbeat);
    clearTimeout(this.debounce);
    this.tick = undefined;
    this.heartbeat = undefined;
    this.debounce = undefined;
  }

  private async push(): Promise<void> {
    if (this.building) {
      this.again = true;
      return;
    }
    this.building = true;
    try {
      const json = JSON.stringify(await statusSnapshot(this.sources));
      if (json !== this.last) {
        this.last = json;
        this.broadcast(statusFrame(json));
      }
    } catch (err) {
      this.log.debug({ err }, 'status snapshot failed');
    } finally {
      this.building = false;
      if (this.again) {
        this.again = false;
        this.changed();
      }
    }
  }

  private async welcome(res: ServerResponse): Promise<void> {
    try {
      const json = JSON.stringify(await statusSnapshot(this.sources));
      if (!res.writableEnded) res.write(statusFrame(json));
    } catch (err) {
      this.log.debug({ err }, 'status snapshot failed');
    }
  }

  private broadcast(frame: string): void {
    for (const res of this.clients) res.write(frame);
  }
}

/** SSE: one event, its JSON on a single `data:` line (JSON.stringify never emits a newline). */
function statusFrame(json: string): string {
  return `event: status\ndata: ${json}\n\n`;
}
