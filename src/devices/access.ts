import { type Access, accountKey, type Principal } from '../broker/bus.js';
import { BridgeError } from '../errors.js';
import type { Logger } from '../logger.js';
import { topicFilterError } from '../rules/topic-trie.js';
import { passwordHashProblem, verifyPassword } from './password.js';
import type { DeviceRegistry } from './registry.js';

/** An integrator or app account from `config/bridge.yaml`, with its own ACL. */
export interface AppAccount {
  username: string;
  password_hash: string;
  /** MQTT filters (`+`, `#`) of the topics it may publish to */
  publish: readonly string[];
  /** MQTT filters it may subscribe to; a subscription must not reach any topic outside them */
  subscribe: readonly string[];
  /** client ids only this account may use */
  client_ids?: readonly string[];
}

/** Publish and subscribe lists; `!filter` entries deny (see `compileAcl`). */
export interface AclLists {
  publish: readonly string[];
  subscribe: readonly string[];
}

export interface AccessOptions {
  /** the registry, or a getter so that a reloaded registry takes effect for new logins */
  registry: DeviceRegistry | (() => DeviceRegistry);
  /** let clients without a user name in (the demo) */
  allowAnonymous: boolean;
  /** what anonymous clients may do. Default: everything */
  anonymous?: AclLists;
  accounts: readonly AppAccount[];
  logger: Logger;
}

/**
 * Authentication and ACL for the embedded broker. Devices log in with their id and password and are confined
 * to `devices/<id>/...` (publish) and `devices/<id>/commands[/#]` (subscribe); app accounts get their own
 * filters; anonymous clients, when allowed, may do anything. Refusals are logged by the broker.
 */
export function createAccess(options: AccessOptions): Access {
  const log = options.logger.child({ module: 'access' });
  const registry =
    typeof options.registry === 'function' ? options.registry : () => options.registry as DeviceRegistry;
  const accounts = new Map<string, AppAccount>();
  const acls = new Map<string, { publish: Acl; subscribe: Acl }>();
  const accountClientIds = new Map<string, string>();
  const anonymous = {
    publish: compileAcl(options.anonymous?.publish ?? ['#'], 'mqtt.anonymous.publish'),
    subscribe: compileAcl(options.anonymous?.subscribe ?? ['#'], 'mqtt.anonymous.subscribe'),
  };
  for (const account of options.accounts) {
    const where = `account '${account.username}'`;
    acls.set(account.username, {
      publish: compileAcl(account.publish, where),
      subscribe: compileAcl(account.subscribe, where),
    });
    for (const id of account.client_ids ?? []) {
      const device = registry().clientIdOwner(id);
      const other = accountClientIds.get(id);
      if (device || (other !== undefined && other !== account.username)) {
        throw new BridgeError(
          'ERR_CONFIG_INVALID',
          `${where}: client id '${id}' already belongs to ${device ? `device '${device.id}'` : `account '${other}'`}`,
        );
      }
      accountClientIds.set(id, account.username);
    }
    const hashProblem = passwordHashProblem(account.password_hash);
    if (hashProblem) {
      throw new BridgeError('ERR_CONFIG_INVALID', `account '${account.username}': ${hashProblem}`);
    }
    if (accounts.has(account.username)) {
      throw new BridgeError('ERR_CONFIG_INVALID', `account '${account.username}' is defined twice`);
    }
    if (registry().device(account.username)) {
      throw new BridgeError('ERR_CONFIG_INVALID', `account '${account.username}' has the name of a device`);
    }
    accounts.set(account.username, account);
  }
  if (options.allowAnonymous) {
    log.warn(
      'mqtt.allow_anonymous is true: clients without a user name may publish and subscribe as mqtt.anonymous allows',
    );
  }

  return {
    async authenticate(clientId, username, password) {
      if (username === undefined || username === '') {
        if (password !== undefined) return null; // [MQTT-3.1.2-22] no password without a user name
        return options.allowAnonymous ? { kind: 'anonymous', name: 'anonymous' } : null;
      }
      const secret = password ?? Buffer.alloc(0);
      const device = registry().device(username);
      // The topic ACL uses the id exactly as registered, so the login must too.
      if (device && device.id === username) {
        if (await registry().verifyPassword(username, secret)) {
          log.debug({ client: clientId, device: device.id }, 'device logged in');
          return { kind: 'device', name: device.id };
        }
        return null;
      }
      if (device) {
        log.debug({ client: clientId, device: device.id }, 'login refused: user name must be the exact id');
      }
      const account = accounts.get(username);
      if (account && (await verifyPassword(account.password_hash, secret))) {
        log.debug({ client: clientId, account: username }, 'app account logged in');
        return { kind: 'app', name: username };
      }
      if (!account) await registry().verifyPassword(username, secret); // same time as a wrong password
      return null;
    },

    canPublish(principal, topic) {
      return allowed(principal, topic, 'publish');
    },

    canSubscribe(principal, filter) {
      return topicFilterError(filter) === undefined && allowed(principal, filter, 'subscribe');
    },

    canReceive(principal, topic) {
      return allowed(principal, topic, 'subscribe');
    },

    clientIdOwner(clientId) {
      const device = registry().clientIdOwner(clientId);
      if (device) return accountKey({ kind: 'device', name: device.id });
      const account = accountClientIds.get(clientId);
      return account === undefined ? undefined : accountKey({ kind: 'app', name: account });
    },
  };

  function allowed(principal: Principal, filter: string, action: 'publish' | 'subscribe'): boolean {
    switch (principal.kind) {
      case 'anonymous':
        return options.allowAnonymous && aclAllows(anonymous[action], filter);
      case 'device': {
        const name = principal.name;
        // ids are letters, digits, `_` and `-` (schema.ts); anything else takes the general path
        if (!PLAIN_ID.test(name)) return deviceAllowedSlow(name, filter, action);
        // what follows `devices/<id>/`, compared in place: no strings made per message
        const at = afterOwnPrefix(filter, name);
        if (at < 0) return false;
        const commands =
          filter.startsWith('commands', at) &&
          (filter.length === at + 8 || filter.charCodeAt(at + 8) === SLASH);
        if (action === 'subscribe') return commands; // `devices/<id>/commands/#`
        // The commands topic is the bridge's: a device may only answer on commands/result.
        if (commands) return filter.length === at + 15 && filter.startsWith('commands/result', at);
        // `devices/<id>/+/#`: any level there but `#`
        return !(
          filter.charCodeAt(at) === HASH &&
          (filter.length === at + 1 || filter.charCodeAt(at + 1) === SLASH)
        );
      }
      case 'app': {
        const acl = acls.get(principal.name);
        return acl !== undefined && aclAllows(acl[action], filter);
      }
    }
  }
}

/** An ACL list split into what it allows and what its `!` entries deny. */
export interface Acl {
  allow: readonly string[];
  deny: readonly string[];
}

/** Throws `ERR_CONFIG_INVALID` naming `where` when an entry is not a topic filter. */
export function compileAcl(entries: readonly string[], where: string): Acl {
  const allow: string[] = [];
  const deny: string[] = [];
  for (const entry of entries) {
    const filter = entry.startsWith('!') ? entry.slice(1) : entry;
    if (topicFilterError(filter) !== undefined) {
      throw new BridgeError('ERR_CONFIG_INVALID', `${where}: '${entry}' is not an MQTT topic filter`);
    }
    (entry.startsWith('!') ? deny : allow).push(filter);
  }
  return { allow, deny };
}

/**
 * A topic (publish, delivery) or subscription filter is allowed when an allow entry covers it and no deny entry
 * does. A subscription that only overlaps a deny entry (`#` against `!test/nosubscribe`) is granted; the
 * messages on denied topics are then withheld at delivery, where the topic is a name.
 */
export function aclAllows(acl: Acl, filter: string): boolean {
  return (
    acl.allow.some((pattern) => filterCovers(pattern, filter)) &&
    !acl.deny.some((pattern) => filterCovers(pattern, filter))
  );
}

const SLASH = 0x2f;
const HASH = 0x23;
const PLUS = 0x2b;
const PLAIN_ID = /^[A-Za-z0-9_-]+$/;

/** The index after `devices/<id>/` at the start of `filter`, or -1 when it does not start so. */
function afterOwnPrefix(filter: string, id: string): number {
  if (!filter.startsWith('devices/') || !filter.startsWith(id, 8)) return -1;
  const at = 8 + id.length;
  return filter.charCodeAt(at) === SLASH ? at + 1 : -1;
}

/** A device's ACL as filters made for it: for an id that is not a plain one (the schema allows none). */
function deviceAllowedSlow(id: string, filter: string, action: 'publish' | 'subscribe'): boolean {
  const own = `devices/${id}/`;
  if (action === 'subscribe') return filterCovers(`${own}commands/#`, filter);
  if (filter === `${own}commands` || filter.startsWith(`${own}commands/`)) {
    return filter === `${own}commands/result`;
  }
  return filterCovers(`${own}+/#`, filter);
}

/** Whether the level of `a` at `ai` (`length` characters) is the level of `b` at `bi`. */
function sameLevel(a: string, ai: number, b: string, bi: number, length: number): boolean {
  for (let i = 0; i < length; i++) if (a.charCodeAt(ai + i) !== b.charCodeAt(bi + i)) return false;
  return true;
}

/**
 * True when every topic `filter` can match is matched by `pattern` (both MQTT filters; a topic name is a
 * filter without wildcards). `a/#` also matches `a` [MQTT-4.7.1-2]; `+` matches exactly one level, possibly
 * empty. Compares the levels in place (it runs for every message whose topic is new to its client).
 */
export function filterCovers(pattern: string, filter: string): boolean {
  if (pattern === '#') return true;
  const plen = pattern.length;
  const flen = filter.length;
  // start of each one's current level; past its end once its last level is consumed
  let p = 0;
  let f = 0;
  while (f <= flen) {
    if (p > plen) return false; // the pattern ended first
    let pe = pattern.indexOf('/', p);
    if (pe < 0) pe = plen;
    let fe = filter.indexOf('/', f);
    if (fe < 0) fe = flen;
    const wantOne = pe - p === 1;
    const gotOne = fe - f === 1;
    if (wantOne && pattern.charCodeAt(p) === HASH) return true;
    if (gotOne && filter.charCodeAt(f) === HASH) return false;
    const wantPlus = wantOne && pattern.charCodeAt(p) === PLUS;
    const gotPlus = gotOne && filter.charCodeAt(f) === PLUS;
    if (gotPlus ? !wantPlus : !wantPlus && (pe - p !== fe - f || !sameLevel(pattern, p, filter, f, pe - p)))
      return false;
    p = pe + 1;
    f = fe + 1;
  }
  // The filter ended: the pattern must end too, or only a trailing `#` (which matches its parent) may remain.
  return p > plen || (plen - p === 1 && pattern.charCodeAt(p) === HASH);
}
