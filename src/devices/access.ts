import type { Access, Principal } from '../broker/bus.js';
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
}

export interface AccessOptions {
  /** the registry, or a getter so that a reloaded registry takes effect for new logins */
  registry: DeviceRegistry | (() => DeviceRegistry);
  /** let clients without a user name in, allowed everything (the demo) */
  allowAnonymous: boolean;
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
  for (const account of options.accounts) {
    const bad = [...account.publish, ...account.subscribe].find((f) => topicFilterError(f) !== undefined);
    if (bad !== undefined) {
      throw new BridgeError(
        'ERR_CONFIG_INVALID',
        `account '${account.username}': '${bad}' is not an MQTT topic filter`,
      );
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
      'mqtt.allow_anonymous is true: clients without a user name may publish and subscribe to anything',
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
  };

  function allowed(principal: Principal, filter: string, action: 'publish' | 'subscribe'): boolean {
    switch (principal.kind) {
      case 'anonymous':
        return options.allowAnonymous;
      case 'device':
        return filterCovers(
          action === 'publish' ? `devices/${principal.name}/+/#` : `devices/${principal.name}/commands/#`,
          filter,
        );
      case 'app': {
        const account = accounts.get(principal.name);
        return account?.[action].some((pattern) => filterCovers(pattern, filter)) === true;
      }
    }
  }
}

/**
 * True when every topic `filter` can match is matched by `pattern` (both MQTT filters; a topic name is a
 * filter without wildcards). `a/#` also matches `a` [MQTT-4.7.1-2]; `+` matches exactly one level, possibly
 * empty.
 */
export function filterCovers(pattern: string, filter: string): boolean {
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
  // The filter ended: the pattern must end too, or only a trailing `#` (which matches its parent) may remain.
  return p.length === f.length || (p.length === f.length + 1 && p[f.length] === '#');
}
