/**
 * Which account holds each MQTT client id, so that no account can take over another's session
 * ([MQTT-3.1.4-2] lets a CONNECT with a connected client's id disconnect it, and a `clean: false` CONNECT resumes
 * whatever session the id has). Ids reserved by configuration (a device's id and `client_ids`, an account's
 * `client_ids`) belong to their owner always; any other id belongs to the first account that connects with it,
 * while that account has a connection with it or keeps a persistent session under it.
 */

export type ClaimResult = 'ok' | 'taken' | 'full';

interface Claim {
  owner: string;
  /** connections of the owner currently using the id */
  live: number;
  /** the last CONNECT asked for `clean: false`: the session outlives the connection */
  persistent: boolean;
}

export class ClientIdClaims {
  private readonly claims = new Map<string, Claim>();
  private readonly persistentCount = new Map<string, number>();

  /** `maxPersistentPerOwner` bounds the sessions (and their queued messages) each account can leave behind. */
  constructor(private readonly maxPersistentPerOwner: number) {}

  /**
   * Records a connection of `owner` with `clientId`; `reservedBy` is the configured owner of the id, if any.
   * Call `release` once when that connection ends.
   */
  claim(clientId: string, owner: string, clean: boolean, reservedBy: string | undefined): ClaimResult {
    if (reservedBy !== undefined && reservedBy !== owner) return 'taken';
    const claim = this.claims.get(clientId);
    if (claim && claim.owner !== owner) return 'taken';
    const wasPersistent = claim?.persistent === true;
    if (!clean && !wasPersistent && reservedBy === undefined) {
      if ((this.persistentCount.get(owner) ?? 0) >= this.maxPersistentPerOwner) return 'full';
    }
    const next: Claim = claim ?? { owner, live: 0, persistent: false };
    next.live++;
    // [MQTT-3.1.2-6] a clean session discards the stored one
    this.setPersistent(next, !clean && reservedBy === undefined);
    this.claims.set(clientId, next);
    return 'ok';
  }

  /** The connection of `owner` with `clientId` ended. */
  release(clientId: string, owner: string): void {
    const claim = this.claims.get(clientId);
    if (!claim || claim.owner !== owner) return;
    claim.live--;
    if (claim.live <= 0 && !claim.persistent) this.claims.delete(clientId);
  }

  /** The account holding `clientId` by first claim, if any. */
  ownerOf(clientId: string): string | undefined {
    return this.claims.get(clientId)?.owner;
  }

  get size(): number {
    return this.claims.size;
  }

  private setPersistent(claim: Claim, persistent: boolean): void {
    if (claim.persistent === persistent) return;
    claim.persistent = persistent;
    const count = (this.persistentCount.get(claim.owner) ?? 0) + (persistent ? 1 : -1);
    if (count > 0) this.persistentCount.set(claim.owner, count);
    else this.persistentCount.delete(claim.owner);
  }
}
