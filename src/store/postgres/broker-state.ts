import type pg from 'pg';
import { BridgeError } from '../../errors.js';
import type {
  BrokerPacket,
  BrokerStateRepository,
  BrokerStateSnapshot,
  BrokerSubscription,
  IncomingEntry,
  OutgoingEntry,
  WillEntry,
} from '../broker-state.js';

/** Writes waiting for the next commit; past this a write is refused (the SQLite store's bound). */
export const MAX_PENDING_BROKER_WRITES = 100_000;

const PACKET_COLUMNS = 'cmd, topic, payload, qos, retain, dup, message_id, broker_id, broker_counter';

interface PacketRow {
  cmd: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: boolean;
  dup: boolean;
  message_id: number | null;
  broker_id: string | null;
  broker_counter: number | null;
}

function toPacket(row: PacketRow): BrokerPacket {
  return {
    cmd: row.cmd === 'pubrel' ? 'pubrel' : 'publish',
    topic: row.topic,
    payload: row.payload,
    qos: row.qos as BrokerPacket['qos'],
    retain: row.retain,
    dup: row.dup,
    messageId: row.message_id,
    brokerId: row.broker_id,
    brokerCounter: row.broker_counter,
  };
}

function packetValues(p: BrokerPacket): unknown[] {
  return [p.cmd, p.topic, p.payload, p.qos, p.retain, p.dup, p.messageId, p.brokerId, p.brokerCounter];
}

type Statement = [sql: string, params: unknown[]];

interface Pending {
  statements: Statement[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

/**
 * Broker state in PostgreSQL. Writes are applied in call order: those queued while a commit runs are written
 * together in the next transaction on one connection, each in its own savepoint so one that fails is rejected
 * alone (group commit, as the SQLite store does).
 */
export class PgBrokerStateRepository implements BrokerStateRepository {
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;

  constructor(private readonly pool: pg.Pool) {}

  async load(): Promise<BrokerStateSnapshot> {
    await this.flush();
    const q = async <R>(sql: string) => (await this.pool.query(sql)).rows as R[];
    const retained = (
      await q<PacketRow>(
        `SELECT 'publish' AS cmd, topic, payload, qos, true AS retain, false AS dup, NULL::int AS message_id,
                broker_id, broker_counter FROM broker_retained ORDER BY topic`,
      )
    ).map(toPacket);
    const byClient = new Map<string, BrokerSubscription[]>();
    for (const row of await q<SubscriptionRow>(
      'SELECT client_id, topic, qos, rh, rap, nl, subscription_identifier FROM broker_subscriptions ORDER BY client_id, topic',
    )) {
      let list = byClient.get(row.client_id);
      if (!list) {
        list = [];
        byClient.set(row.client_id, list);
      }
      const sub: BrokerSubscription = { topic: row.topic, qos: row.qos as BrokerSubscription['qos'] };
      if (row.rh !== null) sub.rh = row.rh;
      if (row.rap !== null) sub.rap = row.rap;
      if (row.nl !== null) sub.nl = row.nl;
      if (row.subscription_identifier !== null) sub.subscriptionIdentifier = row.subscription_identifier;
      list.push(sub);
    }
    const subscriptions = [...byClient].map(([clientId, subs]) => ({ clientId, subscriptions: subs }));
    const outgoing = (
      await q<PacketRow & { id: number; client_id: string }>(
        `SELECT id, client_id, ${PACKET_COLUMNS} FROM broker_outgoing ORDER BY id`,
      )
    ).map((row) => ({ id: row.id, clientId: row.client_id, packet: toPacket(row) }));
    const incoming = (
      await q<PacketRow & { client_id: string }>(
        `SELECT client_id, ${PACKET_COLUMNS} FROM broker_incoming ORDER BY client_id, message_id`,
      )
    ).map((row) => ({ clientId: row.client_id, messageId: row.message_id as number, packet: toPacket(row) }));
    const wills = (
      await q<PacketRow & { client_id: string }>(
        `SELECT client_id, 'publish' AS cmd, topic, payload, qos, retain, false AS dup, NULL::int AS message_id,
                broker_id, NULL::bigint AS broker_counter FROM broker_wills ORDER BY client_id`,
      )
    ).map((row) => ({ clientId: row.client_id, packet: toPacket(row) }));
    return { retained, subscriptions, outgoing, incoming, wills };
  }

  putRetained(p: BrokerPacket): Promise<void> {
    return this.write([
      `INSERT INTO broker_retained (topic, payload, qos, broker_id, broker_counter) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos,
        broker_id = excluded.broker_id, broker_counter = excluded.broker_counter`,
      [p.topic, p.payload, p.qos, p.brokerId, p.brokerCounter],
    ]);
  }

  deleteRetained(topic: string): Promise<void> {
    return this.write(['DELETE FROM broker_retained WHERE topic = $1', [topic]]);
  }

  putSubscriptions(clientId: string, subscriptions: BrokerSubscription[]): Promise<void> {
    return this.write(
      ...subscriptions.map(
        (sub): Statement => [
          `INSERT INTO broker_subscriptions (client_id, topic, qos, rh, rap, nl, subscription_identifier)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (client_id, topic) DO UPDATE SET qos = excluded.qos, rh = excluded.rh, rap = excluded.rap,
            nl = excluded.nl, subscription_identifier = excluded.subscription_identifier`,
          [
            clientId,
            sub.topic,
            sub.qos,
            sub.rh ?? null,
            sub.rap ?? null,
            sub.nl ?? null,
            sub.subscriptionIdentifier ?? null,
          ],
        ],
      ),
    );
  }

  deleteSubscriptions(clientId: string, topics: string[]): Promise<void> {
    return this.write([
      'DELETE FROM broker_subscriptions WHERE client_id = $1 AND topic = ANY($2::text[])',
      [clientId, topics],
    ]);
  }

  clearSubscriptions(clientId: string): Promise<void> {
    return this.write(['DELETE FROM broker_subscriptions WHERE client_id = $1', [clientId]]);
  }

  enqueueOutgoing(entries: OutgoingEntry[]): Promise<void> {
    return this.write(
      ...entries.map(
        (e): Statement => [
          `INSERT INTO broker_outgoing (id, client_id, ${PACKET_COLUMNS})
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [e.id, e.clientId, ...packetValues(e.packet)],
        ],
      ),
    );
  }

  updateOutgoing(id: number, packet: BrokerPacket): Promise<void> {
    return this.write([
      `UPDATE broker_outgoing SET cmd = $1, topic = $2, payload = $3, qos = $4, retain = $5, dup = $6,
        message_id = $7, broker_id = $8, broker_counter = $9 WHERE id = $10`,
      [...packetValues(packet), id],
    ]);
  }

  deleteOutgoing(id: number): Promise<void> {
    return this.write(['DELETE FROM broker_outgoing WHERE id = $1', [id]]);
  }

  putIncoming(e: IncomingEntry): Promise<void> {
    const p = e.packet;
    return this.write([
      `INSERT INTO broker_incoming (client_id, message_id, cmd, topic, payload, qos, retain, dup, broker_id,
        broker_counter) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (client_id, message_id) DO UPDATE SET cmd = excluded.cmd, topic = excluded.topic,
        payload = excluded.payload, qos = excluded.qos, retain = excluded.retain, dup = excluded.dup,
        broker_id = excluded.broker_id, broker_counter = excluded.broker_counter`,
      [
        e.clientId,
        e.messageId,
        p.cmd,
        p.topic,
        p.payload,
        p.qos,
        p.retain,
        p.dup,
        p.brokerId,
        p.brokerCounter,
      ],
    ]);
  }

  deleteIncoming(clientId: string, messageId: number): Promise<void> {
    return this.write([
      'DELETE FROM broker_incoming WHERE client_id = $1 AND message_id = $2',
      [clientId, messageId],
    ]);
  }

  clearIncoming(clientId: string): Promise<void> {
    return this.write(['DELETE FROM broker_incoming WHERE client_id = $1', [clientId]]);
  }

  putWill(e: WillEntry): Promise<void> {
    const p = e.packet;
    return this.write([
      `INSERT INTO broker_wills (client_id, topic, payload, qos, retain, broker_id) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (client_id) DO UPDATE SET topic = excluded.topic, payload = excluded.payload, qos = excluded.qos,
        retain = excluded.retain, broker_id = excluded.broker_id`,
      [e.clientId, p.topic, p.payload, p.qos, p.retain, p.brokerId],
    ]);
  }

  deleteWill(clientId: string): Promise<void> {
    return this.write(['DELETE FROM broker_wills WHERE client_id = $1', [clientId]]);
  }

  /** Resolves once every write queued so far is committed (or failed). */
  async flush(): Promise<void> {
    while (this.flushing !== undefined || this.queue.length > 0) {
      if (this.flushing === undefined) this.startFlush();
      await this.flushing;
    }
  }

  private write(...statements: Statement[]): Promise<void> {
    if (this.queue.length >= MAX_PENDING_BROKER_WRITES) {
      return Promise.reject(
        new BridgeError(
          'ERR_STORE',
          `more than ${MAX_PENDING_BROKER_WRITES} broker state writes waiting to commit`,
        ),
      );
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ statements, resolve, reject });
      if (this.flushing === undefined) this.startFlush();
    });
  }

  private startFlush(): void {
    const batch = this.queue;
    this.queue = [];
    this.flushing = this.commit(batch).finally(() => {
      this.flushing = undefined;
      if (this.queue.length > 0) this.startFlush();
    });
  }

  private async commit(batch: Pending[]): Promise<void> {
    const fail = (err: unknown) =>
      new BridgeError('ERR_STORE', `broker state write failed: ${(err as Error).message}`, { cause: err });
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      for (const w of batch) w.reject(fail(err));
      return;
    }
    let broken: Error | undefined;
    const done: Pending[] = [];
    try {
      await client.query('BEGIN');
      for (const w of batch) {
        await client.query('SAVEPOINT w');
        try {
          for (const [sql, params] of w.statements) await client.query(sql, params);
          await client.query('RELEASE SAVEPOINT w');
          done.push(w);
        } catch (err) {
          await client.query('ROLLBACK TO SAVEPOINT w');
          w.reject(fail(err));
        }
      }
      await client.query('COMMIT');
      for (const w of done) w.resolve();
    } catch (err) {
      broken = err as Error;
      await client.query('ROLLBACK').catch(() => undefined);
      for (const w of batch) w.reject(fail(err));
    } finally {
      client.release(broken);
    }
  }
}

interface SubscriptionRow {
  client_id: string;
  topic: string;
  qos: number;
  rh: number | null;
  rap: boolean | null;
  nl: boolean | null;
  subscription_identifier: number | null;
}
