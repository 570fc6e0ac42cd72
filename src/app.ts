import { hostname } from 'node:os';
import { AlertEngine } from './alerts/alert-engine.js';
import { Announcer } from './announce.js';
import { responseTopicProblem, SmsSendApi } from './api/sms-send.js';
import type { BridgeBroker, BusMessage } from './broker/bus.js';
import { EmbeddedBroker } from './broker/embedded.js';
import { ExternalBroker, ruleFilters, subscriptionMemory } from './broker/external.js';
import { bridgeTopicFilters, brokerLimits } from './broker/limits.js';
import { BrokerPersistence } from './broker/persistence.js';
import { Cluster } from './cluster/cluster.js';
import type { BridgeConfig } from './config/bridge-schema.js';
import { createAccess } from './devices/access.js';
import type { DeviceRegistry } from './devices/registry.js';
import { BridgeError, FileIssuesError } from './errors.js';
import { Events } from './events.js';
import { HistoryPurger } from './history.js';
import type { HttpServer } from './http/server.js';
import { InboundGuard, inboundLimitsOf } from './inbound/guard.js';
import { InboundService } from './inbound/service.js';
import { Intake } from './intake.js';
import type { Logger } from './logger.js';
import { queueSms, requeueSms, senderStore } from './outbox.js';
import { applyConfigSet, loadConfigSet, Reloader, type ReloadOutcome, type ReloadTarget } from './reload.js';
import type { RuleSet } from './rules/engine.js';
import { StopSteps } from './shutdown.js';
import { demoMoHandler } from './simulator/demo-mo.js';
import { SmscSimulator } from './simulator/smsc.js';
import { DeliverHandler } from './smpp/deliver-handler.js';
import { smppClientOptions } from './smpp/from-config.js';
import { Sender } from './smpp/sender.js';
import { SmppClient } from './smpp/session.js';
import { createStore } from './store/index.js';
import { POOL_SIZE_DEFAULT } from './store/postgres/postgres-store.js';
import type { NewSms, SmsRecord, Store } from './store/store.js';
import { createTopics, type Topics } from './topics.js';

export interface AppOptions {
  config: BridgeConfig;
  logger: Logger;
  /** where rule and device globs are resolved. Default `process.cwd()`. */
  cwd?: string;
  /** a store to use instead of the one `config.store` describes (fault injection in tests) */
  store?: Store | undefined;
  /** Reload rules and devices when their files change. Default `true`; `reload()` (SIGHUP) works either way. */
  watch?: boolean;
  /** Quiet time after a file change before reloading. Default 300 ms. */
  reloadDebounceMs?: number;
  /** Time between runs of the history purge (`store.retention`). Default 10 minutes. */
  historyIntervalMs?: number;
}

/** The composition root: builds every service, starts them in order and stops them in reverse. */
export class App {
  readonly topics: Topics;
  readonly store: Store;
  private readonly history: HistoryPurger;
  /** facts after commit: `sms.status`, `alert.changed`, `inbound.received` */
  readonly events: Events;
  /** the embedded broker, or the client of an external one (`mqtt.mode`) */
  readonly broker: BridgeBroker;
  /** set in `mqtt.mode: external` */
  readonly external: ExternalBroker | undefined;
  readonly intake: Intake;
  readonly sender: Sender;
  readonly links: SmppClient[];
  readonly receipts: DeliverHandler;
  readonly simulator: SmscSimulator | undefined;
  /** `<base>/request/sms/send` */
  readonly api: SmsSendApi;
  readonly reloader: Reloader;
  readonly inbound: InboundService;
  /** alert lifecycle and policies; `ack()` answers `ACK <ref>` */
  readonly alerts: AlertEngine;
  /** health, metrics, admin API and status page; undefined unless `http.enabled`, and until `start()` */
  http: HttpServer | undefined;
  /** connection leases and SMS claims among instances; undefined unless `cluster.enabled` */
  readonly cluster: Cluster | undefined;
  private rules: RuleSet;
  private devices: DeviceRegistry;
  private readonly log: Logger;
  private started: Array<{ name: string; stop: () => Promise<void> }> = [];

  constructor(private readonly options: AppOptions) {
    const { config, logger } = options;
    this.log = logger.child({ module: 'app' });
    this.events = new Events(this.log);
    this.store = options.store ?? createStore(config.store, logger);
    this.history = new HistoryPurger(this.store, {
      retentionMs: config.store.retention,
      logger: logger.child({ module: 'history' }),
      intervalMs: options.historyIntervalMs,
    });
    const loaded = loadConfigSet(
      { rules: config.rules, devices: config.devices },
      options.cwd ?? process.cwd(),
    );
    if (!loaded.ok) {
      if (loaded.issues.length > 0) throw new FileIssuesError('ERR_RULE_INVALID', loaded.issues);
      throw new BridgeError('ERR_CONFIG_READ', loaded.errors.join('\n'));
    }
    this.rules = loaded.set.rules;
    this.devices = loaded.set.devices;
    this.simulator = config.simulator.enabled
      ? new SmscSimulator({ receipts: config.simulator.receipts, logger })
      : undefined;
    this.links = config.smpp.connections.map((c) => new SmppClient(smppClientOptions(c), logger));
    const routes = (c: { routes: string[] }) => c.routes.map((r) => (r.startsWith('+') ? r : `+${r}`));
    this.cluster = config.cluster.enabled
      ? new Cluster({
          config: config.cluster,
          store: this.store,
          connections: config.smpp.connections.map((c, i) => ({
            id: c.id,
            routes: routes(c),
            link: this.links[i]!,
            tps: c.tps,
            window: c.window,
          })),
          sender: () => this.sender,
          logger,
        })
      : undefined;
    this.topics = createTopics(config.base_topic, this.cluster?.instanceId);
    const cluster = this.cluster;
    this.sender = new Sender({
      connections: config.smpp.connections.map((c, i) => ({
        id: c.id,
        link: cluster ? cluster.gate(this.links[i]!) : this.links[i]!,
        window: c.window,
        tps: c.tps,
        priority: c.priority,
        routes: routes(c),
        sourceAddr: c.source_addr,
        sourceAddrTon: c.source_addr_ton,
        sourceAddrNpi: c.source_addr_npi,
        registeredDelivery: c.registered_delivery,
        longText: c.long_text,
        messageIdFormat: c.message_id_format,
      })),
      store: cluster ? cluster.senderStore(senderStore(this.store)) : senderStore(this.store),
      maxParts: config.smpp.max_parts,
      logger,
      onStatus: (sms, detail) => this.events.emit('sms.status', sms, detail),
    });
    this.receipts = new DeliverHandler({
      store: this.store,
      events: this.events,
      logger,
      onMo: (pdu) => this.inbound.handle(pdu),
      messageIdFormat: (id) => config.smpp.connections.find((c) => c.id === id)?.message_id_format ?? 'auto',
    });
    for (const link of this.links) link.on('deliver', this.receipts.handle);
    this.alerts = new AlertEngine({
      rules: () => this.rules,
      store: this.store,
      events: this.events,
      maxAgeMs: () => config.smpp.max_age,
      logger,
      refreshMs: cluster ? config.cluster.alert_refresh : undefined,
      shared: cluster !== undefined,
      // two of the pool's connections stay free for leases, claims and send results
      maxTransactions: config.store.url
        ? Math.max(1, (config.store.pool_size ?? POOL_SIZE_DEFAULT) - 2)
        : undefined,
    });
    this.intake = new Intake({
      alerts: this.alerts,
      rules: () => this.rules,
      devices: { device: (id) => this.devices.device(id) },
      logger,
      maxPayloadBytes: config.limits.rule_payload_bytes,
      maxParts: config.smpp.max_parts,
    });
    this.api = new SmsSendApi({
      topics: this.topics,
      publish: (topic, payload, options) => this.broker.publish(topic, payload, options),
      responseTopicProblem: (topic) => responseTopicProblem(topic, config.base_topic),
      rules: () => this.rules,
      queue: (items) => this.queue(items),
      maxParts: config.smpp.max_parts,
      maxAgeMs: () => config.smpp.max_age,
      logger,
    });
    this.reloader = new Reloader({
      rules: config.rules,
      devices: config.devices,
      cwd: options.cwd ?? process.cwd(),
      apply: (set) => applyConfigSet(this as ReloadTarget, set),
      logger,
      watch: options.watch ?? true,
      debounceMs: options.reloadDebounceMs,
    });
    const access = createAccess({
      registry: () => this.devices,
      allowAnonymous: config.mqtt.allow_anonymous,
      anonymous: config.mqtt.anonymous,
      accounts: config.mqtt.accounts,
      logger,
    });
    const alertTopics = this.topics.alert('');
    const intake = (message: BusMessage, clientId: string | null) =>
      this.api.handles(message.topic)
        ? this.api.handle(message, clientId)
        : this.intake.handle(message, clientId);
    const m = config.mqtt;
    this.external =
      m.mode === 'external'
        ? new ExternalBroker({
            url: m.url ?? '',
            username: m.username,
            password: m.password,
            clientId: m.client_id ?? `${config.base_topic}-${hostname()}`,
            shareGroup: m.share_group,
            protocolVersion: m.protocol_version,
            sessionExpiryMs: m.session_expiry,
            tls: { ca: m.ca, cert: m.cert, key: m.key, rejectUnauthorized: m.reject_unauthorized ?? true },
            intake,
            filters: () => [...ruleFilters(this.rules), this.topics.requestSmsSend],
            independent: [this.topics.requestSmsSend],
            filterMemory: subscriptionMemory(this.store, m.client_id ?? `${config.base_topic}-${hostname()}`),
            stateTopic: this.topics.state,
            logger,
          })
        : undefined;
    this.broker =
      this.external ??
      new EmbeddedBroker({
        host: config.mqtt.host,
        port: config.mqtt.port,
        access,
        intake,
        tls: config.mqtt.tls,
        websocket: config.mqtt.websocket,
        // retained messages and persistent sessions survive a restart; built when the broker starts
        persistence: new BrokerPersistence({
          repository: () => this.store.brokerState(),
          logger,
          // the alert engine announces every live alert again at start (`alerts.announce()`)
          republished: (topic) => topic.startsWith(alertTopics),
        }),
        limits: brokerLimits(config.mqtt),
        bridgeTopics: bridgeTopicFilters(config.base_topic),
        logger,
      });
    this.inbound = new InboundService({
      store: this.store,
      bus: this.broker,
      events: this.events,
      devices: () => this.devices,
      rules: () => this.rules,
      ack: async (ref, phone) => (await this.alerts.ack(ref, phone)).reply,
      logger,
      guard: new InboundGuard(inboundLimitsOf(config.inbound)),
      commandAdopt: cluster
        ? { owner: cluster.instanceId, afterMs: config.cluster.command_adopt_after }
        : undefined,
    });
    new Announcer({ events: this.events, bus: this.broker, topics: this.topics, logger });
    this.events.on('sms.status', (sms) => {
      // in cluster mode the SMS may be another instance's to send: claimed, not taken
      if (sms.state === 'queued') cluster ? cluster.kick() : this.sender.enqueue([sms]);
    });
    this.events.on('sms.status', this.alerts.onSmsStatus);
  }

  /** Loaded only when `http.enabled`: fastify and prom-client are about half of the bridge's import time. */
  private async createHttp(): Promise<HttpServer> {
    const { config, logger } = this.options;
    const { HttpServer } = await import('./http/server.js');
    const http = new HttpServer({
      host: config.http.host,
      port: config.http.port,
      token: config.http.token,
      logger,
      sources: {
        store: this.store,
        storeFile: config.store.url ? undefined : config.store.path,
        brokerListening: () => this.broker.up,
        links: this.links,
        clusterMember: this.cluster ? () => this.cluster?.member ?? false : undefined,
        queueDepth: () => this.sender.depth,
        counters: () => ({
          messagesIn: this.intake.messagesIn,
          ruleHits: this.intake.ruleHits,
          receipts: this.receipts.receipts,
        }),
        queue: (items) => this.queue(items),
        requeue: (id, expiresAt) => requeueSms(this.store, this.events, id, expiresAt),
        maxAgeMs: () => config.smpp.max_age,
        alerts: async () =>
          this.alerts.live().map((a) => ({
            id: a.id,
            ref: a.ref,
            state: a.state,
            rule: a.ruleId,
            device: a.deviceId || undefined,
            label: a.label,
            count: a.count,
            openedAt: a.openedAt,
          })),
      },
    });
    return http;
  }

  /** Replaces the rule set (hot reload keeps the last good one when the new one fails to load). */
  setRules(rules: RuleSet): void {
    this.rules = rules;
    this.external
      ?.resync()
      .catch((err: unknown) => this.log.error({ err }, 'MQTT subscriptions not updated'));
  }

  /** Replaces the device registry (hot reload). */
  setDevices(devices: DeviceRegistry): void {
    this.devices = devices;
  }

  /** Reloads rules and devices from their files now (SIGHUP); a bad set is logged and not applied. */
  reload(reason = 'SIGHUP'): ReloadOutcome {
    return this.reloader.reload(reason, true);
  }

  /** Commits SMS to the outbox and announces them: the one path for SMS not made by alerts or inbound. */
  queue(items: NewSms[]): Promise<SmsRecord[]> {
    return queueSms(this.store, this.events, items);
  }

  async start(): Promise<void> {
    const { config, logger } = this.options;
    try {
      await this.startService('store', this.store);
      await this.startService('history', this.history);
      this.receipts.start();
      if (this.simulator) {
        const sim = this.simulator;
        await sim.start({ host: config.simulator.host, port: config.simulator.port });
        this.started.push({ name: 'simulator', stop: () => sim.stop() });
      }
      // Started in this order so that stopping in reverse stops intake first, then drains the sender,
      // then unbinds.
      // in cluster mode a link is bound by the cluster while this instance holds its lease, and the sender
      // runs under the cluster (it drops what it holds when a lease is lost)
      for (const link of this.cluster ? [] : this.links) {
        link.start();
        this.started.push({ name: `smpp:${link.id}`, stop: () => link.stop() });
      }
      if (this.cluster) await this.startService('cluster', this.cluster);
      else await this.startService('sender', this.sender);
      // after the sender (its timers queue SMS), before the broker (intake needs it)
      await this.startService('alerts', this.alerts);
      await this.startService('broker', this.broker);
      this.alerts.announce();
      await this.startService('inbound', this.inbound);
      if (this.simulator)
        await this.broker.subscribe(
          this.topics.simulatorMo,
          demoMoHandler(this.simulator, this.topics.simulatorMo, logger),
        );
      // external broker: its session's messages come in once every subscriber above is in place
      await this.external?.startIntake();
      await this.startService('reloader', this.reloader);
      if (this.options.config.http.enabled && !this.http) {
        const http = await this.createHttp();
        this.events.on('sms.status', (sms) => http.smsChanged(sms));
        this.http = http;
      }
      if (this.http) await this.startService('http', this.http);
      await this.broker.publish(this.topics.state, 'online', { qos: 1, retain: true });
      this.log.info(
        { mqtt_port: this.broker.port, rules: this.rules.size, smsc: this.links.map((l) => l.id) },
        'bridge started',
      );
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startService(name: string, service: { start(): Promise<void>; stop(): Promise<void> }) {
    await service.start();
    this.started.push({ name, stop: () => service.stop() });
  }

  /**
   * Stops in this order: no new work in (HTTP, SMPP deliver_sm, MQTT publishes and connections), the work
   * in flight finished (inbound commands, intake commits, alert timers, submits awaiting submit_sm_resp),
   * `offline` on the retained state topic while devices still listen, MQTT clients closed, unbind, store
   * closed. `steps` names what is still running when a deadline passes (the CLI's shutdown_timeout).
   */
  async stop(steps = new StopSteps(this.log)): Promise<void> {
    const order = this.started.reverse();
    this.started = [];
    const left = new Map(order.map((s) => [s.name, s.stop]));
    const stop = async (name: string) => {
      const fn = left.get(name);
      left.delete(name);
      if (fn) await steps.run(name, fn);
    };
    const brokerUp = left.has('broker');
    await Promise.all([
      stop('http'),
      stop('reloader'),
      steps.run('smpp-inbound', () => this.receipts.stop()),
      brokerUp ? steps.run('mqtt-intake', () => this.broker.stopIntake()) : undefined,
    ]);
    await stop('inbound');
    await stop('alerts');
    await stop('cluster');
    await stop('sender');
    if (brokerUp) {
      await steps.run('offline', () =>
        this.broker.publish(this.topics.state, 'offline', { qos: 1, retain: true }),
      );
      await stop('broker');
    }
    // the rest in reverse start order: unbind, the simulator, the store
    for (const { name } of order) await stop(name);
  }
}
