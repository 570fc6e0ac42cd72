import { readFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { createServer, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Aedes, Client } from 'aedes';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { WorkGate } from '../work-gate.js';
import {
  type Access,
  accountKey,
  type BridgeBroker,
  type BusMessage,
  type IntakeHandler,
  type Principal,
  type PublishOptions,
} from './bus.js';
import { FilterIndex } from './filter-index.js';
import { ClientIdClaims } from './identity.js';
import { IndexedAedes } from './indexed-aedes.js';
import {
  BRIDGE_OWNER,
  type BrokerLimits,
  DEFAULT_BROKER_LIMITS,
  RetainedLedger,
  reservedTopics,
} from './limits.js';
import { authError, createLogin } from './login.js';
import { LoginGuard, LogLimiter } from './login-guard.js';
import { guardedAddress, guardPacketSize } from './packet-guard.js';
import type { BrokerPersistence } from './persistence.js';
import { TapList } from './tap-list.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  access: Access;
  intake: IntakeHandler;
  logger: Logger;
  /** MQTT over TLS on `host`; file paths of PEM files. Default: off. */
  tls?: { port: number; cert: string; key: string; ca?: string | undefined } | undefined;
  /** MQTT over WebSocket on `host`. Default: off. */
  websocket?: { port: number } | undefined;
  /** Durable retained messages and persistent sessions; default: aedes' in-memory persistence. */
  persistence?: BrokerPersistence | undefined;
  /** Default `DEFAULT_BROKER_LIMITS` (`brokerLimits(config.mqtt)` gives the configured ones). */
  limits?: BrokerLimits | undefined;
  /** Filters of the topics only the bridge publishes to (`bridgeTopicFilters(base)`). Default: none. */
  bridgeTopics?: readonly string[] | undefined;
}

/** A listener besides the TCP one; `close` stops it and ends its connections. */
interface ExtraListener {
  name: 'tls' | 'websocket';
  server: Server;
  close?: () => void;
}

/**
 * Who a client logged in as, and the last topic it published to that passed every check that depends on the
 * topic alone (NUL, ACL, the bridge's topics): a device publishes to few topics, mostly one, and its ACL answer
 * for a topic does not change while it is connected (`Access.canPublish`).
 */
interface Session {
  readonly principal: Principal;
  /** `accountKey(principal)`, the owner of its retained messages */
  readonly owner: string;
  cleared: string | undefined;
  /** the in-process taps of `cleared` as of `tapsGeneration` (one per session: no per-topic lookup) */
  clearedTaps: readonly Tap[] | undefined;
  tapsGeneration: number;
}
type Tap = (message: BusMessage) => void;
const sessions = new WeakMap<Client, Session>();
const emptyIdWithSession = new WeakSet<Client>();
/** [MQTT-1.5.3-2] a UTF-8 string with U+0000 must make the receiver close the connection */
const hasNul = (text: string | undefined): boolean => text?.includes('\u0000') === true;
const NO_TAPS: readonly Tap[] = [];

/**
 * node:tls and node:http, loaded only when their listener is on (start-up time, BENCHMARKS.md). `require`, not
 * `import()`: dist/bridge.cjs runs in a vm.Script, which has no dynamic import of a module outside the bundle.
 */
const requireBuiltin = createRequire(import.meta.url) as {
  (id: 'node:tls'): typeof import('node:tls');
  (id: 'node:http'): typeof import('node:http');
};

function portOf(server: Server | undefined): number {
  const address = server?.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function untrackFrom(sockets: Set<Socket>): (this: Socket) => void {
  return function untrack(this: Socket) {
    sockets.delete(this);
  };
}

/** aedes 1.x on TCP. Intake runs in `authorizePublish`, the only hook aedes runs before a QoS 1 PUBACK. */
export class EmbeddedBroker implements BridgeBroker {
  private aedes: IndexedAedes | undefined;
  private server: Server | undefined;
  private extra: ExtraListener[] = [];
  private readonly log: Logger;
  /** clients already told off for a refused topic: logged once per client, not per packet */
  private readonly refusedLogged = new WeakSet<Client>();
  /**
   * The bridge's own subscribers are called here rather than subscribed in aedes: an in-process aedes
   * subscriber on a busy filter (`devices/+/telemetry`) cost ~30% of the broker's throughput in bench/.
   */
  private taps = new TapList<Tap>();
  /** bumped when taps change: a session's remembered taps of an older generation are looked up again */
  private tapsGeneration = 0;
  /** the taps' filters, for `hasSubscribers` */
  private tapFilters = new FilterIndex();
  /** intake calls in flight; closed by `stopIntake()` */
  private readonly intakeGate = new WorkGate();
  /** every socket accepted on any listener: one that never sent CONNECT is no aedes client to close */
  private readonly sockets = new Set<Socket>();
  /** resolve when each listener has stopped and its last connection ended */
  private listenersClosed: Promise<void>[] = [];
  private readonly options: EmbeddedBrokerOptions;
  private readonly limits: BrokerLimits;
  /** retained messages and who set them; the bridge's own count as `bridge` */
  private retained: RetainedLedger;
  /** why a client may not publish to a topic only the bridge publishes to */
  private readonly reservedTopicProblem: (topic: string, retain: boolean) => string | undefined;
  /** password checks made, for tests */
  private loginGuard: LoginGuard | undefined;
  /** warn lines about refused logins, packets and client ids: a flood must not become a flood of log lines */
  private readonly warnLimiter = new LogLimiter();

  constructor(options: EmbeddedBrokerOptions) {
    this.log = options.logger.child({ module: 'broker' });
    this.limits = options.limits ?? DEFAULT_BROKER_LIMITS;
    this.retained = new RetainedLedger(this.limits.retained);
    this.reservedTopicProblem = reservedTopics(options.bridgeTopics ?? []);
    const intake = options.intake;
    // Intake goes through the gate so that shutdown can refuse new publishes and wait for the ones in flight.
    this.options = {
      ...options,
      intake: (message, clientId) => {
        if (this.intakeGate.closed) {
          return Promise.reject(
            new BridgeError(
              'ERR_SHUTTING_DOWN',
              'the bridge is shutting down; publish again after it restarts',
            ),
          );
        }
        const pending = intake(message, clientId);
        // nothing to commit: nothing for shutdown to wait for either
        return pending === undefined ? undefined : this.intakeGate.run(() => pending);
      },
    };
  }

  /** shared by every connection's packet size guard */
  private readonly packetRefused = (err: Error, address: string | undefined) =>
    this.warn({ address, err: err.message }, 'MQTT connection closed: packet refused');
  /** one 'close' listener for every socket (`this` is the socket) rather than a closure and `once` wrapper each */
  private readonly untrack = untrackFrom(this.sockets);

  /** Counts a listener's sockets so that `stop()` can end them all. */
  private track(server: Server): Server {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.on('close', this.untrack);
    });
    return server;
  }

  /** Password checks started since `start()` (each one scrypt). */
  get loginChecks(): number {
    return this.loginGuard?.checks ?? 0;
  }

  get up(): boolean {
    return this.port > 0;
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  /** Port of the TLS listener, 0 when off. */
  get tlsPort(): number {
    return portOf(this.extra.find((l) => l.name === 'tls')?.server);
  }

  /** Port of the WebSocket listener, 0 when off. */
  get websocketPort(): number {
    return portOf(this.extra.find((l) => l.name === 'websocket')?.server);
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const { access, intake } = this.options;
    const log = this.log;
    const limits = this.limits;
    const guard = new LoginGuard(limits.login);
    this.loginGuard = guard;
    const claims = new ClientIdClaims(limits.maxSessionsPerAccount);
    this.retained = new RetainedLedger(limits.retained);
    const login = createLogin({
      access,
      guard,
      claims,
      addressOf: (client) => guardedAddress(client.conn) ?? 'unknown',
      onLogin: (client, principal) =>
        sessions.set(client, {
          principal,
          owner: accountKey(principal),
          cleared: undefined,
          clearedTaps: undefined,
          tapsGeneration: -1,
        }),
      warn: (fields, message) => this.warn(fields, message),
      log,
    });
    const aedes = await IndexedAedes.start({
      persistence: this.options.persistence,
      preConnect: (client, packet, callback) => {
        if (hasNul(packet.clientId) || hasNul(packet.username) || hasNul(packet.will?.topic)) {
          callback(new Error('U+0000 in a CONNECT string [MQTT-1.5.3-2]'), false);
          return;
        }
        // [MQTT-3.1.3-8] a zero-byte ClientId with CleanSession 0 must be refused with return code 0x02;
        // aedes assigns a random id instead, so we refuse it in authenticate where a return code can be sent.
        if (packet.clientId === '' && packet.clean === false) emptyIdWithSession.add(client);
        callback(null, true);
      },
      authenticate: (client, username, password, done) => {
        if (emptyIdWithSession.has(client)) {
          done(authError('a zero-byte client id needs clean session [MQTT-3.1.3-8]', 2), null);
          return;
        }
        login(client, username, password, done);
      },
      authorizePublish: (client, packet, callback) => {
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        const topic = packet.topic;
        let owner = BRIDGE_OWNER;
        let session: Session | undefined;
        if (client) {
          session = sessions.get(client);
          if (session === undefined || session.cleared !== topic || packet.retain) {
            const problem = this.publishProblem(client, session, topic, packet.retain, payload.length);
            if (problem !== undefined) {
              callback(new Error(problem));
              return;
            }
          }
          owner = (session as Session).owner;
        }
        const message: BusMessage = { topic, payload, qos: packet.qos, retain: packet.retain };
        let pending: Promise<void> | undefined;
        try {
          pending = intake(message, client?.id ?? null);
        } catch (err) {
          pending = Promise.reject(err);
        }
        // most messages commit nothing: acknowledged in this tick, as bare aedes does
        if (pending === undefined) {
          this.accepted(message, owner, session, callback);
          return;
        }
        pending.then(
          () => this.accepted(message, owner, session, callback),
          (err: unknown) => {
            // No PUBACK: the device keeps the message and sends it again after reconnecting.
            log.error({ err, client: client?.id, topic }, 'intake failed; message not acknowledged');
            callback(err instanceof Error ? err : new Error(String(err)));
          },
        );
      },
      authorizeSubscribe: (client, subscription, callback) => {
        if (hasNul(subscription.topic)) {
          callback(new Error('U+0000 in a topic filter [MQTT-1.5.3-2]'), null);
          return;
        }
        const principal = sessions.get(client)?.principal;
        if (!principal || !access.canSubscribe(principal, subscription.topic)) {
          this.refuse(client, 'subscribe', subscription.topic);
          // [MQTT-3.9.3] a refused subscription gets return code 0x80 in SUBACK (aedes sends it for a null sub)
          callback(null, null);
          return;
        }
        callback(null, subscription);
      },
      // Every message to a client, queued ones of a resumed session and retained ones included, passes the ACL.
      authorizeForward: (client, packet) => {
        const principal = sessions.get(client)?.principal;
        return principal && access.canReceive(principal, packet.topic) ? packet : null;
      },
    });
    aedes.on('clientError', (client, err) =>
      log.debug({ client: client.id, err: err.message }, 'client error'),
    );
    aedes.on('connectionError', (client, err) =>
      log.debug({ client: client?.id, err: err.message }, 'connection error'),
    );
    this.aedes = aedes;
    const server = this.track(createServer((socket) => this.accept(aedes, socket, socket.remoteAddress)));
    server.maxConnections = limits.maxConnections;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          new BridgeError(
            'ERR_LISTEN',
            `cannot listen for MQTT on ${this.options.host}:${this.options.port} (mqtt.host/mqtt.port): ${err.code ?? err.message}`,
            { cause: err },
          ),
        );
      });
      server.listen(this.options.port, this.options.host, () => resolve());
    });
    server.on('error', (err) => log.error({ err }, 'MQTT listener error'));
    log.info({ host: this.options.host, port: this.port }, 'MQTT broker listening');
    if (this.options.tls) await this.listenTls(aedes, this.options.tls);
    if (this.options.websocket) await this.listenWebSocket(aedes, this.options.websocket.port);
  }

  private async listenTls(aedes: Aedes, tls: NonNullable<EmbeddedBrokerOptions['tls']>): Promise<void> {
    const pem = (key: 'cert' | 'key' | 'ca', file: string) => {
      try {
        return readFileSync(file);
      } catch (err) {
        const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
        throw new BridgeError('ERR_CONFIG_READ', `cannot read mqtt.tls.${key} ${file}: ${reason}`, {
          cause: err,
        });
      }
    };
    const { createServer: createTlsServer } = requireBuiltin('node:tls');
    let server: Server;
    try {
      server = createTlsServer(
        {
          cert: pem('cert', tls.cert),
          key: pem('key', tls.key),
          ...(tls.ca ? { ca: pem('ca', tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
        },
        (socket) => this.accept(aedes, socket, socket.remoteAddress),
      );
      server.maxConnections = this.limits.maxConnections;
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      throw new BridgeError('ERR_CONFIG_INVALID', `mqtt.tls: ${(err as Error).message}`, { cause: err });
    }
    server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'TLS handshake failed'));
    await this.listenExtra({ name: 'tls', server: this.track(server) }, tls.port, 'mqtt.tls.port');
  }

  private async listenWebSocket(aedes: Aedes, port: number): Promise<void> {
    const { createWebSocketStream, WebSocketServer } = await import('ws');
    const { createServer: createHttpServer } = requireBuiltin('node:http');
    const server = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
    });
    this.track(server);
    // ws buffers a whole message before handing it on (default up to 100 MiB): one MQTT packet per message here.
    const wss = new WebSocketServer({ server, maxPayload: this.limits.maxPacketSize });
    server.maxConnections = this.limits.maxConnections;
    wss.on('connection', (socket, request) => {
      const stream = createWebSocketStream(socket);
      stream.on('error', (err) => this.log.debug({ err: err.message }, 'WebSocket stream error'));
      this.accept(aedes, stream, request.socket.remoteAddress, request);
    });
    wss.on('error', (err) => this.log.error({ err }, 'WebSocket listener error'));
    const close = () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
    };
    await this.listenExtra({ name: 'websocket', server, close }, port, 'mqtt.websocket.port');
  }

  private async listenExtra(listener: ExtraListener, port: number, setting: string): Promise<void> {
    const { server, name } = listener;
    const host = this.options.host;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        const reason = err.code ?? err.message;
        reject(
          new BridgeError(
            'ERR_LISTEN',
            `cannot listen for MQTT ${name} on ${host}:${port} (${setting}): ${reason}`,
            { cause: err },
          ),
        );
      });
      server.listen(port, host, () => resolve());
    });
    server.on('error', (err) => this.log.error({ err, listener: name }, 'MQTT listener error'));
    this.extra.push(listener);
    this.log.info({ host, port: portOf(server), listener: name }, `MQTT over ${name} listening`);
  }

  /** Hands a connection to aedes behind the packet size check, which runs before any login. */
  private accept(aedes: Aedes, conn: Duplex, address: string | undefined, request?: IncomingMessage): void {
    guardPacketSize(conn, this.limits.maxPacketSize, this.packetRefused, address);
    aedes.handle(conn, request);
  }

  private warn(fields: Record<string, unknown>, message: string): void {
    this.warnLimiter.run((dropped) =>
      this.log.warn(
        dropped > 0 ? { ...fields, dropped } : fields,
        dropped > 0 ? `${message} (${dropped} similar lines dropped)` : message,
      ),
    );
  }

  /**
   * Why this client may not publish this message, refused and logged; undefined when it may. A non-retained
   * message that passes is remembered in the session, so the next one to the same topic skips these checks.
   */
  private publishProblem(
    client: Client,
    session: Session | undefined,
    topic: string,
    retain: boolean,
    bytes: number,
  ): string | undefined {
    if (hasNul(topic)) return 'U+0000 in a topic name [MQTT-1.5.3-2]';
    if (session === undefined || !this.options.access.canPublish(session.principal, topic)) {
      this.refuse(client, 'publish', topic);
      return `publish to ${topic} not allowed`;
    }
    const problem =
      this.reservedTopicProblem(topic, retain) ??
      (retain ? this.retained.problem(topic, session.owner, bytes) : undefined);
    if (problem !== undefined) {
      this.refuse(client, 'publish', topic, problem);
      return `publish to ${topic} not allowed: ${problem}`;
    }
    if (!retain) {
      session.cleared = topic;
      session.clearedTaps = undefined;
    }
    return undefined;
  }

  /** Acknowledges a message intake took (or had nothing to do with), then hands it to the in-process taps. */
  private accepted(
    message: BusMessage,
    owner: string,
    session: Session | undefined,
    callback: (error?: Error | null) => void,
  ): void {
    if (message.retain) this.retained.record(message.topic, owner, message.payload.length);
    callback(null);
    if (this.taps.size > 0) this.deliverToTaps(message, this.tapsOf(message.topic, session));
  }

  private refuse(client: Client, action: string, topic: string, reason = 'refused by ACL'): void {
    if (this.refusedLogged.has(client)) return;
    this.refusedLogged.add(client);
    this.warn(
      { client: client.id, action, topic, reason },
      `MQTT ${action} refused (further refusals not logged)`,
    );
  }

  /**
   * First step of a shutdown: no new connections on any listener, publishes refused (not acknowledged, so
   * devices send them again after the restart); resolves once the intake calls in flight have committed.
   * Connected clients stay connected, so they still hear the bridge's last status messages.
   */
  async stopIntake(): Promise<void> {
    this.closeListeners();
    await this.intakeGate.close();
  }

  /** Intake calls still in flight (for the shutdown log). */
  get pendingIntake(): number {
    return this.intakeGate.pending;
  }

  private closeListeners(): void {
    const servers = [this.server, ...this.extra.map((l) => l.server)];
    for (const server of servers) {
      // Only the first close() of a server gets its 'close' event; a later one would wait forever.
      if (!server?.listening) continue;
      this.listenersClosed.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
  }

  /**
   * Ends every connection and the broker. net.Server.close() only stops accepting and then waits for every
   * open socket to end, and aedes.close() is what ends the MQTT clients' sockets: awaiting the listener
   * before closing aedes hung for as long as one device stayed connected.
   */
  async stop(): Promise<void> {
    const aedes = this.aedes;
    const extra = this.extra;
    void this.intakeGate.close();
    this.closeListeners();
    this.server = undefined;
    this.aedes = undefined;
    this.extra = [];
    this.taps = new TapList();
    this.tapFilters = new FilterIndex();
    this.tapsGeneration++;
    for (const l of extra) l.close?.();
    // MQTT 3.1.1 has no server-sent DISCONNECT: closing the socket is how a broker ends a session.
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    // sockets aedes does not know: no CONNECT yet (aedes would wait connectTimeout, 30 s) or not upgraded
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    const closed = this.listenersClosed;
    this.listenersClosed = [];
    await Promise.all(closed);
    await this.options.persistence?.flush();
  }

  /** The taps of the message's topic: the session's remembered ones when it is the session's cleared topic. */
  private tapsOf(topic: string, session: Session | undefined): readonly Tap[] {
    // a message acknowledged after a commit may be older than the session's cleared topic: compared, not assumed
    const remembered = session !== undefined && session.cleared === topic;
    if (remembered && session.tapsGeneration === this.tapsGeneration && session.clearedTaps)
      return session.clearedTaps;
    const handlers = this.taps.match(topic);
    if (remembered) {
      session.clearedTaps = handlers;
      session.tapsGeneration = this.tapsGeneration;
    }
    return handlers;
  }

  private deliverToTaps(message: BusMessage, handlers: readonly Tap[]): void {
    for (const handler of handlers) {
      try {
        handler(message);
      } catch (err) {
        this.log.error({ err, topic: message.topic }, 'in-process subscriber failed');
      }
    }
  }

  /**
   * False when no subscription can match a topic of `filter`: no connected client's, no stored session's, no
   * tap's. Asked per event, so a subscriber that comes later hears every later event; O(1) until the
   * subscriptions change. True while the broker is stopped (a publish then fails as it did) and without our
   * persistence (aedes' own keeps stored sessions out of sight).
   */
  hasSubscribers(filter: string): boolean {
    const aedes = this.aedes;
    const stored = this.options.persistence?.storedFilters;
    if (!aedes || !stored) return true;
    return (
      aedes.subscriptions.overlaps(filter) || stored.overlaps(filter) || this.tapFilters.overlaps(filter)
    );
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const aedes = this.aedes;
    // a command must not be taken for published by a broker that is gone: the caller retries it later
    if (!aedes)
      return Promise.reject(new BridgeError('ERR_BROKER_CLOSED', `broker stopped; ${topic} not published`));
    const handlers = this.taps.size > 0 ? this.taps.match(topic) : NO_TAPS;
    if (handlers.length > 0) {
      const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
      this.deliverToTaps(
        { topic, payload: body, qos: options.qos ?? 0, retain: options.retain ?? false },
        handlers,
      );
    }
    if (options.retain) {
      const bytes = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
      this.retained.record(topic, BRIDGE_OWNER, bytes);
    }
    return new Promise((resolve, reject) => {
      aedes.publish(
        {
          cmd: 'publish',
          topic,
          // A string goes to aedes as it is: mqtt-packet encodes it for each client it is sent to, and the
          // persistence when it stores it. Most of the bridge's events reach nobody (the retained alert topic:
          // one per alert), and a Buffer made per event was ~2 of its ~14 us (issue 14, session 10).
          payload,
          qos: options.qos ?? 0,
          retain: options.retain ?? false,
          dup: false,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Messages published by clients (once intake accepted them) and by `publish`; retained ones are not replayed. */
  subscribe(filter: string, handler: (message: BusMessage) => void): Promise<void> {
    if (!this.aedes) return Promise.reject(new BridgeError('ERR_LISTEN', 'broker not started'));
    this.taps.add(filter, handler);
    this.tapFilters.add(filter, handler);
    this.tapsGeneration++;
    return Promise.resolve();
  }
}
