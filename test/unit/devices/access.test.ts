import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/broker/bus.js';
import { type AppAccount, createAccess, filterCovers } from '../../../src/devices/access.js';
import { hashPassword } from '../../../src/devices/password.js';
import { DeviceRegistry, loadDeviceFiles } from '../../../src/devices/registry.js';
import { isBridgeError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';

const fast = { N: 1024, r: 8, p: 1 };
const deviceHash = await hashPassword('pump7-secret', fast);
const appHash = await hashPassword('dashboard-secret', fast);

const registry = loadDeviceFiles(
  [
    {
      file: 'devices/pump.yaml',
      text: `type: pump
commands: { stop: { payload: { action: stop } } }
devices:
  - { id: pump-7, password_hash: "${deviceHash}" }
  - { id: pump-9, password_hash: "${deviceHash}" }
`,
    },
  ],
  { contacts: new Set(), groups: new Set() },
);

const dashboard: AppAccount = {
  username: 'dashboard',
  password_hash: appHash,
  publish: ['sms-bridge/request/sms/send'],
  subscribe: ['sms-bridge/#', 'devices/+/telemetry'],
};

function access(allowAnonymous = false, accounts: AppAccount[] = [dashboard]) {
  return createAccess({ registry, allowAnonymous, accounts, logger: silentLogger() });
}

const pump7: Principal = { kind: 'device', name: 'pump-7' };
const app: Principal = { kind: 'app', name: 'dashboard' };
const anonymous: Principal = { kind: 'anonymous', name: 'anonymous' };

describe('authenticate', () => {
  it.each<[string | undefined, string | undefined, Principal | null, string]>([
    ['pump-7', 'pump7-secret', { kind: 'device', name: 'pump-7' }, 'a device with its id and password'],
    ['pump-7', 'wrong', null, 'a wrong password'],
    ['PUMP-7', 'pump7-secret', null, 'the id in another case (topics use the exact id)'],
    ['pump-8', 'pump7-secret', null, 'an unknown user'],
    ['pump-7', undefined, null, 'no password'],
    ['dashboard', 'dashboard-secret', { kind: 'app', name: 'dashboard' }, 'an app account'],
    ['dashboard', 'pump7-secret', null, 'an app account with a wrong password'],
    [undefined, undefined, null, 'anonymous when not allowed'],
  ])('%s / %s -> %j (%s)', async (username, password, expected) => {
    const pw = password === undefined ? undefined : Buffer.from(password);
    await expect(access().authenticate('c1', username, pw)).resolves.toEqual(expected);
  });

  it('lets anonymous clients in when allowed, and still checks credentials that are given', async () => {
    const open = access(true);
    await expect(open.authenticate('c1', undefined, undefined)).resolves.toEqual(anonymous);
    await expect(open.authenticate('c1', '', undefined)).resolves.toEqual(anonymous);
    await expect(open.authenticate('c1', 'pump-7', Buffer.from('wrong'))).resolves.toBeNull();
    // [MQTT-3.1.2-22] a password without a user name is a protocol violation
    await expect(open.authenticate('c1', undefined, Buffer.from('x'))).resolves.toBeNull();
  });

  it('follows a reloaded registry when given a getter', async () => {
    let current = DeviceRegistry.empty();
    const live = createAccess({
      registry: () => current,
      allowAnonymous: false,
      accounts: [],
      logger: silentLogger(),
    });
    await expect(live.authenticate('c1', 'pump-7', Buffer.from('pump7-secret'))).resolves.toBeNull();
    current = registry;
    await expect(live.authenticate('c1', 'pump-7', Buffer.from('pump7-secret'))).resolves.toEqual(pump7);
  });

  it.each([
    [{ ...dashboard, publish: ['a/#/b'] }, 'a bad filter'],
    [{ ...dashboard, password_hash: 'plain' }, 'a plain password'],
    [{ ...dashboard, username: 'pump-7' }, 'the name of a device'],
  ])('refuses an account with %s', (account) => {
    expect(() => access(false, [account])).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_INVALID' }));
  });

  it('refuses an account defined twice', () => {
    try {
      access(false, [dashboard, dashboard]);
      expect.unreachable();
    } catch (err) {
      expect(isBridgeError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    }
  });
});

describe('ACL', () => {
  const acl = access();
  const open = access(true);

  it.each([
    [pump7, 'devices/pump-7/telemetry', true],
    [pump7, 'devices/pump-7/alerts/overheat', true],
    [pump7, 'devices/pump-7/commands/result', true],
    [pump7, 'devices/pump-7/a/b/c/d', true],
    [pump7, 'devices/pump-7', false],
    [pump7, 'devices/pump-9/telemetry', false],
    [pump7, 'devices/PUMP-7/telemetry', false],
    [pump7, 'devices/pump-77/telemetry', false],
    [pump7, 'sms-bridge/request/sms/send', false],
    [pump7, 'telemetry', false],
    [app, 'sms-bridge/request/sms/send', true],
    [app, 'devices/pump-7/commands', false],
    [anonymous, 'devices/pump-7/commands', false],
  ])('%j publishes %s -> %s', (principal, topic, expected) => {
    expect(acl.canPublish(principal, topic)).toBe(expected);
  });

  it.each([
    [pump7, 'devices/pump-7/commands', true],
    [pump7, 'devices/pump-7/commands/#', true],
    [pump7, 'devices/pump-7/commands/result', true],
    [pump7, 'devices/pump-7/commands/+', true],
    [pump7, 'devices/pump-7/#', false],
    [pump7, 'devices/pump-7/+', false],
    [pump7, 'devices/pump-7/telemetry', false],
    [pump7, '#', false],
    [pump7, '+/pump-7/commands', false],
    [pump7, 'devices/+/commands', false],
    [pump7, 'devices/pump-9/commands', false],
    [pump7, 'devices/pump-7/commands/#/x', false],
    [app, 'sms-bridge/#', true],
    [app, 'sms-bridge/sms/outbound/+', true],
    [app, 'sms-bridge', true],
    [app, 'devices/+/telemetry', true],
    [app, 'devices/pump-7/telemetry', true],
    [app, 'devices/+/+', false],
    [app, 'devices/#', false],
    [app, '#', false],
    [anonymous, '#', false],
  ])('%j subscribes %s -> %s', (principal, filter, expected) => {
    expect(acl.canSubscribe(principal, filter)).toBe(expected);
  });

  it('lets anonymous clients do anything when allowed (the demo)', () => {
    expect(open.canPublish(anonymous, 'devices/pump-7/commands')).toBe(true);
    expect(open.canSubscribe(anonymous, '#')).toBe(true);
    expect(open.canSubscribe(pump7, '#')).toBe(false);
  });

  it('refuses an unknown app principal', () => {
    expect(acl.canSubscribe({ kind: 'app', name: 'ghost' }, 'sms-bridge/#')).toBe(false);
  });
});

describe('filterCovers', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/+', 'a/b', true],
    ['a/+', 'a/+', true],
    ['a/+', 'a/#', false],
    ['a/+', 'a', false],
    ['a/+', 'a/b/c', false],
    ['a/#', 'a', true], // [MQTT-4.7.1-2] # matches the parent level
    ['a/#', 'a/#', true],
    ['a/#', 'a/+/c', true],
    ['a/#', '#', false],
    ['a/b/#', 'a/+/#', false],
    ['#', '#', true],
    ['#', '+/x', true],
    ['+/#', 'a', true],
    ['+', '', true],
    ['a/+/c', 'a//c', true],
  ])('%s covers %s -> %s', (pattern, filter, expected) => {
    expect(filterCovers(pattern, filter)).toBe(expected);
  });
});

/** filterCovers and the device ACL as they were written first, with split levels and made filters: the reference. */
function coversByLevels(pattern: string, filter: string): boolean {
  const p = pattern.split('/');
  const f = filter.split('/');
  for (let i = 0; i < f.length; i++) {
    const want = p[i];
    const got = f[i]!;
    if (want === undefined) return false;
    if (want === '#') return true;
    if (got === '#') return false;
    if (got === '+' ? want !== '+' : want !== '+' && want !== got) return false;
  }
  return p.length === f.length || (p.length === f.length + 1 && p[f.length] === '#');
}
function deviceByFilters(id: string, filter: string, action: 'publish' | 'subscribe'): boolean {
  const own = `devices/${id}/`;
  if (action === 'subscribe') return coversByLevels(`${own}commands/#`, filter);
  if (filter === `${own}commands` || filter.startsWith(`${own}commands/`))
    return filter === `${own}commands/result`;
  return coversByLevels(`${own}+/#`, filter);
}

/** Every filter of up to three levels over a small alphabet of levels, and a few longer ones. */
function grid(levels: string[]): string[] {
  const out: string[] = [];
  const walk = (prefix: string[], depth: number) => {
    if (prefix.length > 0) out.push(prefix.join('/'));
    if (depth === 0) return;
    for (const level of levels) walk([...prefix, level], depth - 1);
  };
  walk([], 3);
  return out;
}

describe('filterCovers and the device ACL, compared in place, answer as the level-by-level reference', () => {
  const levels = ['a', 'b', 'ab', '', '+', '#', '$SYS'];
  const filters = grid(levels);
  it(`filterCovers over ${filters.length} x ${filters.length} pairs`, () => {
    const wrong: string[] = [];
    for (const pattern of filters)
      for (const filter of filters)
        if (filterCovers(pattern, filter) !== coversByLevels(pattern, filter))
          wrong.push(`${pattern} ${filter}`);
    expect(wrong).toEqual([]);
  });

  it('the device ACL (publish, subscribe, receive) for devices pump-7 and pump-9', () => {
    const acl = access();
    const topics = [
      ...grid(['devices', 'pump-7', 'pump-77', 'pump', 'commands', 'result', '+', '#', '']),
      'devices/pump-7/commands/result',
      'devices/pump-7/commands/result/x',
      'devices/pump-7/commands/resultx',
      'devices/pump-7/commandsx',
      'devices/pump-7/telemetry/x/y',
      'devices/pump-7/#',
      'devices/pump-7/#/x',
      'devices/pump-7/+/#',
      'devices/pump-7/commands/#',
      'devices/pump-7/commands/+',
      'devices/pump-7/',
      'devices/pump-7//',
      'devices/pump-9/telemetry',
    ];
    const wrong: string[] = [];
    for (const topic of topics) {
      if (acl.canPublish(pump7, topic) !== deviceByFilters('pump-7', topic, 'publish'))
        wrong.push(`publish ${topic}`);
      if (acl.canReceive(pump7, topic) !== deviceByFilters('pump-7', topic, 'subscribe'))
        wrong.push(`receive ${topic}`);
    }
    expect(wrong).toEqual([]);
    expect(topics.filter((t) => acl.canPublish(pump7, t)).length).toBeGreaterThan(10);
    expect(topics.filter((t) => acl.canReceive(pump7, t))).toEqual(
      expect.arrayContaining(['devices/pump-7/commands', 'devices/pump-7/commands/#']),
    );
  });
});

describe('deny entries (`!filter`) and client ids', () => {
  const ops: AppAccount = {
    ...dashboard,
    username: 'ops',
    publish: ['#', '!sms-bridge/#'],
    subscribe: ['#', '!test/nosubscribe', '!secret/#'],
  };
  const acl = createAccess({
    registry,
    allowAnonymous: true,
    anonymous: { publish: ['plant/#'], subscribe: ['#', '!test/nosubscribe'] },
    accounts: [ops, { ...dashboard, client_ids: ['dash-1'] }],
    logger: silentLogger(),
  });
  const opsP: Principal = { kind: 'app', name: 'ops' };

  it.each<[Principal, 'publish' | 'subscribe' | 'receive', string, boolean]>([
    [opsP, 'subscribe', '#', true], // overlaps a deny: granted, the denied topics are withheld on delivery
    [opsP, 'subscribe', 'test/nosubscribe', false],
    [opsP, 'subscribe', 'secret/+', false],
    [opsP, 'subscribe', 'secret/#', false],
    [opsP, 'subscribe', 'test/+', true],
    [opsP, 'receive', 'test/nosubscribe', false],
    [opsP, 'receive', 'secret/a/b', false],
    [opsP, 'receive', 'test/other', true],
    [opsP, 'publish', 'sms-bridge/request/sms/send', false],
    [opsP, 'publish', 'devices/pump-7/commands', true],
    [anonymous, 'publish', 'plant/a', true],
    [anonymous, 'publish', 'devices/pump-7/telemetry', false],
    [anonymous, 'subscribe', 'test/nosubscribe', false],
    [anonymous, 'receive', 'test/nosubscribe', false],
    [anonymous, 'subscribe', 'TopicA/#', true],
    [pump7, 'publish', 'devices/pump-7/commands', false], // the bridge's topic: a device only answers on result
    [pump7, 'publish', 'devices/pump-7/commands/other', false],
    [pump7, 'publish', 'devices/pump-7/commands/result', true],
    [pump7, 'receive', 'devices/pump-7/commands', true],
    [pump7, 'receive', 'devices/pump-9/commands', false],
  ])('%j %s %s -> %s', (principal, action, topic, expected) => {
    const result =
      action === 'publish'
        ? acl.canPublish(principal, topic)
        : action === 'subscribe'
          ? acl.canSubscribe(principal, topic)
          : acl.canReceive(principal, topic);
    expect(result).toBe(expected);
  });

  it('names the owner of reserved client ids: a device its id (any case), an account its client_ids', () => {
    expect(acl.clientIdOwner('pump-7')).toBe('device:pump-7');
    expect(acl.clientIdOwner('PUMP-7')).toBe('device:pump-7');
    expect(acl.clientIdOwner('dash-1')).toBe('app:dashboard');
    expect(acl.clientIdOwner('mqttjs_1234')).toBeUndefined();
  });

  it('refuses a deny entry that is not a filter, and a client id that is a device id', () => {
    const bad = (account: AppAccount) => () =>
      createAccess({ registry, allowAnonymous: false, accounts: [account], logger: silentLogger() });
    for (const account of [
      { ...dashboard, subscribe: ['#', '!a/#/b'] },
      { ...dashboard, client_ids: ['pump-9'] },
    ]) {
      let err: unknown;
      try {
        bad(account)();
      } catch (e) {
        err = e;
      }
      expect(isBridgeError(err, 'ERR_CONFIG_INVALID')).toBe(true);
    }
  });
});
