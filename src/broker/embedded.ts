import { createServer, type Server } from 'node:net';
import { Aedes, type AedesPublishPacket, type Client } from 'aedes';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Access, Bus, BusMessage, IntakeHandler, Principal, PublishOptions } from './bus.js';

export interface EmbeddedBrokerOptions {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  access: Access;
  intake: IntakeHandler;
  logger: Logger;
}

const principals = new WeakMap<Client, Principal>();
const emptyIdWithSession = new WeakSet<Client>();

function authError(message: string, returnCode: number): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

/** aedes 1.x on TCP. Intake runs in `authorizePublish`, the only hook aedes runs before a QoS 1 PUBACK. */
export class EmbeddedBroker implements Bus {
  private aedes: Aedes | undefined;
  private server: Server | undefined;
  private readonly log: Logger;
  /** clients already told off for a refused topic: logged once per client, not per packet */
  private readonly refusedLogged = new WeakSet<Client>();

  constructor(private readonly options: EmbeddedBrokerOptions) {
    this.log = options.logger.child({ module: 'broker' });
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : 0;
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const { access, intake } = this.options;
    const log = this.log;
    const aedes = await Aedes.createBroker({
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
          () => callback(null),
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
    const server = createServer(aedes.handle);
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
  }

  private refuse(client: Client, action: string, topic: string): void {
    if (this.refusedLogged.has(client)) return;
    this.refusedLogged.add(client);
    this.log.warn(
      { client: client.id, action, topic },
      `MQTT ${action} refused by ACL (further refusals not logged)`,
    );
  }

  async stop(): Promise<void> {
    const server = this.server;
    const aedes = this.aedes;
    this.server = undefined;
    this.aedes = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.resolve();
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

  subscribe(filter: string, handler: (message: BusMessage) => void): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new BridgeError('ERR_LISTEN', 'broker not started'));
    return new Promise((resolve) => {
      aedes.subscribe(
        filter,
        (packet: AedesPublishPacket, done: () => void) => {
          handler({
            topic: packet.topic,
            payload: Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload),
            qos: packet.qos,
            retain: packet.retain,
          });
          done();
        },
        () => resolve(),
      );
    });
  }
}
