import type Database from 'better-sqlite3';
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
import { WriteBatcher } from './write-batcher.js';

const PACKET_COLUMNS = 'cmd, topic, payload, qos, retain, dup, message_id, broker_id, broker_counter';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS broker_retained (
  topic TEXT PRIMARY KEY,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  broker_id TEXT,
  broker_counter INTEGER
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS broker_subscriptions (
  client_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  qos INTEGER NOT NULL,
  rh INTEGER,
  rap INTEGER,
  nl INTEGER,
  subscription_identifier INTEGER,
  PRIMARY KEY (client_id, topic)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS broker_outgoing (
  id INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL,
  cmd TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  dup INTEGER NOT NULL,
  message_id INTEGER,
  broker_id TEXT,
  broker_counter INTEGER
);
CREATE TABLE IF NOT EXISTS broker_incoming (
  client_id TEXT NOT NULL,
  message_id INTEGER NOT NULL,
  cmd TEXT NOT NULL,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  dup INTEGER NOT NULL,
  broker_id TEXT,
  broker_counter INTEGER,
  PRIMARY KEY (client_id, message_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS broker_wills (
  client_id TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  payload BLOB NOT NULL,
  qos INTEGER NOT NULL,
  retain INTEGER NOT NULL,
  broker_id TEXT
) WITHOUT ROWID;
`;

interface PacketRow {
  cmd: string;
  topic: string;
  payload: Buffer;
  qos: number;
  retain: number;
  dup: number;
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
    retain: row.retain === 1,
    dup: row.dup === 1,
    messageId: row.message_id,
    brokerId: row.broker_id,
    brokerCounter: row.broker_counter,
  };
}

function packetValues(p: BrokerPacket): unknown[] {
  return [
    p.cmd,
    p.topic,
    p.payload,
    p.qos,
    p.retain ? 1 : 0,
    p.dup ? 1 : 0,
    p.messageId,
    p.brokerId,
    p.brokerCounter,
  ];
}

const optionalInt = (value: boolean | number | undefined): number | null =>
  value === undefined ? null : Number(value);

export interface SqliteBrokerStateOptions {
  /** Share the store's group commit; by default this repository batches its own writes. */
  batcher?: WriteBatcher;
}

/**
 * Broker state in SQLite. Writes go through a `WriteBatcher` (one transaction per event-loop turn, fsync as
 * the database's `synchronous` pragma says); the database is opened, configured and closed by its owner.
 */
export class SqliteBrokerStateRepository implements BrokerStateRepository {
  private readonly batcher: WriteBatcher;
  private readonly stmt: ReturnType<typeof prepare>;

  constructor(db: Database.Database, options: SqliteBrokerStateOptions = {}) {
    try {
      db.exec(SCHEMA);
      this.stmt = prepare(db);
    } catch (err) {
      throw new BridgeError('ERR_STORE', `cannot create the broker state tables: ${(err as Error).message}`, {
        cause: err,
      });
    }
    this.batcher = options.batcher ?? new WriteBatcher(db);
  }

  async load(): Promise<BrokerStateSnapshot> {
    const s = this.stmt;
    const retained = (s.loadRetained.all() as PacketRow[]).map(toPacket);
    const byClient = new Map<string, BrokerSubscription[]>();
    for (const row of s.loadSubscriptions.all() as SubscriptionRow[]) {
      let list = byClient.get(row.client_id);
      if (!list) {
        list = [];
        byClient.set(row.client_id, list);
      }
      const sub: BrokerSubscription = { topic: row.topic, qos: row.qos as BrokerSubscription['qos'] };
      if (row.rh !== null) sub.rh = row.rh;
      if (row.rap !== null) sub.rap = row.rap === 1;
      if (row.nl !== null) sub.nl = row.nl === 1;
      if (row.subscription_identifier !== null) sub.subscriptionIdentifier = row.subscription_identifier;
      list.push(sub);
    }
    const subscriptions = [...byClient].map(([clientId, subs]) => ({ clientId, subscriptions: subs }));
    const outgoing = (s.loadOutgoing.all() as Array<PacketRow & { id: number; client_id: string }>).map(
      (row) => ({ id: row.id, clientId: row.client_id, packet: toPacket(row) }),
    );
    const incoming = (s.loadIncoming.all() as Array<PacketRow & { client_id: string }>).map((row) => ({
      clientId: row.client_id,
      messageId: row.message_id as number,
      packet: toPacket(row),
    }));
    const wills = (s.loadWills.all() as Array<PacketRow & { client_id: string }>).map((row) => ({
      clientId: row.client_id,
      packet: toPacket(row),
    }));
    return { retained, subscriptions, outgoing, incoming, wills };
  }

  putRetained(p: BrokerPacket): Promise<void> {
    return this.write(() =>
      this.stmt.putRetained.run(p.topic, p.payload, p.qos, p.brokerId, p.brokerCounter),
    );
  }

  deleteRetained(topic: string): Promise<void> {
    return this.write(() => this.stmt.deleteRetained.run(topic));
  }

  putSubscriptions(clientId: string, subscriptions: BrokerSubscription[]): Promise<void> {
    return this.write(() => {
      for (const sub of subscriptions) {
        this.stmt.putSubscription.run(
          clientId,
          sub.topic,
          sub.qos,
          optionalInt(sub.rh),
          optionalInt(sub.rap),
          optionalInt(sub.nl),
          optionalInt(sub.subscriptionIdentifier),
        );
      }
    });
  }

  deleteSubscriptions(clientId: string, topics: string[]): Promise<void> {
    return this.write(() => {
      for (const topic of topics) this.stmt.deleteSubscription.run(clientId, topic);
    });
  }

  clearSubscriptions(clientId: string): Promise<void> {
    return this.write(() => this.stmt.clearSubscriptions.run(clientId));
  }

  enqueueOutgoing(entries: OutgoingEntry[]): Promise<void> {
    return this.write(() => {
      for (const e of entries) this.stmt.enqueueOutgoing.run(e.id, e.clientId, ...packetValues(e.packet));
    });
  }

  updateOutgoing(id: number, packet: BrokerPacket): Promise<void> {
    return this.write(() => this.stmt.updateOutgoing.run(...packetValues(packet), id));
  }

  deleteOutgoing(id: number): Promise<void> {
    return this.write(() => this.stmt.deleteOutgoing.run(id));
  }

  putIncoming(e: IncomingEntry): Promise<void> {
    const p = e.packet;
    return this.write(() =>
      this.stmt.putIncoming.run(
        e.clientId,
        e.messageId,
        p.cmd,
        p.topic,
        p.payload,
        p.qos,
        p.retain ? 1 : 0,
        p.dup ? 1 : 0,
        p.brokerId,
        p.brokerCounter,
      ),
    );
  }

  deleteIncoming(clientId: string, messageId: number): Promise<void> {
    return this.write(() => this.stmt.deleteIncoming.run(clientId, messageId));
  }

  clearIncoming(clientId: string): Promise<void> {
    return this.write(() => this.stmt.clearIncoming.run(clientId));
  }

  putWill(e: WillEntry): Promise<void> {
    const p = e.packet;
    return this.write(() =>
      this.stmt.putWill.run(e.clientId, p.topic, p.payload, p.qos, p.retain ? 1 : 0, p.brokerId),
    );
  }

  deleteWill(clientId: string): Promise<void> {
    return this.write(() => this.stmt.deleteWill.run(clientId));
  }

  private write(run: () => unknown): Promise<void> {
    return this.batcher.submit(run).then(
      () => undefined,
      (err: unknown) => {
        throw new BridgeError('ERR_STORE', `broker state write failed: ${(err as Error).message}`, {
          cause: err,
        });
      },
    );
  }
}

interface SubscriptionRow {
  client_id: string;
  topic: string;
  qos: number;
  rh: number | null;
  rap: number | null;
  nl: number | null;
  subscription_identifier: number | null;
}

function prepare(db: Database.Database) {
  return {
    loadRetained: db.prepare(
      `SELECT 'publish' AS cmd, topic, payload, qos, 1 AS retain, 0 AS dup, NULL AS message_id,
              broker_id, broker_counter FROM broker_retained`,
    ),
    putRetained: db.prepare(
      'INSERT OR REPLACE INTO broker_retained (topic, payload, qos, broker_id, broker_counter) VALUES (?, ?, ?, ?, ?)',
    ),
    deleteRetained: db.prepare('DELETE FROM broker_retained WHERE topic = ?'),
    loadSubscriptions: db.prepare(
      'SELECT client_id, topic, qos, rh, rap, nl, subscription_identifier FROM broker_subscriptions',
    ),
    putSubscription: db.prepare(
      `INSERT OR REPLACE INTO broker_subscriptions
         (client_id, topic, qos, rh, rap, nl, subscription_identifier) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteSubscription: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ? AND topic = ?'),
    clearSubscriptions: db.prepare('DELETE FROM broker_subscriptions WHERE client_id = ?'),
    loadOutgoing: db.prepare(`SELECT id, client_id, ${PACKET_COLUMNS} FROM broker_outgoing ORDER BY id`),
    enqueueOutgoing: db.prepare(
      `INSERT INTO broker_outgoing (id, client_id, ${PACKET_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    updateOutgoing: db.prepare(
      `UPDATE broker_outgoing SET cmd = ?, topic = ?, payload = ?, qos = ?, retain = ?, dup = ?, message_id = ?,
         broker_id = ?, broker_counter = ? WHERE id = ?`,
    ),
    deleteOutgoing: db.prepare('DELETE FROM broker_outgoing WHERE id = ?'),
    loadIncoming: db.prepare(`SELECT client_id, ${PACKET_COLUMNS} FROM broker_incoming`),
    putIncoming: db.prepare(
      `INSERT OR REPLACE INTO broker_incoming
         (client_id, message_id, cmd, topic, payload, qos, retain, dup, broker_id, broker_counter)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    deleteIncoming: db.prepare('DELETE FROM broker_incoming WHERE client_id = ? AND message_id = ?'),
    clearIncoming: db.prepare('DELETE FROM broker_incoming WHERE client_id = ?'),
    loadWills: db.prepare(
      `SELECT client_id, 'publish' AS cmd, topic, payload, qos, retain, 0 AS dup, NULL AS message_id,
              broker_id, NULL AS broker_counter FROM broker_wills`,
    ),
    putWill: db.prepare(
      'INSERT OR REPLACE INTO broker_wills (client_id, topic, payload, qos, retain, broker_id) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    deleteWill: db.prepare('DELETE FROM broker_wills WHERE client_id = ?'),
  };
}
