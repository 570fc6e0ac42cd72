import type { Duplex } from 'node:stream';
import type { Client } from 'aedes';
import type { Logger } from '../logger.js';
import { type Access, accountKey, type Principal } from './bus.js';
import type { ClientIdClaims } from './identity.js';
import type { LoginGuard } from './login-guard.js';

export interface LoginDeps {
  access: Access;
  guard: LoginGuard;
  claims: ClientIdClaims;
  addressOf(client: Client): string;
  onLogin(client: Client, principal: Principal): void;
  /** rate-limited warn */
  warn(fields: Record<string, unknown>, message: string): void;
  log: Logger;
}

type Done = (err: (Error & { returnCode: number }) | null, success: boolean | null) => void;

export function authError(message: string, returnCode: number): Error & { returnCode: number } {
  return Object.assign(new Error(message), { returnCode });
}

/**
 * The aedes `authenticate` hook: login throttling, the password check, then the client id's owner
 * (README "Security"). CONNACK codes [MQTT-3.2.2.3]: 0x03 throttled or busy, 0x04 bad credentials, 0x05 a client id
 * of another account.
 */
export function createLogin(deps: LoginDeps) {
  const { access, guard, claims, addressOf, onLogin, warn, log } = deps;
  return (client: Client, username: string | undefined, password: Buffer | undefined, done: Done): void => {
    const address = addressOf(client);
    guard
      .attempt(address, username, () => access.authenticate(client.id, username, password))
      .then(
        (outcome) => {
          if (outcome.refused) {
            warn({ client: client.id, username, address, reason: outcome.refused }, 'MQTT login throttled');
            done(authError('server unavailable, try later', 3), null);
            return;
          }
          const principal = outcome.result;
          if (!principal) {
            warn({ client: client.id, username, address }, 'MQTT login refused: bad user name or password');
            done(authError('bad user name or password', 4), null);
            return;
          }
          if (client.closed) {
            done(authError('connection closed during login', 3), null);
            return;
          }
          const owner = accountKey(principal);
          const claim = claims.claim(client.id, owner, client.clean, access.clientIdOwner(client.id));
          if (claim !== 'ok') {
            const taken = claim === 'taken';
            warn(
              { client: client.id, account: owner, address },
              taken
                ? 'MQTT login refused: the client id belongs to another account'
                : 'MQTT login refused: too many persistent sessions (mqtt.max_sessions_per_account)',
            );
            done(authError(taken ? 'client id not authorized' : 'server unavailable', taken ? 5 : 3), null);
            return;
          }
          releaseOnClose(client.conn, claims, client.id, owner);
          onLogin(client, principal);
          done(null, true);
        },
        (err: unknown) => {
          log.error({ err, client: client.id }, 'MQTT authentication failed');
          done(authError('server unavailable', 3), null);
        },
      );
  };
}

/**
 * A function of its own so that the listener, which lives as long as the connection, holds the claim and
 * nothing of the login's scope: a closure made in there kept the CONNECT packet (password included) and
 * aedes' connect state alive for every connected client (~1 KB each, bench/: RSS with idle clients).
 */
function releaseOnClose(conn: Duplex, claims: ClientIdClaims, clientId: string, owner: string): void {
  conn.once('close', () => claims.release(clientId, owner));
}
