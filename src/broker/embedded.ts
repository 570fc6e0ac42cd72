import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type Client } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { TopicTrie } from '../rules/topic-trie.js';
import { WorkGate } from '../work-gate.js';
import type { Access, Bus, BusMessage, IntakeHandler, Principal, PublishOptions } from './bus.js';
import type { BrokerPersistence } from './persistence.js';

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
}

/** A listener besides the TCP one; `close` stops it and ends its connections. */
interface ExtraListener {
  name: 'tls' | 'websocket';
  server: Server;
  close?: () => void;
}

const principals = new WeakMap<Client, Principal>();
const emptyIdWithSession = new WeakSet<Client>();

function portOf(server: Server | undefined): number {
  const address = server?.address();
  return typeof address === 'object' && address ? address.port : 0;
}

function authError(message: string, returnCode: number): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

/** aedes 1.x on TCP. Intake runs in `authorizePublish`, the only hook aedes runs before a QoS 1 PUBACK. */
export class EmbeddedBroker implements Bus {
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private extra: ExtraListener[] = [];
  private readonly log: Logger;
  /** clients already told off for a refused topic: logged once per client, not per packet */
  private readonly refusedLogged = new WeakSet<Client>();
  /**
   * The bridge's own subscribers are called here rather than subscribed in aedes: an in-process aedes
   * subscriber on a busy filter (`devices/+/telemetry`) cost ~30% of the broker's throughput in bench/.
   */
  private taps = new TopicTrie<(message: BusMessage) => void>();
  /** intake calls in flight; closed by `stopIntake()` */
  private readonly intakeGate = new WorkGate();
  /** every socket accepted on any listener: one that never sent CONNECT is no aedes client to close */
  private readonly sockets = new Set<Socket>();
  /** resolve when each listener has stopped and its last connection ended */
  private listenersClosed: Promise<void>[] = [];
  private readonly options: EmbeddedBrokerOptions;

  constructor(options: EmbeddedBrokerOptions) {
    this.log = options.logger.child({ module: 'broker' });
    const intake = options.intake;
    // Intake goes through the gate so that shutdown can refuse new publishes and wait for the ones in flight.
    this.options = {
      ...options,
      intake: (message, clientId) =>
        this.intakeGate.run(() => intake(message, clientId)) ??
        Promise.reject(
          new BridgeError(
            'ERR_SHUTTING_DOWN',
            'the bridge is shutting down; publish again after it restarts',
          ),
        ),
    };
  }

  /** Counts a listener's sockets so that `stop()` can end them all. */
  private track(server: Server): Server {
    server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    return server;
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
    const aedes = await Aedes.createBroker({
      persistence: this.options.persistence,
      preConnect: (client, packet, callback) => {
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
        access.authenticate(client.id, username, password).then(
          (principal) => {
            if (!principal) {
              log.warn({ client: client.id, username }, 'MQTT login refused: bad user name or password');
              done(authError('bad user name or password', 4), null);
              return;
            }
            principals.set(client, principal);
            done(null, true);
          },
          (err: unknown) => {
            log.error({ err, client: client.id }, 'MQTT authentication failed');
            done(authError('server unavailable', 3), null);
          },
        );
      },
      authorizePublish: (client, packet, callback) => {
        if (client) {
          const principal = principals.get(client);
          if (!principal || !access.canPublish(principal, packet.topic)) {
            this.refuse(client, 'publish', packet.topic);
            callback(new Error(`publish to ${packet.topic} not allowed`));
            return;
          }
        }
        const message: BusMessage = {
          topic: packet.topic,
          payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
          qos: packet.qos,
          retain: packet.retain,
        };
        intake(message, client?.id ?? null).then(
          () => {
            callback(null);
            this.deliverToTaps(message);
          },
          (err: unknown) => {
            // No PUBACK: the device keeps the message and sends it again after reconnecting.
            log.error(
              { err, client: client?.id, topic: packet.topic },
              'intake failed; message not acknowledged',
            );
            callback(err instanceof Error ? err : new Error(String(err)));
          },
        );
      },
      authorizeSubscribe: (client, subscription, callback) => {
        const principal = principals.get(client);
        if (!principal || !access.canSubscribe(principal, subscription.topic)) {
          this.refuse(client, 'subscribe', subscription.topic);
          // [MQTT-3.9.3] a refused subscription gets return code 0x80 in SUBACK (aedes sends it for a null sub)
          callback(null, null);
          return;
        }
        callback(null, subscription);
      },
    });
    aedes.on('clientError', (client, err) =>
      log.debug({ client: client.id, err: err.message }, 'client error'),
    );
    aedes.on('connectionError', (client, err) =>
      log.debug({ client: client?.id, err: err.message }, 'connection error'),
    );
    this.aedes = aedes;
    const server = this.track(createServer(aedes.handle));
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
    let server: Server;
    try {
      server = createTlsServer(
        {
          cert: pem('cert', tls.cert),
          key: pem('key', tls.key),
          ...(tls.ca ? { ca: pem('ca', tls.ca), requestCert: true, rejectUnauthorized: true } : {}),
        },
        aedes.handle,
      );
    } catch (err) {
      if (err instanceof BridgeError) throw err;
      throw new BridgeError('ERR_CONFIG_INVALID', `mqtt.tls: ${(err as Error).message}`, { cause: err });
    }
    server.on('tlsClientError', (err) => this.log.debug({ err: err.message }, 'TLS handshake failed'));
    await this.listenExtra({ name: 'tls', server: this.track(server) }, tls.port, 'mqtt.tls.port');
  }

  private async listenWebSocket(aedes: Aedes, port: number): Promise<void> {
    const server = createHttpServer((_req, res) => {
      res.writeHead(426, { 'content-type': 'text/plain' }).end('MQTT over WebSocket only\n');
    });
    this.track(server);
    const wss = new WebSocketServer({ server });
    wss.on('connection', (socket, request) => {
      const stream = createWebSocketStream(socket);
      stream.on('error', (err) => this.log.debug({ err: err.message }, 'WebSocket stream error'));
      aedes.handle(stream, request);
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

  private refuse(client: Client, action: string, topic: string): void {
    if (this.refusedLogged.has(client)) return;
    this.refusedLogged.add(client);
    this.log.warn(
      { client: client.id, action, topic },
      `MQTT ${action} refused by ACL (further refusals not logged)`,
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
    this.taps = new TopicTrie();
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

  private deliverToTaps(message: BusMessage): void {
    for (const handler of this.taps.match(message.topic)) {
      try {
        handler(message);
      } catch (err) {
        this.log.error({ err, topic: message.topic }, 'in-process subscriber failed');
      }
    }
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const aedes = this.aedes;
    // a command must not be taken for published by a broker that is gone: the caller retries it later
    if (!aedes)
      return Promise.reject(new BridgeError('ERR_BROKER_CLOSED', `broker stopped; ${topic} not published`));
    if (this.taps.size > 0) {
      const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
      this.deliverToTaps({ topic, payload: body, qos: options.qos ?? 0, retain: options.retain ?? false });
    }
    return new Promise((resolve, reject) => {
      aedes.publish(
        {
          cmd: 'publish',
          topic,
          payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
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
    return Promise.resolve();
  }
}
