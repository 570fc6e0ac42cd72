// biome-ignore-all lint/suspicious/noTemplateCurlyInString: expected messages quote ${VAR} references
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bridgeConfigSchema } from '../../../src/config/bridge-schema.js';
import { loadBridgeConfig, parseBridgeConfig } from '../../../src/config/load-bridge.js';
import { parseYaml } from '../../../src/config/yaml.js';
import { validate } from '../../../src/config/zod-issues.js';
import { type FileIssue, FileIssuesError, isBridgeError } from '../../../src/errors.js';

const FIXTURES = 'test/fixtures/config';
const MINIMAL = [
  'smpp:',
  '  connections:',
  '    - id: main',
  '      url: smpp://127.0.0.1:2775',
  '      system_id: bridge',
  '',
].join('\n');

function issuesOf(run: () => unknown): FileIssue[] {
  try {
    run();
  } catch (err) {
    if (err instanceof FileIssuesError) {
      expect(err.code).toBe('ERR_CONFIG_INVALID');
      return err.issues;
    }
    throw err;
  }
  throw new Error('expected a FileIssuesError');
}

describe('bridge config defaults', () => {
  it('fills every default around the one required connection', () => {
    expect(parseBridgeConfig(MINIMAL, { env: {} })).toEqual({
      base_topic: 'sms-bridge',
      log: { level: 'info', show_phone_numbers: false },
      mqtt: {
        mode: 'embedded',
        share_group: 'sms-bridge',
        protocol_version: 5,
        session_expiry: 86_400_000,
        host: '0.0.0.0',
        port: 1883,
        allow_anonymous: false,
        accounts: [],
        max_packet_size: 262_144,
        max_connections: 10_000,
        max_sessions_per_account: 100,
        anonymous: { publish: ['#'], subscribe: ['#'] },
        retained: { max_per_client: 100, max_total: 10_000, max_bytes: 67_108_864 },
        login: {
          max_concurrent: 2,
          max_queued: 16,
          free_failures: 5,
          backoff: { initial: 1000, max: 60_000 },
          tracked: 10_000,
        },
      },
      simulator: { enabled: false, host: '127.0.0.1', port: 2775, receipts: true },
      smpp: {
        connections: [
          {
            id: 'main',
            url: 'smpp://127.0.0.1:2775',
            system_id: 'bridge',
            system_type: '',
            source_addr: 'BRIDGE',
            source_addr_ton: 5,
            source_addr_npi: 0,
            interface_version: 0x34,
            addr_ton: 0,
            addr_npi: 0,
            address_range: '',
            bind_mode: 'transceiver',
            enquire_link_interval: 30_000,
            response_timeout: 10_000,
            reconnect: { initial: 1_000, max: 60_000 },
            window: 10,
            tps: 50,
            registered_delivery: true,
            priority: 0,
            routes: [],
            long_text: 'udh8',
            message_id_format: 'auto',
          },
        ],
        max_parts: 4,
        max_age: 3_600_000,
      },
      store: { path: 'data/bridge.db', synchronous: 'full', retention: 90 * 86_400_000 },
      rules: ['config/rules/*.yaml'],
      devices: ['devices/*.yaml'],
      http: { enabled: false, host: '0.0.0.0', port: 8080 },
      shutdown_timeout: 10_000,
      inbound: {
        pin_lockout: { attempts: 5, window: 900_000 },
        replies: { per_number: 10, total: 200, window: 3_600_000 },
        mo_parts: { max_total: 10, per_sender: 5, in_flight: 500, timeout: 600_000 },
      },
      limits: { rule_payload_bytes: 65_536 },
      cluster: {
        enabled: false,
        lease_ttl: 10_000,
        poll: 500,
        max_claimed: 500,
        alert_refresh: 5_000,
        command_adopt_after: 15_000,
        unbound_handover: 30_000,
      },
    });
  });

  it('reads every field of a full file, durations in ms', () => {
    const config = loadBridgeConfig(`${FIXTURES}/bridge-good.yaml`, {});
    expect(config.base_topic).toBe('site-a');
    expect(config.log).toEqual({ level: 'debug', show_phone_numbers: true });
    expect(config.mqtt.port).toBe(0);
    expect(config.http).toEqual({ enabled: true, host: '0.0.0.0', port: 0 });
    expect(config.store).toEqual({ path: '/tmp/x.db', synchronous: 'normal', retention: 90 * 86_400_000 });
    expect(config.rules).toEqual(['rules/*.yaml']);
    expect(config.smpp.max_age).toBe(90_000);
    const [main, backup] = config.smpp.connections;
    expect(main).toMatchObject({
      password: 'secret',
      enquire_link_interval: 90_000,
      reconnect: { initial: 500, max: 300_000 },
    });
    expect(backup).toMatchObject({
      url: 'ssmpp://smsc.example.net:3550',
      source_addr: '+447700900999',
      source_addr_ton: 1,
      source_addr_npi: 1,
      interface_version: 0x33,
      bind_mode: 'transmitter_receiver',
      window: 1,
      tps: 2.5,
      priority: 1,
      routes: ['+44'],
    });
    expect(backup?.password).toBeUndefined();
  });

  it.each([
    ['simulator: true', { enabled: true, host: '127.0.0.1', port: 2775, receipts: true }],
    ['simulator: false', { enabled: false, host: '127.0.0.1', port: 2775, receipts: true }],
    ['simulator: { enabled: true, port: 0 }', { enabled: true, host: '127.0.0.1', port: 0, receipts: true }],
  ])('accepts %s', (line, simulator) => {
    expect(parseBridgeConfig(`${line}\n${MINIMAL}`, { env: {} }).simulator).toEqual(simulator);
  });

  it('keeps explicit source_addr_ton/npi', () => {
    const text = `${MINIMAL}      source_addr: "12345"\n      source_addr_ton: 3\n      source_addr_npi: 0\n`;
    expect(parseBridgeConfig(text, { env: {} }).smpp.connections[0]).toMatchObject({
      source_addr_ton: 3,
      source_addr_npi: 0,
    });
  });

  it('returns a frozen config', () => {
    const config = parseBridgeConfig(MINIMAL, { env: {} });
    expect(Object.isFrozen(config.mqtt)).toBe(true);
    expect(Object.isFrozen(config.smpp.connections[0])).toBe(true);
  });
});

describe('the shipped config/bridge.yaml', () => {
  it('is valid and runs the demo: anonymous broker, simulator, one connection', () => {
    const config = loadBridgeConfig('config/bridge.yaml', {});
    expect(config.mqtt).toMatchObject({ host: '0.0.0.0', port: 1883, allow_anonymous: true, accounts: [] });
    expect(config.simulator).toMatchObject({ enabled: true, port: 2775 });
    expect(config.smpp.connections).toHaveLength(1);
    expect(config.smpp.connections[0]).toMatchObject({ url: 'smpp://127.0.0.1:2775', password: 'secret' });
    expect(config.store.path).toBe('data/bridge.db');
    expect(config.rules).toEqual(['config/rules/*.yaml']);
    expect(config.devices).toEqual(['devices/*.yaml']);
  });

  it('takes the SMPP password from the environment', () => {
    expect(
      loadBridgeConfig('config/bridge.yaml', { SMPP_PASSWORD: 'hunter2' }).smpp.connections[0]?.password,
    ).toBe('hunter2');
  });
});

describe('bridge config errors', () => {
  it.each([
    ['bridge-typo.yaml', 2, 3, 'mqtt.prot', "unknown key 'prot' (did you mean 'port'?)"],
    ['bridge-bad-port.yaml', 2, 9, 'mqtt.port', 'expected a number <= 65535, got 70000'],
    [
      'bridge-missing-env.yaml',
      6,
      17,
      'smpp.connections.0.password',
      'environment variable SMPP_PASSWORD is not set (write ${SMPP_PASSWORD:-default} for a default)',
    ],
    [
      'bridge-syntax-error.yaml',
      3,
      1,
      '',
      'YAML syntax error: All mapping items must start at the same column',
    ],
  ])('%s: %i:%i %s', (name, line, col, path, message) => {
    const file = `${FIXTURES}/${name}`;
    expect(issuesOf(() => loadBridgeConfig(file, {}))).toEqual([{ file, line, col, path, message }]);
  });

  it('reports all three mistakes of a file at once, in file order', () => {
    const issues = issuesOf(() => loadBridgeConfig(`${FIXTURES}/bridge-three-mistakes.yaml`, {}));
    expect(issues.map((i) => [i.line, i.col, i.path])).toEqual([
      [2, 10, 'log.level'],
      [4, 9, 'mqtt.port'],
      [8, 12, 'smpp.connections.0.url'],
    ]);
    expect(issues[0]?.message).toBe(
      "expected one of fatal|error|warn|info|debug|trace|silent, got 'verbose'",
    );
  });

  it.each([
    [
      'interface_version: 0x35',
      'smpp.connections.0.interface_version',
      'expected one of 0x33|0x34|0x50, got 0x35',
    ],
    [
      'bind_mode: both',
      'smpp.connections.0.bind_mode',
      "expected one of transceiver|transmitter_receiver, got 'both'",
    ],
    ['enquire_link_interval: 30x', 'smpp.connections.0.enquire_link_interval', /^expected a duration like/],
    ['window: 0', 'smpp.connections.0.window', 'expected a number >= 1, got 0'],
    ['source_addr: THIS-IS-TOO-LONG', 'smpp.connections.0.source_addr', /^expected up to 11 letters/],
    [
      'system_type: longer-than-twelve',
      'smpp.connections.0.system_type',
      'expected at most 12 characters, got 18',
    ],
    ['reconnect: { initial: 2m, max: 1m }', 'smpp.connections.0.reconnect', /must not exceed/],
    ['routes: [UK]', 'smpp.connections.0.routes.0', 'expected a number prefix like +44'],
  ])('rejects a connection with %s', (line, path, message) => {
    const issues = issuesOf(() => parseBridgeConfig(`${MINIMAL}      ${line}\n`, { env: {} }));
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ line: 6, path });
    expect(issues[0]?.message).toMatch(message);
  });

  it('keeps history for store.retention, at least a day, or for ever with 0', () => {
    const store = (line: string) => parseBridgeConfig(`${MINIMAL}store: { ${line} }\n`, { env: {} }).store;
    expect(store('retention: 30d').retention).toBe(30 * 86_400_000);
    expect(store('retention: 0').retention).toBe(0);
    const issues = issuesOf(() => store('retention: 1h'));
    expect(issues).toEqual([expect.objectContaining({ line: 6, path: 'store.retention' })]);
    expect(issues[0]?.message).toBe('must be at least 1d, or 0 to keep everything');
  });

  it('rejects SMPP 3.3 with a transceiver bind, which 3.3 does not have, at bind_mode', () => {
    const issues = issuesOf(() =>
      parseBridgeConfig(`${MINIMAL}      interface_version: 0x33\n      bind_mode: transceiver\n`, {
        env: {},
      }),
    );
    expect(issues).toEqual([expect.objectContaining({ line: 7, path: 'smpp.connections.0.bind_mode' })]);
    expect(issues[0]?.message).toMatch(/transmitter_receiver/);
  });

  it('rejects a second connection with the same id, at that id', () => {
    const text = `${MINIMAL}    - { id: main, url: "smpp://10.0.0.1", system_id: b }\n`;
    expect(issuesOf(() => parseBridgeConfig(text, { env: {} }))).toEqual([
      {
        file: '<config>',
        line: 6,
        col: 13,
        path: 'smpp.connections.1.id',
        message: "duplicate connection id 'main' (already used by smpp.connections.0)",
      },
    ]);
  });

  it('requires smpp.connections', () => {
    expect(issuesOf(() => parseBridgeConfig('', { env: {} }))).toEqual([
      { file: '<config>', line: 1, col: 1, path: 'smpp', message: 'missing required key (expected a map)' },
    ]);
  });

  it('rejects a file that is not a map', () => {
    expect(issuesOf(() => parseBridgeConfig('- a\n', { env: {} }))[0]?.message).toBe(
      'expected a map of settings, got a list',
    );
  });

  it('throws ERR_CONFIG_READ with the path for a missing file', () => {
    expect.assertions(2);
    try {
      loadBridgeConfig(`${FIXTURES}/missing.yaml`, {});
    } catch (err) {
      expect(isBridgeError(err, 'ERR_CONFIG_READ')).toBe(true);
      expect((err as Error).message).toContain(`${FIXTURES}/missing.yaml`);
    }
  });
});

describe('SMS_BRIDGE_CONFIG_* environment overrides', () => {
  it.each([
    ['SMS_BRIDGE_CONFIG_MQTT_PORT', '1884', (c) => c.mqtt.port, 1884],
    ['SMS_BRIDGE_CONFIG_MQTT_ALLOW_ANONYMOUS', 'true', (c) => c.mqtt.allow_anonymous, true],
    ['SMS_BRIDGE_CONFIG_LOG_SHOW_PHONE_NUMBERS', 'true', (c) => c.log.show_phone_numbers, true],
    ['SMS_BRIDGE_CONFIG_BASE_TOPIC', 'site-b', (c) => c.base_topic, 'site-b'],
    ['SMS_BRIDGE_CONFIG_SMPP_MAX_AGE', '2h', (c) => c.smpp.max_age, 7_200_000],
    ['SMS_BRIDGE_CONFIG_SMPP_CONNECTIONS_0_PASSWORD', '1234', (c) => c.smpp.connections[0]?.password, '1234'],
    [
      'SMS_BRIDGE_CONFIG_SMPP_CONNECTIONS_0_INTERFACE_VERSION',
      '0x50',
      (c) => c.smpp.connections[0]?.interface_version,
      0x50,
    ],
    ['SMS_BRIDGE_CONFIG_SIMULATOR_ENABLED', 'true', (c) => c.simulator.enabled, true],
    ['SMS_BRIDGE_CONFIG_RULES', '[a/*.yaml, b/*.yaml]', (c) => c.rules, ['a/*.yaml', 'b/*.yaml']],
    ['SMS_BRIDGE_CONFIG_DEVICES', 'devices/*.yml', (c) => c.devices, ['devices/*.yml']],
  ] satisfies Array<[string, string, (c: ReturnType<typeof parseBridgeConfig>) => unknown, unknown]>)(
    '%s=%s',
    (variable, value, pick, expected) => {
      expect(pick(parseBridgeConfig(MINIMAL, { env: { [variable]: value } }))).toEqual(expected);
    },
  );

  it('overrides a key inside the `simulator: true` shorthand', () => {
    const config = parseBridgeConfig(`simulator: true\n${MINIMAL}`, {
      env: { SMS_BRIDGE_CONFIG_SIMULATOR_PORT: '0' },
    });
    expect(config.simulator).toMatchObject({ enabled: true, port: 0 });
  });

  it.each([
    ['SMS_BRIDGE_CONFIG_MQTT_PROT', '1884', 'SMS_BRIDGE_CONFIG_MQTT_PROT does not name a configuration key'],
    ['SMS_BRIDGE_CONFIG_NOPE', 'x', 'SMS_BRIDGE_CONFIG_NOPE does not name a configuration key'],
    // issue 11: these reached Object.prototype and ended in a raw TypeError
    ['SMS_BRIDGE_CONFIG_CONSTRUCTOR', '1', 'SMS_BRIDGE_CONFIG_CONSTRUCTOR does not name a configuration key'],
    ['SMS_BRIDGE_CONFIG___PROTO__', '1', 'SMS_BRIDGE_CONFIG___PROTO__ does not name a configuration key'],
    [
      'SMS_BRIDGE_CONFIG_MQTT_TOSTRING',
      '1',
      'SMS_BRIDGE_CONFIG_MQTT_TOSTRING does not name a configuration key',
    ],
    [
      'SMS_BRIDGE_CONFIG_MQTT_HASOWNPROPERTY',
      '1',
      'SMS_BRIDGE_CONFIG_MQTT_HASOWNPROPERTY does not name a configuration key',
    ],
    [
      'SMS_BRIDGE_CONFIG_SMPP_CONNECTIONS_3_PASSWORD',
      'x',
      'SMS_BRIDGE_CONFIG_SMPP_CONNECTIONS_3_PASSWORD: smpp.connections.3 does not exist in the file (the list has 1 item(s))',
    ],
  ])('reports %s as an issue', (variable, value, message) => {
    expect(issuesOf(() => parseBridgeConfig(MINIMAL, { env: { [variable]: value } }))).toEqual([
      { file: '<config>', line: 1, col: 1, path: '', message },
    ]);
  });

  it('names the variable when its value is invalid, located at the key it overrides', () => {
    const issues = issuesOf(() =>
      parseBridgeConfig(`mqtt:\n  port: 1883\n${MINIMAL}`, { env: { SMS_BRIDGE_CONFIG_MQTT_PORT: 'abc' } }),
    );
    expect(issues).toEqual([
      {
        file: '<config>',
        line: 2,
        col: 9,
        path: 'mqtt.port',
        message: "set by SMS_BRIDGE_CONFIG_MQTT_PORT: expected a number, got 'abc'",
      },
    ]);
  });
});

describe('validated once, without the per-object fast path of zod', () => {
  it('gives the same config, or the same issues, as with it', () => {
    const texts = readdirSync(FIXTURES)
      .filter((name) => name.endsWith('.yaml'))
      .map((name) => readFileSync(`${FIXTURES}/${name}`, 'utf8'));
    texts.push(MINIMAL, `mqtt: { port: -1, tls: { port: 8883 } }\nhttp: { enabled: yes }\n${MINIMAL}`);
    for (const text of texts) {
      const { source, value } = parseYaml('<config>', text);
      expect(validate(bridgeConfigSchema, value ?? {}, source, { once: true })).toStrictEqual(
        validate(bridgeConfigSchema, value ?? {}, source),
      );
    }
  });
});
