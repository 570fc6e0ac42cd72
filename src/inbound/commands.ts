import type { Bus } from '../broker/bus.js';
import type { Events } from '../events.js';
import type { Logger } from '../logger.js';
import type { DeviceCommand, Store } from '../store/store.js';
import { oneSms } from './replies.js';

export interface CommandOutboxOptions {
  store: Store;
  bus: Bus;
  events: Events;
  logger: Logger;
  /** a command not published within this is dropped and its sender told. Default 10 min. */
  maxAgeMs?: number;
  /** how often unpublished commands are retried. Default 5 s. */
  retryMs?: number;
  /** how long the sender's "not sent" reply may wait in the outbox. Default 1 h. */
  replyMaxAgeMs?: number;
}

/**
 * The device command outbox: a command is committed with its audit row, then published (QoS 1). One that could
 * not be published (broker stopped, restart) is retried until it is, or until it is too old to be safe to run,
 * when its sender is told it was not sent. So a command is never lost between the SMS and the broker, and
 * never published twice by a re-delivered SMS (the dedupe row commits with it).
 */
export class CommandOutbox {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly inflight = new Set<Promise<unknown>>();
  /** request ids being published or whose mark is not committed yet */
  private readonly publishing = new Set<string>();
  /** published, but recording that failed: recorded again by the retry loop, never published again */
  private readonly unmarked = new Map<string, number>();

  constructor(private readonly options: CommandOutboxOptions) {
    this.log = options.logger.child({ module: 'commands' });
  }

  async start(): Promise<void> {
    this.running = true;
    await this.retry();
    this.timer = setInterval(() => this.track(this.retry()), this.options.retryMs ?? 5000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  /** Publishes a committed command; resolves either way (an unpublished one is retried). */
  async publish(command: DeviceCommand): Promise<boolean> {
    // between the publish and the commit of its mark, the retry loop must not take it for unpublished
    if (this.publishing.has(command.requestId)) return false;
    this.publishing.add(command.requestId);
    try {
      // MQTT 5 message expiry: a device that comes back later than the outbox would publish it never runs it
      const expiryMs = (this.options.maxAgeMs ?? 600_000) - (Date.now() - command.createdAt);
      await this.options.bus.publish(command.topic, command.payload, { qos: 1, expiryMs });
    } catch (err) {
      this.publishing.delete(command.requestId);
      this.log.warn(
        { err, device: command.deviceId, request_id: command.requestId },
        'command not published yet; will retry',
      );
      return false;
    }
    this.track(this.mark(command.requestId, Date.now()));
    return true;
  }

  /** Records a publish; until that commits, the id stays in `publishing` so the retry loop never resends it. */
  private async mark(requestId: string, at: number): Promise<void> {
    try {
      await this.options.store.transaction((tx) => tx.inbound.markPublished(requestId, at));
      this.publishing.delete(requestId);
    } catch (err) {
      this.unmarked.set(requestId, at);
      this.log.error(
        { err, request_id: requestId },
        'command published but not recorded yet; will record it again',
      );
    }
  }

  private async retry(): Promise<void> {
    if (!this.running) return;
    for (const [requestId, at] of [...this.unmarked]) {
      this.unmarked.delete(requestId);
      await this.mark(requestId, at);
    }
    let pending: DeviceCommand[];
    try {
      pending = await this.options.store.unpublishedCommands();
    } catch (err) {
      this.log.error({ err }, 'cannot read unpublished commands');
      return;
    }
    const now = Date.now();
    const maxAge = this.options.maxAgeMs ?? 600_000;
    for (const command of pending) {
      if (!this.running) return;
      if (this.publishing.has(command.requestId)) continue;
      if (now - command.createdAt <= maxAge) {
        if (await this.publish(command))
          this.log.info({ device: command.deviceId }, 'command published late');
        continue;
      }
      await this.expire(command, now);
    }
  }

  private async expire(command: DeviceCommand, now: number): Promise<void> {
    this.log.warn(
      { device: command.deviceId, request_id: command.requestId },
      'command too old to publish safely; dropped and its sender told',
    );
    const text = oneSms(
      `${command.deviceId.toUpperCase()} ${command.command.toUpperCase()} was NOT sent: the device broker was unreachable. Send it again if still needed.`,
    );
    const records = await this.options.store.transaction(async (tx) => {
      await tx.inbound.markPublished(command.requestId, now);
      return tx.outbox.enqueue([
        {
          to: command.from,
          text,
          priority: 'high',
          source: 'reply',
          expiresAt: now + (this.options.replyMaxAgeMs ?? 3_600_000),
        },
      ]);
    });
    for (const sms of records) this.options.events.emit('sms.status', sms);
  }

  private track(work: Promise<unknown>): void {
    const p = work.catch((err: unknown) => this.log.error({ err }, 'command outbox'));
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }
}
