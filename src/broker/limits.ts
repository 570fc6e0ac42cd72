import type { BridgeConfig } from '../config/bridge-schema.js';
import { filterCovers } from '../devices/access.js';
import type { LoginLimits } from './login-guard.js';

/** Bounds of the embedded broker; README "Security" lists each with its default. */
export interface BrokerLimits {
  /** largest packet a client may send, fixed header included */
  maxPacketSize: number;
  /** open connections per listener */
  maxConnections: number;
  /** persistent sessions (`clean: false` ids) per account */
  maxSessionsPerAccount: number;
  retained: RetainedLimits;
  login: LoginLimits;
}

export interface RetainedLimits {
  /** retained messages one account may hold */
  maxPerClient: number;
  /** retained messages in all */
  maxTotal: number;
  /** bytes of retained payload in all */
  maxBytes: number;
}

export const DEFAULT_BROKER_LIMITS: Readonly<BrokerLimits> = {
  maxPacketSize: 256 * 1024,
  maxConnections: 10_000,
  maxSessionsPerAccount: 100,
  retained: { maxPerClient: 100, maxTotal: 10_000, maxBytes: 64 * 1024 * 1024 },
  login: {
    maxConcurrent: 2,
    maxQueued: 16,
    freeFailures: 5,
    backoffInitialMs: 1000,
    backoffMaxMs: 60_000,
    tracked: 10_000,
  },
};

/** The limits as `mqtt:` in `config/bridge.yaml` sets them. */
export function brokerLimits(mqtt: BridgeConfig['mqtt']): BrokerLimits {
  return {
    maxPacketSize: mqtt.max_packet_size,
    maxConnections: mqtt.max_connections,
    maxSessionsPerAccount: mqtt.max_sessions_per_account,
    retained: {
      maxPerClient: mqtt.retained.max_per_client,
      maxTotal: mqtt.retained.max_total,
      maxBytes: mqtt.retained.max_bytes,
    },
    login: {
      maxConcurrent: mqtt.login.max_concurrent,
      maxQueued: mqtt.login.max_queued,
      freeFailures: mqtt.login.free_failures,
      backoffInitialMs: mqtt.login.backoff.initial,
      backoffMaxMs: mqtt.login.backoff.max,
      tracked: mqtt.login.tracked,
    },
  };
}

/** Filters of the topics only the bridge publishes to (see README "MQTT topics"); clients are refused there. */
export function bridgeTopicFilters(base: string): string[] {
  return [`${base}/state`, `${base}/state/#`, `${base}/alerts/#`, `${base}/sms/#`, `${base}/response/#`];
}

/** Commands reach a device from the bridge or an app, never as a retained message replayed on each subscribe. */
const COMMAND_TOPICS = ['devices/+/commands', 'devices/+/commands/#'];

/**
 * Why a client may not publish this (retained) message, whatever its ACL; undefined when it may. Built once per
 * broker: a topic whose first level starts none of the filters (a device's telemetry) is cleared by one set
 * lookup instead of splitting the topic once per filter for every message.
 */
export function reservedTopics(
  bridgeTopics: readonly string[],
): (topic: string, retain: boolean) => string | undefined {
  const bridge = firstLevels(bridgeTopics);
  const commands = firstLevels(COMMAND_TOPICS);
  return (topic, retain) => {
    // $SYS is the broker's own (aedes refuses it by default; our authorizePublish replaces that default)
    if (topic.startsWith('$SYS/')) return '$SYS topics are the broker’s';
    const end = topic.indexOf('/');
    const first = end === -1 ? topic : topic.slice(0, end);
    if (bridge.may(first) && bridgeTopics.some((filter) => filterCovers(filter, topic))) {
      return 'the bridge publishes there';
    }
    if (retain && commands.may(first) && COMMAND_TOPICS.some((filter) => filterCovers(filter, topic))) {
      return 'commands are never retained';
    }
    return undefined;
  };
}

/** Whether a topic with this first level may match one of `filters` (a wildcard first level may match any). */
function firstLevels(filters: readonly string[]): { may(first: string): boolean } {
  const levels = new Set(filters.map((f) => f.split('/')[0]!));
  // [MQTT-4.7.2-1] a wildcard first level does not match `$` topics, but filterCovers decides that afterwards
  if (levels.has('#') || levels.has('+')) return { may: () => true };
  return { may: (first) => levels.has(first) };
}

/** Owner of the broker's own retained messages in a `RetainedLedger`. */
export const BRIDGE_OWNER = 'bridge';

/**
 * Retained messages by topic, with the account that set each, so that one account cannot fill the broker's
 * memory. Mirrors what aedes keeps: a message with an empty payload deletes the topic's retained message.
 */
export class RetainedLedger {
  private readonly entries = new Map<string, { owner: string; bytes: number }>();
  private readonly perOwner = new Map<string, number>();
  private bytes = 0;

  constructor(private readonly limits: RetainedLimits) {}

  /** Why `owner` may not retain `bytes` on `topic` now; undefined when it may. */
  problem(topic: string, owner: string, bytes: number): string | undefined {
    if (bytes === 0) return undefined;
    const old = this.entries.get(topic);
    const own = (this.perOwner.get(owner) ?? 0) - (old?.owner === owner ? 1 : 0);
    if (own >= this.limits.maxPerClient) {
      return `retained messages per client at the limit (${this.limits.maxPerClient}, mqtt.retained.max_per_client)`;
    }
    if (this.entries.size - (old ? 1 : 0) >= this.limits.maxTotal) {
      return `retained messages at the limit (${this.limits.maxTotal}, mqtt.retained.max_total)`;
    }
    if (this.bytes - (old?.bytes ?? 0) + bytes > this.limits.maxBytes) {
      return `retained bytes at the limit (${this.limits.maxBytes}, mqtt.retained.max_bytes)`;
    }
    return undefined;
  }

  /** Records a retained message that was stored (or deleted, with 0 bytes). Never refuses: the bridge's own count too. */
  record(topic: string, owner: string, bytes: number): void {
    const old = this.entries.get(topic);
    if (old) {
      this.entries.delete(topic);
      this.bytes -= old.bytes;
      const left = (this.perOwner.get(old.owner) ?? 1) - 1;
      if (left > 0) this.perOwner.set(old.owner, left);
      else this.perOwner.delete(old.owner);
    }
    if (bytes === 0) return;
    this.entries.set(topic, { owner, bytes });
    this.bytes += bytes;
    this.perOwner.set(owner, (this.perOwner.get(owner) ?? 0) + 1);
  }

  get size(): number {
    return this.entries.size;
  }
}
