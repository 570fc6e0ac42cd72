import { isSupportedCountry } from 'libphonenumber-js';
import { z } from 'zod';
import { clusterSchema } from '../cluster/schema.js';
import { durationSchema } from './duration.js';

/**
 * The bridge configuration (`config/bridge.yaml`). One source of truth: this schema gives the defaults, the
 * validation and the type. Durations are written `500ms`, `30s`, `5m`, `1h`, `1h30m` (or a number of
 * milliseconds) and come out in milliseconds. Relative paths and globs are resolved against the current
 * working directory of the process (run it from the project root, as `npm start` does).
 */

const port = z.number().int().min(0).max(65_535);
const host = z.string().min(1);

const logSchema = z
  .object({
    /** pino level: fatal | error | warn | info | debug | trace | silent. Default `info`. */
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Log full phone numbers instead of `+44770090****`. Default `false`. */
    show_phone_numbers: z.boolean().default(false),
  })
  .strict();

const mqttTlsSchema = z
  .object({
    /** Port of the MQTT-over-TLS listener; `0` picks a free port. Default `8883` (IANA's port for MQTT over TLS). */
    port: port.default(8883),
    /** PEM file with the server certificate (and its chain). Required. */
    cert: z.string().min(1),
    /** PEM file with the private key of `cert`. Required. */
    key: z.string().min(1),
    /** PEM file of CA certificates; when set, clients must present a certificate it signed. Default: none. */
    ca: z.string().min(1).optional(),
  })
  .strict();

const mqttWebSocketSchema = z
  .object({
    /** Port of the MQTT-over-WebSocket listener; `0` picks a free port. Default `8083`. */
    port: port.default(8083),
  })
  .strict();

/**
 * An ACL list: MQTT filters (`+`, `#`); an entry `!filter` denies what it matches even where another entry allows
 * it (a subscription wholly inside a denied filter is refused; messages on denied topics are not delivered).
 */
const aclList = z.array(z.string().min(1));

/** Client ids: what a CONNECT may carry (MQTT 3.1.1 allows any UTF-8; we keep them printable). */
const clientIdList = z.array(
  z.string().regex(/^[\x21-\x7e]{1,128}$/, 'expected 1-128 printable ASCII characters'),
);

const mqttAccountSchema = z
  .object({
    /** MQTT user name of an integrator or app; must not be a device id. Required. */
    username: z.string().min(1),
    /** `scrypt:...` from `mqtt-sms-bridge hash-password`; never a plain password. Required. */
    password_hash: z.string().min(1),
    /** Topic filters (`+`, `#`) this account may publish to; `!filter` denies. Default: none. */
    publish: aclList.default([]),
    /** Topic filters this account may subscribe to; `!filter` denies. Default: none. */
    subscribe: aclList.default([]),
    /** Client ids only this account may use (besides those it claims first). Default: none. */
    client_ids: clientIdList.default([]),
  })
  .strict();

const mqttAnonymousSchema = z
  .object({
    /** Topic filters anonymous clients may publish to; `!filter` denies. Default `["#"]`. */
    publish: aclList.default(['#']),
    /** Topic filters anonymous clients may subscribe to; `!filter` denies. Default `["#"]`. */
    subscribe: aclList.default(['#']),
  })
  .strict();

const mqttRetainedSchema = z
  .object({
    /** Most retained messages one account (device, app account, or all anonymous clients) may hold. Default `100`. */
    max_per_client: z.number().int().min(1).default(100),
    /** Most retained messages in the broker. Default `10000`. */
    max_total: z.number().int().min(1).default(10_000),
    /** Most bytes of retained payload in the broker. Default `67108864` (64 MiB). */
    max_bytes: z
      .number()
      .int()
      .min(1)
      .default(64 * 1024 * 1024),
  })
  .strict();

const mqttLoginSchema = z
  .object({
    /** Password checks (scrypt, ~16 MiB each) running at once. Default `2`. */
    max_concurrent: z.number().int().min(1).max(64).default(2),
    /** Logins waiting for a check; beyond, CONNACK 0x03 (server unavailable). Default `16`. */
    max_queued: z.number().int().min(0).max(10_000).default(16),
    /** Failed logins per source address and per user name before back-off starts. Default `5`. */
    free_failures: z.number().int().min(1).default(5),
    /** Back-off after each further failure, doubling from `initial` up to `max`; refused with 0x03 meanwhile. Default `{ initial: 1s, max: 60s }`. */
    backoff: z
      .object({
        /** Default `1s`. */
        initial: durationSchema.prefault('1s'),
        /** Default `60s`. */
        max: durationSchema.prefault('60s'),
      })
      .strict()
      .prefault({}),
    /** Addresses and user names remembered for back-off (oldest forgotten first). Default `10000`. */
    tracked: z.number().int().min(1).default(10_000),
  })
  .strict();

/** A share group name: one topic level, no wildcards (MQTT 5 §4.8.2). */
const shareGroup = z
  .string()
  .regex(/^[\x21-\x7e]{1,64}$/, 'expected 1-64 printable ASCII characters without / + #')
  .refine((g) => !/[/+#]/.test(g), 'expected 1-64 printable ASCII characters without / + #');

const mqttSchema = z
  .object({
    /** `embedded`: the bridge runs its own broker (aedes); `external`: it joins a broker at `mqtt.url` as a client. Default `embedded`. */
    mode: z.enum(['embedded', 'external']).default('embedded'),
    /** External mode: the broker, `mqtt://`, `mqtts://`, `ws://` or `wss://`. Required in external mode. */
    url: z
      .string()
      .regex(/^(mqtts?|wss?):\/\/[^/]/, 'expected mqtt://, mqtts://, ws:// or wss:// and a host')
      .optional(),
    /** External mode: user name at the broker. Default: none. */
    username: z.string().min(1).optional(),
    /** External mode: password at the broker. Default: none. */
    password: z.string().min(1).optional(),
    /** External mode: client id of this instance's persistent session; unique per instance. Default `<base_topic>-<hostname>`. */
    client_id: z
      .string()
      .regex(/^[\x21-\x7e]{1,128}$/, 'expected 1-128 printable ASCII characters')
      .optional(),
    /** External mode: instances with the same group split the device messages (`$share/<group>/...`); `false`: plain subscriptions, one instance only (brokers without shared subscriptions). Default `sms-bridge`. */
    share_group: z.union([shareGroup, z.literal(false)]).default('sms-bridge'),
    /** External mode: `5`, or `4` (3.1.1); 5 falls back to 3.1.1 when the broker refuses it. Default `5`. */
    protocol_version: z.union([z.literal(5), z.literal(4)]).default(5),
    /** External mode: how long the broker keeps this instance's session and queues its messages while it is away. Default `1d`. */
    session_expiry: durationSchema.prefault('1d'),
    /** External mode, `mqtts://`/`wss://`: PEM file of CA certificates to trust. Default: the system's. */
    ca: z.string().min(1).optional(),
    /** External mode, `mqtts://`/`wss://`: PEM client certificate (with `key`). Default: none. */
    cert: z.string().min(1).optional(),
    /** External mode, `mqtts://`/`wss://`: PEM private key of `cert`. Default: none. */
    key: z.string().min(1).optional(),
    /** External mode, `mqtts://`/`wss://`: refuse a broker whose certificate does not verify. Default `true`. */
    reject_unauthorized: z.boolean().optional(),
    /** Address the embedded broker listens on. Default `0.0.0.0`. */
    host: host.default('0.0.0.0'),
    /** TCP port of the embedded broker; `0` picks a free port (tests). Default `1883`. */
    port: port.default(1883),
    /** Let clients connect without credentials. Default `false`; the demo config turns it on. */
    allow_anonymous: z.boolean().default(false),
    /** MQTT over TLS on `mqtt.host`, certificates from PEM files. Default: off. */
    tls: mqttTlsSchema.optional(),
    /** MQTT over WebSocket (`ws://host:port`, any path) on `mqtt.host`. Default: off. */
    websocket: mqttWebSocketSchema.optional(),
    /** Integrator and app accounts with their own topic ACL. Default: none. */
    accounts: z.array(mqttAccountSchema).default([]),
    /** ACL of clients without a user name, when `allow_anonymous`. Default: everything (`#`). */
    anonymous: mqttAnonymousSchema.prefault({}),
    /** Largest MQTT packet a client may send, fixed header included; larger ones close the connection, before login too. Default `262144` (256 KiB). */
    max_packet_size: z
      .number()
      .int()
      .min(1024)
      .max(268_435_460)
      .default(256 * 1024),
    /** Most open MQTT connections per listener. Default `10000`. */
    max_connections: z.number().int().min(1).default(10_000),
    /** Most persistent sessions (`clean: false` client ids) one account may keep. Default `100`. */
    max_sessions_per_account: z.number().int().min(1).default(100),
    /** Limits on retained messages. Default `{ max_per_client: 100, max_total: 10000, max_bytes: 64 MiB }`. */
    retained: mqttRetainedSchema.prefault({}),
    /** Login throttling. Default `{ max_concurrent: 2, max_queued: 16, free_failures: 5, backoff: { initial: 1s, max: 60s }, tracked: 10000 }`. */
    login: mqttLoginSchema.prefault({}),
  })
  .strict()
  .superRefine(externalBrokerIssues);

/** Combinations of `mqtt` keys that cannot work, each said with the key to fix. */
function externalBrokerIssues(
  m: {
    mode: string;
    url?: string | undefined;
    ca?: string | undefined;
    cert?: string | undefined;
    key?: string | undefined;
    reject_unauthorized?: boolean | undefined;
    tls?: unknown;
    websocket?: unknown;
    accounts: unknown[];
  },
  ctx: z.RefinementCtx,
): void {
  const issue = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  const clientTls = (['ca', 'cert', 'key', 'reject_unauthorized'] as const).filter((k) => m[k] !== undefined);
  if (m.mode === 'embedded') {
    if (m.url !== undefined)
      issue(
        'url',
        'mqtt.url is for mqtt.mode: external (the embedded broker listens on mqtt.host/mqtt.port)',
      );
    for (const k of clientTls)
      issue(k, `mqtt.${k} is for mqtt.mode: external; the embedded broker's TLS listener is mqtt.tls`);
    return;
  }
  if (m.url === undefined) issue('url', 'mqtt.mode: external needs mqtt.url (e.g. mqtt://broker:1883)');
  if (m.tls !== undefined)
    issue(
      'tls',
      "mqtt.tls is the embedded broker's listener; with an external broker use mqtts:// and mqtt.ca/cert/key",
    );
  if (m.websocket !== undefined)
    issue('websocket', "mqtt.websocket is the embedded broker's listener; not used in external mode");
  if (m.accounts.length > 0)
    issue('accounts', 'in external mode the broker authenticates clients; mqtt.accounts is not used');
  const secure = m.url !== undefined && /^(mqtts|wss):/.test(m.url);
  if (!secure) for (const k of clientTls) issue(k, `mqtt.${k} needs a TLS url (mqtts:// or wss://)`);
  if ((m.cert === undefined) !== (m.key === undefined))
    issue(m.cert === undefined ? 'cert' : 'key', 'mqtt.cert and mqtt.key go together');
}

const simulatorObject = z
  .object({
    /** Run the built-in SMSC simulator in the same process. Default `false`. */
    enabled: z.boolean().default(false),
    /** Address the simulator listens on. Default `127.0.0.1`. */
    host: host.default('127.0.0.1'),
    /** Port the simulator listens on. Default `2775`. */
    port: port.default(2775),
    /** Send a delivery receipt for every accepted SMS. Default `true`. */
    receipts: z.boolean().default(true),
  })
  .strict();

/** `simulator: true` is short for `simulator: { enabled: true }`. */
const simulatorSchema = z.preprocess(
  (value) => (typeof value === 'boolean' ? { enabled: value } : value),
  simulatorObject,
);

const SMPP_URL = /^s?smpp:$/;

const connectionSchema = z
  .object({
    /** Name of the connection, unique; used in logs and metrics. Required. */
    id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected letters, digits, _ . or -'),
    /** `smpp://host:port`, or `ssmpp://host:port` for TLS. Required. */
    url: z.string().refine(isSmppUrl, 'expected smpp://host:port or ssmpp://host:port'),
    /** ESME system_id for the bind (SMPP 3.4 §5.2.1: at most 15 characters). Required. */
    system_id: z.string().min(1).max(15),
    /** Bind password; use `${SMPP_PASSWORD}` to keep it out of the file. Default: none. */
    password: z.string().optional(),
    /** ESME system_type (SMPP 3.4 §5.2.3: at most 12 characters). Default `""`. */
    system_type: z.string().max(12).default(''),
    /** Sender shown on the phone: alphanumeric (at most 11 characters) or a number. Default `BRIDGE`. */
    source_addr: z
      .string()
      .min(1)
      .refine(isSourceAddr, 'expected up to 11 letters/digits, or a number of up to 20 digits')
      .default('BRIDGE'),
    /** Type of number of `source_addr`. Default `5` (alphanumeric) when source_addr has letters, else `1`. */
    source_addr_ton: z.number().int().min(0).max(255).optional(),
    /** Numbering plan of `source_addr`. Default `0` when source_addr has letters, else `1` (E.164). */
    source_addr_npi: z.number().int().min(0).max(255).optional(),
    /** SMPP interface version sent in the bind: 0x33, 0x34 or 0x50. Default `0x34`. */
    interface_version: z
      .literal([0x33, 0x34, 0x50], {
        error: (issue) => `expected one of 0x33|0x34|0x50, got ${formatVersion(issue.input)}`,
      })
      .default(0x34),
    /** SMPP 3.4 §4.1 bind addr_ton: the type of number of the MO addresses this bind serves. Default `0`. */
    addr_ton: z.number().int().min(0).max(255).default(0),
    /** SMPP 3.4 §4.1 bind addr_npi. Default `0`. */
    addr_npi: z.number().int().min(0).max(255).default(0),
    /** SMPP 3.4 §4.1 bind address_range: which MO addresses this bind receives (SMSC-specific). Default `""`. */
    address_range: z.string().max(40).default(''),
    /** `transceiver` (one session) or `transmitter_receiver` (two sessions). Default `transceiver`. */
    bind_mode: z.enum(['transceiver', 'transmitter_receiver']).default('transceiver'),
    /** How often to send enquire_link when idle. Default `30s`. */
    enquire_link_interval: durationSchema.prefault('30s'),
    /** How long to wait for any response PDU before the session is dropped. Default `10s`. */
    response_timeout: durationSchema.prefault('10s'),
    /** Reconnect backoff, doubling from `initial` up to `max`. Default `{ initial: 1s, max: 60s }`. */
    reconnect: z
      .object({
        /** First delay. Default `1s`. */
        initial: durationSchema.prefault('1s'),
        /** Longest delay. Default `60s`. */
        max: durationSchema.prefault('60s'),
      })
      .strict()
      .refine((r) => r.initial <= r.max, { message: 'reconnect.initial must not exceed reconnect.max' })
      .prefault({}),
    /** Most submit_sm awaiting their response at once. Default `10`. */
    window: z.number().int().min(1).default(10),
    /** Most message parts submitted per second (token bucket). Default `50`. */
    tps: z.number().positive().default(50),
    /** Ask the SMSC for delivery receipts. Default `true`. */
    registered_delivery: z.boolean().default(true),
    /** Failover order: the lowest number is tried first. Default `0`. */
    priority: z.number().int().default(0),
    /** Destination prefixes this connection serves, e.g. `["+44"]`; empty means all. Default `[]`. */
    routes: z.array(z.string().regex(/^\+?\d+$/, 'expected a number prefix like +44')).default([]),
    /**
     * How text longer than one SMS goes out: `udh8` (UDH concatenation, 8-bit reference, 153 septets a part),
     * `udh16` (16-bit reference, 152), or `message_payload` (whole text in one submit_sm's TLV; the SMSC
     * splits it). Default `udh8`.
     */
    long_text: z.enum(['udh8', 'udh16', 'message_payload']).default('udh8'),
    /**
     * How this SMSC writes one message's id in submit_sm_resp and in its receipts; a receipt's id is always
     * matched exactly first. `exact` (no other reading), `hex_to_decimal` (hex in submit_sm_resp, decimal in
     * receipts), `decimal_to_hex` (the reverse), or `auto` (case, leading zeros, and hex <-> decimal where the
     * hex has a letter a-f; applied only when exactly one SMS could own the receipt). Default `auto`.
     */
    message_id_format: z.enum(['exact', 'hex_to_decimal', 'decimal_to_hex', 'auto']).default('auto'),
    /** For `ssmpp://`: trust this CA (PEM file) and whether to check the SMSC's certificate. Default: system CAs, checked. */
    tls: z
      .object({
        /** PEM file of the CA that signed the SMSC's certificate. Default: the system's CAs. */
        ca: z.string().min(1).optional(),
        /** Refuse an SMSC whose certificate does not verify. Default `true`. */
        reject_unauthorized: z.boolean().default(true),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // SMPP 3.3 §5 knows bind_transmitter and bind_receiver only.
    if (c.interface_version === 0x33 && c.bind_mode === 'transceiver') {
      ctx.addIssue({
        code: 'custom',
        path: ['bind_mode'],
        message:
          'SMPP 3.3 (interface_version 0x33) has no bind_transceiver: use bind_mode: transmitter_receiver',
      });
    }
  })
  .transform((c) => {
    const alphanumeric = !/^\+?\d+$/.test(c.source_addr);
    return {
      ...c,
      source_addr_ton: c.source_addr_ton ?? (alphanumeric ? 5 : 1),
      source_addr_npi: c.source_addr_npi ?? (alphanumeric ? 0 : 1),
    };
  });

const smppSchema = z
  .object({
    /** SMSC connections, at least one. Required. */
    connections: z
      .array(connectionSchema)
      .min(1)
      .superRefine(uniqueIds, { when: () => true }),
    /** Most parts one SMS may be split into. Default `4`. */
    max_parts: z.number().int().min(1).max(255).default(4),
    /** An SMS older than this is failed rather than sent late. Default `1h`. */
    max_age: durationSchema.prefault('1h'),
  })
  .strict();

const storeSchema = z
  .object({
    /** SQLite file, relative to the working directory. Default `data/bridge.db`. */
    path: z.string().min(1).default('data/bridge.db'),
    /** SQLite `synchronous` pragma: `full` survives power loss, `normal` only process crashes. Default `full`. */
    synchronous: z.enum(['full', 'normal']).default('full'),
    /**
     * PostgreSQL instead of SQLite: `postgres://user:password@host:port/database`; `path` and `synchronous` are
     * then ignored. Write `${PG_URL}` or set `SMS_BRIDGE_CONFIG_STORE_URL` to keep the password out of the file.
     */
    url: z.preprocess(
      (v) => (v === '' ? undefined : v),
      z
        .string()
        .regex(/^postgres(ql)?:\/\/./, 'must be a postgres:// or postgresql:// URL')
        .optional(),
    ),
    /** PostgreSQL connections each instance keeps at most (1..100). Default `10`. */
    pool_size: z.number().int().min(1).max(100).optional(),
    /**
     * How long finished SMS, resolved alerts, the inbound audit and published commands are kept: older ones are
     * removed every 10 minutes, in small batches. `0` keeps them for ever. At least `1d`. Default `90d`.
     */
    retention: durationSchema
      .refine((ms) => ms === 0 || ms >= 86_400_000, 'must be at least 1d, or 0 to keep everything')
      .prefault('90d'),
  })
  .strict();

const httpSchema = z
  .object({
    /** Serve health, metrics and the status page. Default `false`. */
    enabled: z.boolean().default(false),
    /** Default `0.0.0.0`. */
    host: host.default('0.0.0.0'),
    /** Default `8080`; `0` picks a free port. */
    port: port.default(8080),
    /**
     * Bearer token for the admin API and the status page's data; write `${HTTP_TOKEN}` to keep it out of the
     * file. Default: none, and then those are refused (health, readiness and metrics stay open).
     */
    token: z.preprocess((v) => (v === '' ? undefined : v), z.string().min(1).optional()),
  })
  .strict();

const pinLockoutSchema = z
  .object({
    /** Wrong PINs from one number within `window` that lock it (every PIN refused until the window passes). Default `5`. */
    attempts: z.number().int().min(1).max(100).default(5),
    /** Default `15m`. */
    window: durationSchema.prefault('15m'),
  })
  .strict();

const repliesSchema = z
  .object({
    /** Reply SMS (answers, refusals, relayed command results) to one number per `window`. Default `10`. */
    per_number: z.number().int().min(1).default(10),
    /** Reply SMS to all numbers together per `window`. Default `200`. */
    total: z.number().int().min(1).default(200),
    /** Default `1h`. */
    window: durationSchema.prefault('1h'),
  })
  .strict();

const moPartsSchema = z
  .object({
    /** Largest part count of a concatenated MO accepted; bigger ones are dropped. Default `10`. */
    max_total: z.number().int().min(2).max(255).default(10),
    /** Incomplete concatenated MO one sender may have at once. Default `5`. */
    per_sender: z.number().int().min(1).default(5),
    /** Incomplete concatenated MO from all senders together. Default `500`. */
    in_flight: z.number().int().min(1).default(500),
    /** Parts of a message that never completed are dropped after this. Default `10m`. */
    timeout: durationSchema.prefault('10m'),
  })
  .strict();

const inboundSchema = z
  .object({
    /**
     * Country (ISO 3166 alpha-2, e.g. `GB`) for MO senders the SMSC gives in national format (TON 2) or with an
     * unknown TON (0). Default: none, and then only international senders (TON 1) can match a contact.
     */
    default_region: z
      .string()
      .refine((r) => isSupportedCountry(r), { message: 'expected a country code like GB, DE or US' })
      .optional(),
    /** Lockout after wrong PINs, per number. Default `{ attempts: 5, window: 15m }`. */
    pin_lockout: pinLockoutSchema.prefault({}),
    /** Caps on reply SMS. Default `{ per_number: 10, total: 200, window: 1h }`. */
    replies: repliesSchema.prefault({}),
    /** Bounds on concatenated MO parts held. Default `{ max_total: 10, per_sender: 5, in_flight: 500, timeout: 10m }`. */
    mo_parts: moPartsSchema.prefault({}),
  })
  .strict();

const limitsSchema = z
  .object({
    /**
     * Largest MQTT payload the rules evaluate, in bytes; bigger ones are accepted, logged and not evaluated.
     * Default `65536` (64 KiB).
     */
    rule_payload_bytes: z.number().int().min(1).default(65_536),
  })
  .strict();

const globList = z.array(z.string().min(1));

export const bridgeConfigSchema = z
  .object({
    /** Prefix of the bridge's own MQTT topics. Default `sms-bridge`. */
    base_topic: z
      .string()
      .min(1)
      .refine((t) => !/[+#]/.test(t) && !t.includes('\u0000') && !t.startsWith('/') && !t.endsWith('/'), {
        message: 'expected a topic prefix without wildcards or leading/trailing /',
      })
      .default('sms-bridge'),
    /** Logging. Default `{ level: info, show_phone_numbers: false }`. */
    log: logSchema.prefault({}),
    /** MQTT: the embedded broker, or an external one (`mode: external`). Default `{ mode: embedded, host: 0.0.0.0, port: 1883, allow_anonymous: false }`. */
    mqtt: mqttSchema.prefault({}),
    /** Built-in SMSC simulator (demo and tests). Default disabled. */
    simulator: simulatorSchema.prefault({}),
    /** SMSC connections and sending limits. Required (at least one connection). */
    smpp: smppSchema,
    /** Persistent state. Default `{ path: data/bridge.db, synchronous: full, retention: 90d }`. */
    store: storeSchema.prefault({}),
    /** Rule file globs (`*` in the last segment only), relative to the working directory. Default `[config/rules/*.yaml]`. */
    rules: globList.default(['config/rules/*.yaml']),
    /** Device file globs, relative to the working directory. Default `[devices/*.yaml]`. */
    devices: globList.default(['devices/*.yaml']),
    /** HTTP endpoints. Default disabled, `0.0.0.0:8080`. */
    http: httpSchema.prefault({}),
    /**
     * How long SIGTERM/SIGINT may take to stop the bridge (stop intake, drain submits, unbind, close the
     * store); past it the bridge logs what was still running and exits 1. Keep it below the supervisor's
     * grace period (`docker stop` waits 10 s). Default `10s`.
     */
    shutdown_timeout: durationSchema.prefault('10s'),
    /** SMS from field staff: sender identity, PIN lockout, reply caps, MO part bounds. Defaults as listed. */
    inbound: inboundSchema.prefault({}),
    /** Size limits on what the rules evaluate. Default `{ rule_payload_bytes: 65536 }`. */
    limits: limitsSchema.prefault({}),
    /** Several bridges sharing one store (see README, Scaling out). Default off. */
    cluster: clusterSchema.prefault({}),
  })
  .strict();

export type BridgeConfig = z.infer<typeof bridgeConfigSchema>;
export type BridgeConfigInput = z.input<typeof bridgeConfigSchema>;
export type SmppConnectionConfig = BridgeConfig['smpp']['connections'][number];

function isSmppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return SMPP_URL.test(parsed.protocol) && parsed.hostname.length > 0 && parsed.pathname.length <= 1;
  } catch {
    return false;
  }
}

function isSourceAddr(addr: string): boolean {
  return /^\+?\d{1,20}$/.test(addr) || /^[A-Za-z0-9 ._-]{1,11}$/.test(addr);
}

function formatVersion(value: unknown): string {
  return typeof value === 'number' ? `0x${value.toString(16)}` : JSON.stringify(value);
}

/** Runs even when an item has other problems (every issue at once), so items may be unvalidated here. */
function uniqueIds(connections: ReadonlyArray<{ id: unknown }>, ctx: z.RefinementCtx): void {
  if (!Array.isArray(connections)) return;
  const seen = new Map<string, number>();
  connections.forEach((c, i) => {
    if (typeof c?.id !== 'string') return;
    const first = seen.get(c.id);
    if (first === undefined) seen.set(c.id, i);
    else
      ctx.addIssue({
        code: 'custom',
        path: [i, 'id'],
        message: `duplicate connection id '${c.id}' (already used by smpp.connections.${first})`,
      });
  });
}
