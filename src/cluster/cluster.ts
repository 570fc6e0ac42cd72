import { performance } from 'node:perf_hooks';
import type { Logger } from '../logger.js';
import type { SenderStore } from '../outbox.js';
import type { SmppLink } from '../smpp/link.js';
import type { Lease, SmsRecord, Store } from '../store/store.js';
import { Claimer } from './claimer.js';
import { destinationsOf } from './destinations.js';
import { OwnedLink } from './owned-link.js';
import { type ClusterConfig, defaultInstanceId } from './schema.js';

/** An SMPP connection the cluster binds and unbinds as its lease comes and goes (`SmppClient`). */
export interface ControlledLink extends SmppLink {
  start(): void;
  stop(): Promise<void>;
}

export interface ClusterConnection {
  id: string;
  /** E.164 prefixes with `+` */
  routes: readonly string[];
  link: ControlledLink;
  /** parts per second and window: how many SMS are worth claiming for it at once */
  tps: number;
  window: number;
}

export interface ClusterSender {
  start(): Promise<void>;
  stop(): Promise<void>;
  enqueue(records: SmsRecord[]): void;
  readonly depth: Record<string, number>;
}

export interface ClusterOptions {
  config: ClusterConfig;
  store: Store;
  /** every configured connection, routes with `+` */
  connections: ReadonlyArray<ClusterConnection>;
  /** set once the sender is built (it takes the cluster's links) */
  sender: () => ClusterSender;
  logger: Logger;
}

export const leaseName = (connectionId: string) => `smpp:${connectionId}`;

/**
 * One of N bridges sharing a store. Each SMPP connection is bound, and its SMS sent, only by the instance
 * holding its lease (`smpp:<id>`), renewed every third of `lease_ttl`; queued SMS reach the sender through
 * claims (see Claimer) instead of the local `sms.status` event. An instance that cannot renew in time closes
 * its connections to submits at once and unbinds; a lease lost or run out drops every SMS the sender held
 * (after the submits in flight end) and gives their claims back before claiming again, so no SMS is held by
 * two instances. The sender is started and stopped here in this mode.
 */
export class Cluster {
  readonly instanceId: string;
  private readonly log: Logger;
  private readonly ttl: number;
  private readonly owned = new Set<string>();
  private readonly claimer: Claimer;
  /** local monotonic time before which every lease this instance holds is still its own */
  private deadline = 0;
  private beatTimer: NodeJS.Timeout | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private resyncing: Promise<void> | undefined;
  /** the sender's SMS were dropped: the next heartbeat gives every claim back, then the sender starts again */
  private mustRelease = true;
  private senderRunning = false;
  private stopping = false;
  private readonly leaseOrder: string[];
  /** owned connections not bound yet: since when (monotonic ms) */
  private readonly unboundSince = new Map<string, number>();
  /** connections handed over for not binding here: not taken again before (monotonic ms); given back at the next beat */
  private readonly passUntil = new Map<string, number>();
  private readonly handBack = new Set<string>();

  constructor(private readonly o: ClusterOptions) {
    this.instanceId = o.config.instance_id ?? defaultInstanceId();
    this.ttl = o.config.lease_ttl;
    this.leaseOrder = o.connections.map((c) => c.id).sort();
    this.log = o.logger.child({ module: 'cluster', instance: this.instanceId });
    this.claimer = new Claimer({
      store: o.store,
      owner: this.instanceId,
      ttlMs: this.ttl,
      pollMs: o.config.poll,
      destinations: () => {
        const ready = o.connections.filter((c) => this.owns(c.id) && c.link.bound);
        const to = destinationsOf(o.connections, new Set(ready.map((c) => c.id)));
        // about two seconds of work per connection, so instances owning other connections get their share
        const budget = ready.reduce((n, c) => n + Math.max(c.window, Math.ceil(2 * c.tps)), 0);
        return to && { destinations: to, limit: Math.min(budget, o.config.max_claimed) };
      },
      sender: {
        enqueue: (r) => o.sender().enqueue(r),
        get depth() {
          return o.sender().depth;
        },
      },
      logger: o.logger,
    });
  }

  /** Whether this instance holds the lease of connection `id` now. */
  owns(id: string): boolean {
    return this.owned.has(id) && performance.now() < this.deadline;
  }

  /**
   * Whether this instance's last heartbeat committed within the lease time: it takes part in the cluster and
   * would take over a connection whose owner dies, whether it holds one now or not (`/readyz`).
   */
  get member(): boolean {
    return !this.stopping && performance.now() < this.deadline;
  }

  /** Connection ids this instance holds. */
  get ownedConnections(): string[] {
    return [...this.owned].filter((id) => this.owns(id));
  }

  /** The link the sender gets: bound only while owned. */
  gate(link: SmppLink): SmppLink {
    return new OwnedLink(link, (id) => this.owns(id));
  }

  /** The sender's store: nothing pending at start, its SMS come from claims. */
  senderStore(base: SenderStore): SenderStore {
    return { ...base, pendingSms: async () => [] };
  }

  /** SMS were committed here, or a connection freed up: claim now rather than at the next poll. */
  kick(): void {
    this.claimer.kick();
  }

  async start(): Promise<void> {
    this.log.info({ lease_ttl_ms: this.ttl, poll_ms: this.o.config.poll }, 'cluster mode: starting');
    await this.beat();
    this.scheduleBeat();
  }

  /** Stops claiming, drains the sender, unbinds what it owns, then gives its claims and leases back. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.beatTimer) clearTimeout(this.beatTimer);
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    await this.claimer.pause();
    await this.beating;
    await this.resyncing;
    if (this.senderRunning) await this.o.sender().stop();
    this.senderRunning = false;
    const owned = [...this.owned];
    this.owned.clear();
    await Promise.all(owned.map((id) => this.link(id)?.stop()));
    try {
      await this.o.store.transaction(async (tx) => {
        await tx.claims.release(this.instanceId);
        for (const c of this.o.connections) await tx.leases.release(leaseName(c.id), this.instanceId);
      });
      if (owned.length > 0) this.log.info({ connections: owned }, 'connections released');
    } catch (err) {
      this.log.warn({ err }, 'could not release leases and claims; they expire by themselves');
    }
  }

  private link(id: string): ControlledLink | undefined {
    return this.o.connections.find((c) => c.id === id)?.link;
  }

  private scheduleBeat(): void {
    if (this.stopping) return;
    const everything = this.ownedConnections.length === this.o.connections.length;
    // while a connection is someone else's, ask as often as the poll, so a dead owner's goes soon after expiry
    const ms = everything ? this.ttl / 3 : Math.min(this.ttl / 3, this.o.config.poll);
    this.beatTimer = setTimeout(() => {
      this.beating = this.beat().finally(() => {
        this.beating = undefined;
        this.scheduleBeat();
      });
    }, ms);
    this.beatTimer.unref();
  }

  /** Renews (or takes) the leases and renews the claims in one transaction. */
  private async beat(): Promise<void> {
    const started = performance.now();
    const now = Date.now();
    const release = this.mustRelease;
    const handBack = [...this.handBack];
    const passing = (id: string) => (this.passUntil.get(id) ?? 0) > started;
    let leases: Map<string, Lease>;
    try {
      leases = await this.o.store.transaction(async (tx) => {
        if (release) await tx.claims.release(this.instanceId);
        else await tx.claims.renew(this.instanceId, this.ttl, now);
        for (const id of handBack) await tx.leases.release(leaseName(id), this.instanceId);
        const out = new Map<string, Lease>();
        // in one order for every instance (lease rows are locked as they are written: no deadlock); at most
        // one more connection per heartbeat, so instances starting together share the connections out
        let gained = false;
        for (const id of this.leaseOrder) {
          const mine = this.owned.has(id);
          if (!mine && (gained || passing(id))) continue;
          const lease = await tx.leases.acquire(leaseName(id), this.instanceId, this.ttl, now);
          if (lease.owner === this.instanceId) {
            out.set(id, lease);
            if (!mine) gained = true;
          }
        }
        return out;
      });
    } catch (err) {
      this.log.warn({ err }, 'could not renew the leases; submits stop when they run out');
      return;
    }
    if (this.stopping) return;
    if (this.owned.size > 0 && performance.now() >= this.deadline) {
      // renewed after our leases and claims may have run out: another instance may hold them by now
      this.lose([...this.owned], 'leases renewed too late');
      return;
    }
    this.deadline = started + this.ttl;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => this.expire(), this.ttl);
    this.expiryTimer.unref();
    const lost = [...this.owned].filter((id) => leases.get(id)?.owner !== this.instanceId);
    if (lost.length > 0) this.lose(lost, 'taken by another instance');
    if (release && !this.resyncing) {
      this.mustRelease = false;
      if (!this.senderRunning) {
        await this.o.sender().start();
        this.senderRunning = true;
      }
      this.claimer.start();
    }
    for (const id of handBack) this.handBack.delete(id);
    const gained = [...leases.keys()].filter((id) => !this.owned.has(id));
    for (const id of gained) {
      this.owned.add(id);
      this.unboundSince.set(id, performance.now());
      this.link(id)?.start();
      this.log.info({ connection: id }, 'connection owned: binding');
    }
    if (gained.length > 0) this.claimer.kick();
    this.handOverUnbound();
  }

  /** Gives back the connections held but not bound for `unbound_handover`: another instance may bind them. */
  private handOverUnbound(): void {
    const now = performance.now();
    const after = this.o.config.unbound_handover;
    const stale: string[] = [];
    for (const id of this.owned) {
      if (this.link(id)?.bound) this.unboundSince.delete(id);
      else if (!this.unboundSince.has(id)) this.unboundSince.set(id, now);
      else if (now - this.unboundSince.get(id)! >= after) stale.push(id);
    }
    if (stale.length === 0) return;
    for (const id of stale) {
      this.unboundSince.delete(id);
      this.passUntil.set(id, now + after);
      this.handBack.add(id);
    }
    this.lose(stale, `not bound for ${after} ms: handed over to another instance`);
  }

  private expire(): void {
    if (this.stopping || performance.now() < this.deadline) return;
    if (this.owned.size > 0) this.lose([...this.owned], 'lease not renewed in time');
  }

  /**
   * Closes these connections to submits at once and unbinds them; drops what the sender holds (other
   * instances may claim it once this one gives the claims back at its next heartbeat).
   */
  private lose(ids: string[], reason: string): void {
    for (const id of ids) {
      this.owned.delete(id);
      this.unboundSince.delete(id);
      this.link(id)
        ?.stop()
        .catch((err: unknown) => this.log.warn({ err, connection: id }, 'unbind failed'));
    }
    this.log.warn({ connections: ids, reason }, 'connections lost: stopped submitting on them');
    if (this.resyncing || this.stopping) return;
    this.resyncing = (async () => {
      await this.claimer.pause();
      if (this.senderRunning) await this.o.sender().stop();
      this.senderRunning = false;
      this.mustRelease = true;
    })()
      .catch((err: unknown) => this.log.error({ err }, 'could not drop the claimed SMS'))
      .finally(() => {
        this.resyncing = undefined;
      });
  }
}
