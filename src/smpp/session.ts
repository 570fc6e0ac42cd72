import { EventEmitter } from 'node:events';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { InboundPdu } from './raw-pdu.js';
import { BindSession } from './session-connection.js';
import type {
  BindRole,
  BindSettings,
  DeliverResponder,
  SubmitParams,
  SubmitResult,
} from './session-types.js';

export type { InboundPdu } from './raw-pdu.js';
export { backoffDelay } from './session-helpers.js';
export type { BindRole, DeliverResponder, SubmitParams, SubmitResult } from './session-types.js';

export interface SmppClientOptions {
  /** Names the connection in logs, errors and InboundPdu.connectionId. */
  id: string;
  /** `smpp://host:port` (default port 2775) or `ssmpp://host:port` for TLS (default port 3550). */
  url: string;
  systemId: string;
  password: string;
  /** Default `''`. */
  systemType?: string;
  /** SMPP 3.4 §5.2.4. Default `0x34`. */
  interfaceVersion?: number;
  /** One transceiver bind, or a transmitter and a receiver on two sessions. Default `transceiver`. */
  bindMode?: 'transceiver' | 'transmitter_receiver';
  /** Default 0. */
  addrTon?: number;
  /** Default 0. */
  addrNpi?: number;
  /** Default `''`. */
  addressRange?: string;
  /** Default 30000. */
  enquireLinkIntervalMs?: number;
  /** Deadline for every response (bind, submit_sm, enquire_link, unbind) and for the TCP/TLS connect. Default 10000. */
  responseTimeoutMs?: number;
  /** First reconnect delay; doubles per failed attempt, with jitter. Default 1000. */
  reconnectInitialMs?: number;
  /** Default 60000. */
  reconnectMaxMs?: number;
  /** TLS options for `ssmpp://`. */
  tls?: { ca?: string | Buffer | Array<string | Buffer>; rejectUnauthorized?: boolean };
}

export interface BoundInfo {
  link: BindRole;
  /** system_id the SMSC answered with */
  smscSystemId: string;
}

export type SmppClientEvents = {
  bound: [info: BoundInfo];
  unbound: [reason: string, link: BindRole];
  deliver: [pdu: InboundPdu, respond: DeliverResponder];
  /** Only for the unexpected (a throwing listener, a bug); SMSC trouble is logged and retried instead. */
  error: [err: Error];
};

function parseUrl(id: string, url: string): { host: string; port: number; tls: boolean } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (cause) {
    throw new BridgeError('ERR_CONFIG_INVALID', `connection ${id}: "${url}" is not a URL`, { cause });
  }
  const tls = parsed.protocol === 'ssmpp:';
  if (!tls && parsed.protocol !== 'smpp:') {
    throw new BridgeError('ERR_CONFIG_INVALID', `connection ${id}: url must start with smpp:// or ssmpp://`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  return { host, port: parsed.port ? Number(parsed.port) : tls ? 3550 : 2775, tls };
}

/**
 * The ESME side of ONE SMSC connection (the `smpp` package does none of this itself): bind, keep the bind up,
 * submit with a response timeout, hand inbound deliver_sm/data_sm to the consumer unanswered.
 */
export class SmppClient extends EventEmitter<SmppClientEvents> {
  private transmitter: BindSession | undefined;
  private receiver: BindSession | undefined;
  private readonly log: Logger;

  constructor(
    private readonly options: SmppClientOptions,
    logger: Logger,
  ) {
    super();
    this.log = logger.child({ module: 'smpp', connection: options.id });
  }

  get id(): string {
    return this.options.id;
  }

  /** True when submit_sm can be sent (the transmitter side in transmitter_receiver mode). */
  get bound(): boolean {
    return this.transmitter?.bound ?? false;
  }

  /** Why the last bind attempt failed or the last session ended; undefined while all is well. */
  get lastError(): string | undefined {
    return this.transmitter?.lastError ?? this.receiver?.lastError;
  }

  /** Connects and keeps the connection up. Throws ERR_CONFIG_INVALID for a bad url. */
  start(): void {
    if (this.transmitter) return;
    const o = this.options;
    const { host, port, tls } = parseUrl(o.id, o.url);
    const settings: BindSettings = {
      id: o.id,
      host,
      port,
      tls: tls ? { ...o.tls } : undefined,
      systemId: o.systemId,
      password: o.password,
      systemType: o.systemType ?? '',
      interfaceVersion: o.interfaceVersion ?? 0x34,
      addrTon: o.addrTon ?? 0,
      addrNpi: o.addrNpi ?? 0,
      addressRange: o.addressRange ?? '',
      enquireLinkIntervalMs: o.enquireLinkIntervalMs ?? 30_000,
      responseTimeoutMs: o.responseTimeoutMs ?? 10_000,
      reconnectInitialMs: o.reconnectInitialMs ?? 1000,
      reconnectMaxMs: o.reconnectMaxMs ?? 60_000,
    };
    const roles: BindRole[] =
      o.bindMode === 'transmitter_receiver' ? ['transmitter', 'receiver'] : ['transceiver'];
    const sessions = roles.map((role) => this.createBind(role, settings));
    this.transmitter = sessions[0];
    this.receiver = sessions[1] ?? sessions[0];
    this.log.info({ url: o.url, roles, system_id: o.systemId }, `connection ${o.id}: starting`);
    for (const s of sessions) s.start();
  }

  /** Stops reconnecting, waits (bounded) for in-flight requests, unbinds, closes. */
  async stop(): Promise<void> {
    const sessions = new Set([this.transmitter, this.receiver]);
    this.transmitter = undefined;
    this.receiver = undefined;
    await Promise.all([...sessions].map((s) => s?.stop()));
  }

  /**
   * Resolves with the SMSC's answer, whatever its command_status; rejects with ERR_SMPP_NOT_BOUND,
   * ERR_SMPP_TIMEOUT, ERR_SMPP_CLOSED (the caller may retry all three) or ERR_SMS_TOO_LONG.
   */
  submit(params: SubmitParams): Promise<SubmitResult> {
    if (!this.transmitter) {
      return Promise.reject(
        new BridgeError('ERR_SMPP_NOT_BOUND', `connection ${this.options.id} is not started`),
      );
    }
    return this.transmitter.submit(params);
  }

  private createBind(role: BindRole, settings: BindSettings): BindSession {
    const log = role === 'transceiver' ? this.log : this.log.child({ link: role });
    const bind = new BindSession(role, settings, log, (err) => this.unexpected(err));
    bind.on('bound', (smscSystemId) => this.emit('bound', { link: role, smscSystemId }));
    bind.on('unbound', (reason) => this.emit('unbound', reason, role));
    bind.on('deliver', (pdu, respond) => this.emit('deliver', pdu, respond));
    return bind;
  }

  private unexpected(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') > 0) this.emit('error', error);
    else this.log.error({ err: error }, `connection ${this.options.id}: unexpected error`);
  }
}
