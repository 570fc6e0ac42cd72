import type { DeviceRegistry } from '../devices/registry.js';
import type { Logger } from '../logger.js';
import type { Store } from '../store/store.js';
import { deviceTopics } from '../topics.js';
import { oneSms } from './replies.js';

const SCOPE = 'telemetry';
/** Longest telemetry payload kept per device for STATUS (the reply is one SMS anyway). */
export const MAX_TELEMETRY_BYTES = 1024;

export interface TelemetryOptions {
  store: Store;
  devices: () => DeviceRegistry;
  logger: Logger;
  /** how often changed telemetry is saved. Default 5 s. */
  saveEveryMs?: number;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 90) return `${s}s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

/**
 * The last telemetry of each registered device, for `STATUS <device>`. Kept in memory (one entry per
 * registered device, at most 1 KiB each), saved every few seconds and at stop, read back at start.
 */
export class Telemetry {
  private readonly log: Logger;
  private readonly last = new Map<string, { payload: Buffer; at: number }>();
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /**
   * The last topic seen, the registry it was looked up in and its registered device's id (undefined: none): a
   * device publishes its telemetry to one topic, often many times in a row, and the lookup (a slice, a
   * lower-casing and a map lookup) is most of what `seen` costs.
   */
  private lastTopic: string | undefined;
  private lastRegistry: DeviceRegistry | undefined;
  private lastId: string | undefined;

  constructor(private readonly options: TelemetryOptions) {
    this.log = options.logger.child({ module: 'telemetry' });
  }

  async start(): Promise<void> {
    for (const row of await this.options.store.loadKv(SCOPE))
      this.last.set(row.key, { payload: row.value, at: row.at });
    this.timer = setInterval(() => void this.save(), this.options.saveEveryMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.save();
  }

  seen(topic: string, payload: Buffer): void {
    const registry = this.options.devices();
    if (topic !== this.lastTopic || registry !== this.lastRegistry) {
      const id = deviceTopics.deviceIdOf(topic);
      this.lastId = id && registry.device(id) ? id : undefined;
      this.lastTopic = topic;
      this.lastRegistry = registry;
    }
    const id = this.lastId;
    if (id === undefined) return;
    this.last.set(id, { payload: Buffer.from(payload.subarray(0, MAX_TELEMETRY_BYTES)), at: Date.now() });
    this.dirty.add(id);
  }

  statusText(device: { id: string; name: string }): string {
    const last = this.last.get(device.id);
    if (!last) return oneSms(`${device.id.toUpperCase()}: no telemetry received yet.`);
    let values = last.payload.toString('utf8');
    try {
      const parsed: unknown = JSON.parse(values);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
        values = Object.entries(parsed)
          .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
          .join(' ');
      }
    } catch {
      // plain-text telemetry is quoted as it is
    }
    return oneSms(`${device.id.toUpperCase()} ${values} (${ago(Date.now() - last.at)})`);
  }

  private async save(): Promise<void> {
    if (this.dirty.size === 0) return;
    const items = [...this.dirty].flatMap((id) => {
      const t = this.last.get(id);
      return t ? [{ id, ...t }] : [];
    });
    this.dirty.clear();
    try {
      await this.options.store.transaction(async (tx) => {
        for (const t of items) await tx.kv.put(SCOPE, t.id, t.payload, t.at);
      });
    } catch (err) {
      for (const t of items) this.dirty.add(t.id);
      this.log.warn({ err }, 'telemetry not saved; will retry');
    }
  }
}
