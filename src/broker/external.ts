import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type * as Mqtt from 'mqtt';
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RuleSet } from '../rules/engine.js';
import { TopicTrie } from '../rules/topic-trie.js';
import type { Store } from '../store/store.js';
import { deviceTopics } from '../topics.js';
import { WorkGate } from '../work-gate.js';
import type { BridgeBroker, BusMessage, IntakeHandler, PublishOptions, SubscribeOptions } from './bus.js';

export interface ExternalBrokerOptions {
  /** `mqtt://`, `mqtts://`, `ws://` or `wss://` */
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** the persistent session's id; the publishing connection is `<clientId>-out` */
  clientId: string;
  /** `false`: plain subscriptions (one instance; brokers without shared subscriptions) */
  shareGroup: string | false;
  /** 5 falls back to 4 (3.1.1) when the broker refuses 5 */
  protocolVersion: 4 | 5;
  sessionExpiryMs: number;
  tls?: {
    ca?: string | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    rejectUnauthorized: boolean;
  };
  intake: IntakeHandler;
  /** the filters whose messages go to `intake` (rules, resolve topics, the API request topic); re-read by `resync()` */
  filters: () => readonly string[];
  /**
   * Topics whose messages are independent of each other (the API request topic: each is its own SMS), so they
   * commit concurrently; messages of any other topic are taken one after another per device (or per topic).
   * Default: none.
   */
  independent?: readonly string[] | undefined;
  /**
   * Where the filters subscribed in the persistent session are remembered (the store), so that those a previous
   * run subscribed and the rules no longer want are dropped at start: MQTT cannot list a session's subscriptions,
   * and a left-over filter overlapping a new one would have its messages handled twice. Default: not remembered.
   */
  filterMemory?: { load(): Promise<string[]>; save(filters: string[]): Promise<void> } | undefined;
  /** retained `online` on connect, `offline` as the will */
  stateTopic: string;
  logger: Logger;
  /** after a refused intake, reconnect this much later so that the broker sends the unacknowledged messages again. Default 5 s. */
  redeliveryDelayMs?: number;
  /** first connection attempt; `start()` fails after it. Default 10 s. */
  connectTimeoutMs?: number;
  /** between reconnection attempts. Default 1 s. */
  reconnectPeriodMs?: number;
}

const require = createRequire(import.meta.url);
let mqttModule: typeof Mqtt | undefined;
/**
 * mqtt.js (~55 modules) is loaded when an external broker connects (or `simulate` runs its fleet), not at every
 * start in embedded mode; required from node_modules, it is also not in dist/bridge.cjs (~250 KB less to read at
 * each start).
 */
export function mqttLib(): typeof Mqtt {
  mqttModule ??= require('mqtt') as typeof Mqtt;
  return mqttModule;
}

/** QoS 1 messages the broker may have in flight to the intake connection (MQTT 5 Receive Maximum). */
export const RECEIVE_MAXIMUM = 100;

/** handleMessage's callback with an error: mqtt.js sends no PUBACK and reads on; ours goes after the commit */
const DEFERRED = new Error('PUBACK deferred until the commit');

/** CONNACK codes of a broker that does not speak the protocol version: 3.1.1 0x01, MQTT 5 0x84. */
const UNSUPPORTED_VERSION = new Set([1, 0x84]);

/** Do two topic filters match a common topic? */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true;
    // both ended: the same topic; one ended: only a `#` next (it matches its parent level) would match it
    if (p === undefined || q === undefined) return p === q;
    if (p !== q && p !== '+' && q !== '+') return false;
  }
}

/** The narrowest filter matching everything `a` and `b` match (for overlapping filters). */
function mergeFilters(a: string, b: string): string {
  const x = a.split('/');
  const y = b.split('/');
  const out: string[] = [];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#' || p === undefined || q === undefined) {
      out.push('#');
      break;
    }
    out.push(p === q ? p : '+');
  }
  return out.join('/');
}

/**
 * Filters to subscribe so that each message is delivered once: a broker sends one copy per matching
 * subscription (MQTT 5 §4.8.2: each shared subscription picks its own receiver), so two overlapping rule
 * filters would run intake twice. Overlapping filters are merged into one wider filter; the bridge then
 * filters locally.
 */
export function coverFilters(filters: readonly string[]): string[] {
  const set = [...new Set(filters)];
  for (let merged = true; merged; ) {
    merged = false;
    outer: for (let i = 0; i < set.length; i++) {
      for (let j = i + 1; j < set.length; j++) {
        if (!filtersOverlap(set[i]!, set[j]!)) continue;
        const wider = mergeFilters(set[i]!, set[j]!);
        set.splice(j, 1);
        set.splice(i, 1, wider);
        const again = set.indexOf(wider);
        if (again !== i) set.splice(i, 1);
        merged = true;
        break outer;
      }
    }
  }
  return set.sort();
}

function pem(key: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new BridgeError('ERR_CONFIG_READ', `cannot read mqtt.${key} ${file}: ${reason}`, { cause: err });
  }
}

/**
 * The bridge as a client of an existing broker (Mosquitto, EMQX, HiveMQ). Two connections:
 * - intake, `<client_id>`: a persistent session (`clean: false`, session expiry) subscribed through
 *   `$share/<share_group>/...` to the rule, resolve, command-result and API filters, so N bridges split the
 *   messages. mqtt.js handles incoming packets one at a time and sends a QoS 1 PUBACK only when
 *   `handleMessage`'s callback runs without an error: it runs after intake committed (guarantee 1).
 * - out, `<client_id>-out`: clean session; every publish (its PUBACK is not queued behind an intake in
 *   flight, which would deadlock the API's response), the will (`offline`), and the subscriptions every
 *   instance needs (telemetry for STATUS), without a share.
 */
export class ExternalBroker implements BridgeBroker {
  private intakeClient: MqttClient | undefined;
  private outClient: MqttClient | undefined;
  private readonly log: Logger;
  private readonly gate = new WorkGate();
  private version: 4 | 5;
  /** cover filters subscribed on the intake connection (without the `$share/...` prefix) */
  private subscribed = new Set<string>();
  private intakeFilters = new TopicTrie<true>();
  private readonly sharedTaps = new TopicTrie<(message: BusMessage) => void>();
  private readonly sharedTapFilters: string[] = [];
  private readonly allTaps = new TopicTrie<(message: BusMessage) => void>();
  private syncing: Promise<void> = Promise.resolve();
  private redeliveryTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** messages handled on the intake connection, and those left unacknowledged (tests, logs) */
  handled = 0;
  refused = 0;

  constructor(private readonly options: ExternalBrokerOptions) {
    this.log = options.logger.child({ module: 'broker' });
    this.version = options.protocolVersion;
  }

  get port(): number {
    return 0;
  }

  get up(): boolean {
    return this.intakeClient?.connected === true && this.outClient?.connected === true;
  }

  /** The protocol version in use (after a fallback, 4). */
  get protocolVersion(): 4 | 5 {
    return this.version;
  }

  /** Connects the publishing connection; `startIntake()` connects the one that takes device messages. */
  async start(): Promise<void> {
    this.stopping = false;
    this.outClient = await this.connect('out');
  }

  /**
   * Connects the intake session once every in-process subscriber is registered: a resumed session gets its
   * unacknowledged messages right after CONNACK, and one matching no filter yet would be acknowledged unhandled.
   */
  async startIntake(): Promise<void> {
    this.intakeFilters = this.filterTrie();
    const memory = this.options.filterMemory;
    const previous = memory ? await memory.load() : [];
    this.intakeClient = await this.connect('intake');
    await this.resync();
    if (memory) {
      const stale = previous.filter((f) => !this.subscribed.has(f));
      if (stale.length > 0) {
        // after ours are in place: a message queued through a stale one before this is handled, not lost
        await this.intakeClient.unsubscribeAsync(stale.map((f) => this.shareOf(f)));
        this.log.info({ dropped: stale }, 'MQTT subscriptions of a previous run dropped');
      }
      await memory.save([...this.subscribed]);
    }
    this.log.info(
      {
        url: this.options.url,
        client_id: this.options.clientId,
        protocol: this.version,
        share_group: this.options.shareGroup,
      },
      'connected to the external MQTT broker',
    );
  }

  private clientOptions(role: 'intake' | 'out', version: 4 | 5): IClientOptions {
    const o = this.options;
    const tls = o.tls;
    const intake = role === 'intake';
    return {
      clientId: intake ? o.clientId : `${o.clientId}-out`,
      username: o.username,
      password: o.password,
      protocolVersion: version,
      clean: !intake,
      // MQTT 5 §3.1.2.11.2: the session outlives the connection by this many seconds
      properties:
        version === 5
          ? {
              ...(intake ? { sessionExpiryInterval: Math.ceil(o.sessionExpiryMs / 1000) } : {}),
              receiveMaximum: RECEIVE_MAXIMUM,
            }
          : undefined,
      reconnectPeriod: o.reconnectPeriodMs ?? 1000,
      connectTimeout: o.connectTimeoutMs ?? 10_000,
      // we keep the subscriptions (a resumed session has them; a lost one gets them again in onConnect)
      resubscribe: false,
      queueQoSZero: false,
      ...(intake
        ? {}
        : { will: { topic: o.stateTopic, payload: Buffer.from('offline'), qos: 1, retain: true } }),
      ...(tls
        ? {
            ca: tls.ca ? pem('ca', tls.ca) : undefined,
            cert: tls.cert ? pem('cert', tls.cert) : undefined,
            key: tls.key ? pem('key', tls.key) : undefined,
            rejectUnauthorized: tls.rejectUnauthorized,
          }
        : {}),
    };
  }

  /** Connects once (falling back to 3.1.1 when the broker refuses 5), then mqtt.js reconnects by itself. */
  private async connect(role: 'intake' | 'out'): Promise<MqttClient> {
    for (;;) {
      const version = this.version;
      const client = mqttLib().connect(this.options.url, this.clientOptions(role, version));
      if (role === 'intake') client.handleMessage = (packet, done) => this.onMessage(packet, done);
      else client.on('message', (_topic, _payload, packet) => this.onBroadcast(packet));
      const outcome = await new Promise<'ok' | 'version' | Error>((resolve) => {
        const timer = setTimeout(
          () => resolve(new Error(`no CONNACK within ${this.options.connectTimeoutMs ?? 10_000} ms`)),
          this.options.connectTimeoutMs ?? 10_000,
        );
        const settle = (value: 'ok' | 'version' | Error) => {
          clearTimeout(timer);
          client.off('connect', onConnect);
          client.off('error', onError);
          resolve(value);
        };
        const onConnect = (connack: { properties?: { sharedSubscriptionAvailable?: boolean } }) => {
          // MQTT 5 §3.2.2.3.15: the broker says whether it supports shared subscriptions
          if (
            role === 'intake' &&
            this.options.shareGroup !== false &&
            connack.properties?.sharedSubscriptionAvailable === false
          )
            settle(
              new Error(
                'the broker has no shared subscriptions; set mqtt.share_group: false to run one instance',
              ),
            );
          else settle('ok');
        };
        const onError = (err: Error & { code?: number }) =>
          settle(version === 5 && UNSUPPORTED_VERSION.has(err.code ?? -1) ? 'version' : err);
        client.on('connect', onConnect);
        client.on('error', onError);
      });
      if (outcome === 'ok') {
        client.on('error', (err) => this.log.warn({ err: err.message, role }, 'MQTT client error'));
        client.on('offline', () =>
          this.log.warn({ role }, 'disconnected from the MQTT broker; reconnecting'),
        );
        client.on('connect', (connack) => this.onReconnect(role, connack.sessionPresent));
        // PUBACKs owed on a closed connection are not sent on the next one: the broker sends those messages again
        if (role === 'intake') client.on('close', () => (this.acks = []));
        return client;
      }
      await client.endAsync(true);
      if (outcome === 'version') {
        this.log.warn({ url: this.options.url }, 'the broker refused MQTT 5; using MQTT 3.1.1');
        this.version = 4;
        continue;
      }
      throw new BridgeError(
        'ERR_BROKER_CONNECT',
        `cannot connect to the MQTT broker at ${this.options.url} (mqtt.url) as ${role === 'intake' ? this.options.clientId : `${this.options.clientId}-out`}: ${outcome.message}`,
        { cause: outcome },
      );
    }
  }

  private onReconnect(role: 'intake' | 'out', sessionPresent: boolean): void {
    if (this.stopping) return;
    this.log.info({ role, session_present: sessionPresent }, 'reconnected to the MQTT broker');
    if (role === 'out') {
      // the will may have fired while we were away
      this.publish(this.options.stateTopic, 'online', { qos: 1, retain: true }).catch(() => undefined);
      const filters = this.allTapFilters;
      if (filters.length > 0) this.subscribeAll(filters).catch(() => undefined);
      return;
    }
    if (!sessionPresent) {
      // the broker lost our session (expiry, restart without persistence): subscribe again
      const lost = [...this.subscribed];
      this.subscribed.clear();
      this.queueSync(lost).catch(() => undefined);
    }
  }

  private readonly allTapFilters: string[] = [];

  /**
   * PUBACKs owed on the current intake connection, in the order its PUBLISHes came; each is sent once its
   * message and all before it settled ([MQTT-4.6.0-2]: PUBACKs in the order of the PUBLISHes).
   */
  private acks: Array<{ id: number; state: 'pending' | 'ok' | 'failed' }> = [];
  /** per device (or topic, but not `independent` ones): its last message's intake, so that one device's messages commit in order */
  private readonly chains = new Map<string, Promise<unknown>>();
  private inFlight = 0;
  /** set while the packet pump waits for a free slot (at most RECEIVE_MAXIMUM messages in flight) */
  private slotFree: (() => void) | undefined;

  /**
   * One message on the intake connection. mqtt.js sends a QoS 1 PUBACK in `handleMessage`'s callback and reads
   * the next packet only after it, so acknowledging there would hold one message in flight at a time (one
   * commit per message: ~0.13x the embedded broker's alert rate, measured). So the callback goes at once with
   * an error (mqtt.js then sends no PUBACK, client.js handlePublish) and we send the PUBACK ourselves once
   * intake committed: guarantee 1, with up to RECEIVE_MAXIMUM messages committing together.
   */
  private onMessage(packet: IPublishPacket, done: (err?: Error) => void): void {
    const message: BusMessage = {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
      responseTopic: packet.properties?.responseTopic,
      correlationData: packet.properties?.correlationData,
    };
    this.handled++;
    if (this.gate.closed) {
      // shutting down: not acknowledged, so the broker sends it again after the restart
      done(DEFERRED);
      return;
    }
    const ack =
      packet.qos > 0 && packet.messageId !== undefined
        ? { id: packet.messageId, state: 'pending' as 'pending' | 'ok' | 'failed' }
        : undefined;
    const acks = this.acks;
    if (ack) acks.push(ack);
    const key = this.options.independent?.includes(message.topic)
      ? undefined
      : (deviceTopics.deviceIdOf(message.topic) ?? message.topic);
    const wanted = this.intakeFilters.match(message.topic).length > 0;
    const run = () =>
      this.gate.run(() => (wanted ? this.options.intake(message, null) : undefined) ?? Promise.resolve()) ??
      Promise.reject(new BridgeError('ERR_SHUTTING_DOWN', 'the bridge is shutting down'));
    const after = key === undefined ? undefined : this.chains.get(key);
    const settled = (after ?? Promise.resolve()).then(run).then(
      () => true,
      (err: unknown) => {
        if (this.stopping || this.gate.closed) return false;
        this.refused++;
        this.log.error(
          { err, topic: message.topic },
          'intake failed; message not acknowledged (the broker sends it again after a reconnect)',
        );
        this.scheduleRedelivery();
        return false;
      },
    );
    if (key !== undefined) this.chains.set(key, settled);
    this.inFlight++;
    void settled.then((ok) => {
      if (key !== undefined && this.chains.get(key) === settled) this.chains.delete(key);
      this.inFlight--;
      if (ack) {
        ack.state = ok ? 'ok' : 'failed';
        this.flushAcks(acks);
      }
      if (ok) for (const tap of this.sharedTaps.match(message.topic)) this.tap(tap, message);
      const next = this.slotFree;
      this.slotFree = undefined;
      next?.();
    });
    const take = () => {
      if (this.hasSlot()) done(DEFERRED);
      else this.slotFree = take;
    };
    take();
  }

  /**
   * Room for one more message: fewer than RECEIVE_MAXIMUM intakes unsettled and PUBACKs owed. Owed PUBACKs count
   * too: a slow message holds back the PUBACKs of those committed after it, and Mosquitto 2.0.11 (measured) goes on
   * sending past our Receive Maximum while PUBACKs flow, so without this a bridge killed then had hundreds of
   * messages committed and not acknowledged (each committed again after the restart).
   */
  private hasSlot(): boolean {
    return this.inFlight < RECEIVE_MAXIMUM && this.acks.length < RECEIVE_MAXIMUM;
  }

  /** Sends the PUBACKs now due, in order; those of a connection that closed are dropped (the broker resends). */
  private flushAcks(acks: Array<{ id: number; state: 'pending' | 'ok' | 'failed' }>): void {
    if (acks !== this.acks) return;
    const client = this.intakeClient as unknown as
      | {
          connected: boolean;
          _sendPacket(packet: { cmd: 'puback'; messageId: number; reasonCode: number }): void;
        }
      | undefined;
    while (acks.length > 0 && acks[0]!.state !== 'pending') {
      const { id, state } = acks.shift()!;
      // the packet mqtt.js sends itself after handleMessage (handlers/publish.js)
      if (state === 'ok' && client?.connected)
        client._sendPacket({ cmd: 'puback', messageId: id, reasonCode: 0 });
    }
  }

  /**
   * MQTT 5 §4.4: a broker sends an unacknowledged message again only when the session resumes, so a message
   * whose intake failed (store down) would sit in the broker, and fill its in-flight window, until the next
   * reconnect. We reconnect ourselves, once per delay however many failed.
   */
  private scheduleRedelivery(): void {
    if (this.redeliveryTimer || this.stopping) return;
    const delay = this.options.redeliveryDelayMs ?? 5000;
    this.redeliveryTimer = setTimeout(() => {
      this.redeliveryTimer = undefined;
      const client = this.intakeClient;
      if (!client || this.stopping) return;
      this.log.warn('reconnecting so that the broker sends the unacknowledged messages again');
      // a normal DISCONNECT then a new CONNECT resuming the session (clean: false)
      client.end(false, () => {
        if (!this.stopping) client.reconnect();
      });
    }, delay);
    this.redeliveryTimer.unref();
  }

  private onBroadcast(packet: IPublishPacket): void {
    const message: BusMessage = {
      topic: packet.topic,
      payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
      qos: packet.qos,
      retain: packet.retain,
    };
    for (const tap of this.allTaps.match(message.topic)) this.tap(tap, message);
  }

  private tap(handler: (message: BusMessage) => void, message: BusMessage): void {
    try {
      handler(message);
    } catch (err) {
      this.log.error({ err, topic: message.topic }, 'in-process subscriber failed');
    }
  }

  /** Subscribes to the filters the rules now need and drops the ones they no longer need (hot reload). */
  resync(): Promise<void> {
    return this.queueSync([]);
  }

  private queueSync(extra: string[]): Promise<void> {
    const run = this.syncing.then(() => this.sync(extra));
    this.syncing = run.catch(() => undefined);
    return run;
  }

  private filterTrie(): TopicTrie<true> {
    const trie = new TopicTrie<true>();
    for (const f of this.options.filters()) trie.add(f, true);
    return trie;
  }

  private async sync(resubscribe: string[]): Promise<void> {
    const client = this.intakeClient;
    if (!client) return;
    const intake = [...this.options.filters()];
    this.intakeFilters = this.filterTrie();
    const wanted = coverFilters([...intake, ...this.sharedTapFilters]);
    const add = wanted.filter((f) => !this.subscribed.has(f) || resubscribe.includes(f));
    const drop = [...this.subscribed].filter((f) => !wanted.includes(f));
    const share = (f: string) => this.shareOf(f);
    // new ones first: a moment with both is a possible duplicate, a moment with neither a lost message
    if (add.length > 0) {
      const granted = await client.subscribeAsync(add.map(share), { qos: 1 });
      const refused = granted.filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
      for (const g of granted) if (!refused.includes(g)) this.subscribed.add(g.topic.slice(share('').length));
      if (refused.length > 0) {
        throw new BridgeError(
          'ERR_BROKER_CONNECT',
          `the MQTT broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}: check its ACL for ${this.options.username ?? 'the bridge'} and its support for shared subscriptions`,
        );
      }
    }
    if (drop.length > 0) {
      await client.unsubscribeAsync(drop.map(share));
      for (const f of drop) this.subscribed.delete(f);
    }
    if (add.length + drop.length > 0) {
      this.log.info({ subscribed: wanted, dropped: drop }, 'MQTT subscriptions');
      await this.options.filterMemory?.save([...this.subscribed]);
    }
  }

  private shareOf(filter: string): string {
    const group = this.options.shareGroup;
    return group === false ? filter : `$share/${group}/${filter}`;
  }

  private async subscribeAll(filters: string[]): Promise<void> {
    const client = this.outClient;
    if (!client) return;
    // MQTT 5 Retain Handling 2: no retained messages at subscribe, as the embedded broker's taps
    const granted = await client.subscribeAsync(filters, {
      qos: 0,
      ...(this.version === 5 ? { rh: 2 } : {}),
    });
    const refused = granted.filter((g) => g.qos !== 0 && g.qos !== 1 && g.qos !== 2);
    if (refused.length > 0) {
      throw new BridgeError(
        'ERR_BROKER_CONNECT',
        `the MQTT broker refused the subscription to ${refused.map((g) => g.topic).join(', ')}: check its ACL`,
      );
    }
  }

  async subscribe(
    filter: string,
    handler: (message: BusMessage) => void,
    options: SubscribeOptions = {},
  ): Promise<void> {
    if (!this.outClient) throw new BridgeError('ERR_BROKER_CLOSED', 'broker not started');
    if (options.allInstances) {
      this.allTaps.add(filter, handler);
      this.allTapFilters.push(filter);
      await this.subscribeAll([filter]);
      return;
    }
    this.sharedTaps.add(filter, handler);
    this.sharedTapFilters.push(filter);
    if (this.intakeClient) await this.resync();
  }

  /** Always true: the other broker's subscriptions (other instances' clients among them) are not known here. */
  hasSubscribers(_filter: string): boolean {
    return true;
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const client = this.outClient;
    // mqtt.js would queue it in memory until the broker is back: unbounded, and a command taken for published
    if (!client?.connected)
      return Promise.reject(
        new BridgeError('ERR_BROKER_CLOSED', `MQTT broker not connected; ${topic} not published`),
      );
    const properties =
      this.version === 5 && (options.expiryMs !== undefined || options.correlationData !== undefined)
        ? {
            // MQTT 5 §3.3.2.3.3: seconds; the broker drops the message once it has waited this long
            ...(options.expiryMs !== undefined
              ? { messageExpiryInterval: Math.max(1, Math.ceil(options.expiryMs / 1000)) }
              : {}),
            ...(options.correlationData !== undefined ? { correlationData: options.correlationData } : {}),
          }
        : undefined;
    return new Promise((resolve, reject) => {
      client.publish(
        topic,
        payload,
        { qos: options.qos ?? 0, retain: options.retain ?? false, ...(properties ? { properties } : {}) },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** No new messages taken (those arriving are left unacknowledged); resolves once those in flight are committed. */
  async stopIntake(): Promise<void> {
    await this.gate.close();
  }

  get pendingIntake(): number {
    return this.gate.pending;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.redeliveryTimer) clearTimeout(this.redeliveryTimer);
    this.redeliveryTimer = undefined;
    void this.gate.close();
    const clients = [this.intakeClient, this.outClient];
    this.intakeClient = undefined;
    this.outClient = undefined;
    this.subscribed.clear();
    await Promise.all(clients.map((c) => (c ? close(c) : undefined)));
  }
}

/**
 * A normal DISCONNECT after the PUBACKs already written (the session stays until it expires; the will is
 * discarded, the app published `offline`); the socket is dropped if the broker does not answer in 2 s.
 */
async function close(client: MqttClient): Promise<void> {
  if (!client.connected) {
    await client.endAsync(true).catch(() => undefined);
    return;
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 2000);
  });
  await Promise.race([client.endAsync(false).catch(() => undefined), late]);
  clearTimeout(timer);
  if (!client.disconnected) await client.endAsync(true).catch(() => undefined);
}

/** The filters intake needs for these rules: each enabled rule's topic and resolve topic. */
export function ruleFilters(rules: RuleSet): string[] {
  return rules.rules.flatMap((r) =>
    !r.enabled ? [] : r.resolveTopic ? [r.topic, r.resolveTopic] : [r.topic],
  );
}

/** The filters a client id's session is subscribed to, kept in the store's key-value table. */
export function subscriptionMemory(
  store: Store,
  clientId: string,
): { load(): Promise<string[]>; save(filters: string[]): Promise<void> } {
  const scope = 'mqtt-subscriptions';
  return {
    async load() {
      const row = (await store.loadKv(scope)).find((r) => r.key === clientId);
      const value: unknown = row ? JSON.parse(row.value.toString('utf8')) : [];
      return Array.isArray(value) ? value.filter((f): f is string => typeof f === 'string') : [];
    },
    save: (filters) =>
      store.transaction((tx) => tx.kv.put(scope, clientId, Buffer.from(JSON.stringify(filters)), Date.now())),
  };
}
