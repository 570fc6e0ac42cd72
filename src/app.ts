import { type Access, openAccess } from './broker/bus.js';
import { EmbeddedBroker } from './broker/embedded.js';
import type { BridgeConfig } from './config/bridge-schema.js';
import { loadRuleFiles } from './config/load-rules.js';
import { type DeviceLookup, Intake } from './intake.js';
import type { Logger } from './logger.js';
import type { RuleSet } from './rules/engine.js';
import { SmscSimulator } from './simulator/smsc.js';
import { DeliverHandler, pduText } from './smpp/deliver-handler.js';
import type { InboundPdu } from './smpp/link.js';
import { Sender } from './smpp/sender.js';
import { SmppClient } from './smpp/session.js';
import { SqliteStore } from './store/sqlite-store.js';
import type { SmsRecord } from './store/store.js';
import { createTopics, type Topics } from './topics.js';

export interface AppOptions {
  config: BridgeConfig;
  logger: Logger;
  /** where rule and device globs are resolved. Default `process.cwd()`. */
  cwd?: string;
  /** a store to use instead of the one `config.store` describes (fault injection in tests) */
  store?: SqliteStore | undefined;
}

const noDevices: DeviceLookup = { device: () => undefined };

/** The composition root: builds every service, starts them in order and stops them in reverse. */
export class App {
  readonly topics: Topics;
  readonly store: SqliteStore;
  readonly broker: EmbeddedBroker;
  readonly intake: Intake;
  readonly sender: Sender;
  readonly links: SmppClient[];
  readonly receipts: DeliverHandler;
  readonly simulator: SmscSimulator | undefined;
  private rules: RuleSet;
  private readonly log: Logger;
  private started: Array<{ name: string; stop: () => Promise<void> }> = [];

  constructor(private readonly options: AppOptions) {
    const { config, logger } = options;
    this.log = logger.child({ module: 'app' });
    this.topics = createTopics(config.base_topic);
    this.store =
      options.store ?? new SqliteStore({ path: config.store.path, synchronous: config.store.synchronous });
    this.rules = loadRuleFiles(config.rules, options.cwd ?? process.cwd());
    this.simulator = config.simulator.enabled
      ? new SmscSimulator({ receipts: config.simulator.receipts, logger })
      : undefined;
    this.links = config.smpp.connections.map(
      (c) =>
        new SmppClient(
          {
            id: c.id,
            url: c.url,
            systemId: c.system_id,
            password: c.password ?? '',
            systemType: c.system_type,
            interfaceVersion: c.interface_version,
            bindMode: c.bind_mode,
            enquireLinkIntervalMs: c.enquire_link_interval,
            responseTimeoutMs: c.response_timeout,
            reconnectInitialMs: c.reconnect.initial,
            reconnectMaxMs: c.reconnect.max,
          },
          logger,
        ),
    );
    this.sender = new Sender({
      connections: config.smpp.connections.map((c, i) => ({
        id: c.id,
        link: this.links[i]!,
        window: c.window,
        tps: c.tps,
        priority: c.priority,
        routes: c.routes,
        sourceAddr: c.source_addr,
        sourceAddrTon: c.source_addr_ton,
        sourceAddrNpi: c.source_addr_npi,
        registeredDelivery: c.registered_delivery,
        iei: 0x00,
        messagePayload: false,
      })),
      store: this.store,
      maxParts: config.smpp.max_parts,
      logger,
      onStatus: (sms, detail) => this.publishStatus(sms, detail),
    });
    this.receipts = new DeliverHandler({
      store: this.store,
      logger,
      onStatus: (sms, detail) => this.publishStatus(sms, detail),
      onMo: async (pdu) => this.onMo(pdu),
    });
    for (const link of this.links) link.on('deliver', this.receipts.handle);
    this.intake = new Intake({
      rules: () => this.rules,
      store: this.store,
      devices: noDevices,
      maxAgeMs: () => config.smpp.max_age,
      onQueued: (records) => {
        this.sender.enqueue(records);
        for (const sms of records) this.publishStatus(sms);
      },
      logger,
    });
    const access: Access = openAccess;
    if (!config.mqtt.allow_anonymous) {
      this.log.warn(
        'mqtt.allow_anonymous is false but no device registry is loaded yet: every login is refused',
      );
    }
    this.broker = new EmbeddedBroker({
      host: config.mqtt.host,
      port: config.mqtt.port,
      access: config.mqtt.allow_anonymous ? access : { ...access, authenticate: async () => null },
      intake: this.intake.handle,
      logger,
    });
  }

  /** Replaces the rule set (hot reload keeps the last good one when the new one fails to load). */
  setRules(rules: RuleSet): void {
    this.rules = rules;
  }

  async start(): Promise<void> {
    const { config } = this.options;
    try {
      await this.startService('store', this.store);
      if (this.simulator) {
        const sim = this.simulator;
        await sim.start({ host: config.simulator.host, port: config.simulator.port });
        this.started.push({ name: 'simulator', stop: () => sim.stop() });
      }
      await this.startService('sender', this.sender);
      for (const link of this.links) {
        link.start();
        this.started.push({ name: `smpp:${link.id}`, stop: () => link.stop() });
      }
      await this.startService('broker', this.broker);
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

  /** Stops intake first, drains in-flight submits, unbinds, closes the store. */
  async stop(): Promise<void> {
    const started = this.started.reverse();
    this.started = [];
    if (started.some((s) => s.name === 'broker')) {
      await this.broker
        .publish(this.topics.state, 'offline', { qos: 1, retain: true })
        .catch(() => undefined);
    }
    for (const service of started) {
      try {
        await service.stop();
      } catch (err) {
        this.log.error({ err, service: service.name }, 'error while stopping');
      }
    }
  }

  private publishStatus(sms: SmsRecord, detail?: Record<string, unknown>): void {
    if (sms.state !== 'queued') {
      this.log.info(
        {
          sms_id: sms.id,
          to: sms.to,
          state: sms.state,
          error: sms.error ?? undefined,
          connection: sms.connectionId,
        },
        `SMS ${sms.state}`,
      );
    }
    const payload = JSON.stringify({
      id: sms.id,
      state: sms.state,
      to: sms.to,
      rule: sms.ruleId,
      device: sms.deviceId,
      parts: sms.partsTotal || undefined,
      error_code: sms.errorCode ?? undefined,
      error: sms.error ?? undefined,
      at: new Date(sms.updatedAt).toISOString(),
      ...detail,
    });
    this.broker.publish(this.topics.smsOutbound(sms.id), payload, { qos: 1 }).catch((err: unknown) => {
      this.log.debug({ err }, 'status event not published');
    });
  }

  /** Until inbound commands exist, an MO is logged and acknowledged. */
  private async onMo(pdu: InboundPdu): Promise<void> {
    this.log.info(
      { from: pdu.sourceAddr, text: pduText(pdu) },
      'SMS received (inbound commands not enabled)',
    );
  }
}
