import { createHash, createHmac } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../src/app.js';
import { loadBridgeConfig } from '../../src/config/load-bridge.js';
import { hashPassword } from '../../src/devices/password.js';
import { silentLogger } from '../../src/logger.js';
import { type Harness, startHarness, waitFor } from '../helpers/harness.js';

// The per-sender dedupe key must not give a PIN away to someone who can read the database.
const RULES = `
contacts:
  carol: { phone: "+447700900003", pin: "4821" }
groups:
  field: [carol]
rules: []
`;
const CAROL = '+447700900003';
const TEXT = 'PIN 4821 pump-7 stop';

let devicesYaml = '';
beforeAll(async () => {
  devicesYaml = `
type: pump
commands:
  stop: { payload: { action: stop } }
devices:
  - { id: pump-7, password_hash: "${await hashPassword('pump7-secret')}", operators: [field] }
`;
});

function rows<T>(dbPath: string, sql: string): T[] {
  const db = new Database(dbPath, { readonly: true });
  try {
    return db.prepare(sql).all() as T[];
  } finally {
    db.close();
  }
}

describe('inbound dedupe key', () => {
  let h: Harness | undefined;
  let second: App | undefined;
  afterEach(async () => {
    await second?.stop();
    second = undefined;
    await h?.close();
    h = undefined;
  });

  it('is keyed with a secret kept in the store: the PIN cannot be found by hashing guesses', async () => {
    h = await startHarness({ rules: RULES, devicesYaml, allowAnonymous: false });
    await waitFor(() => h!.app.links[0]!.bound, 'bound');
    const pump = await h.connect({ clientId: 'pump-7', username: 'pump-7', password: 'pump7-secret' });
    const commands: string[] = [];
    await pump.subscribeAsync('devices/pump-7/commands', { qos: 1 });
    pump.on('message', (_t, payload) => commands.push(JSON.parse(payload.toString()).command));
    expect(await h.sim.injectMo({ from: CAROL, to: 'BRIDGE', text: TEXT })).toBe(0);
    await waitFor(() => commands.length === 1, 'the command');

    const keys = [
      ...rows<{ k: string }>(h.dbPath, 'SELECT dedupe_key AS k FROM inbound_sms'),
      ...rows<{ k: string }>(h.dbPath, 'SELECT dedupe_key AS k FROM inbound_last'),
    ].map((r) => r.k);
    expect(keys).toHaveLength(2);
    // every 4-digit PIN, hashed the way the key was made before (sha1) and unkeyed sha256: no match
    const guesses = new Set<string>();
    for (let pin = 0; pin < 10_000; pin++) {
      const input = `${CAROL}\n\nPIN ${String(pin).padStart(4, '0')} pump-7 stop`.toLowerCase();
      guesses.add(createHash('sha1').update(input).digest('hex'));
      guesses.add(createHash('sha256').update(input).digest('hex'));
    }
    for (const key of keys) expect(guesses.has(key)).toBe(false);
    // with the installation's secret the key is the HMAC of the same input
    const [secret] = rows<{ value: Buffer }>(
      h.dbPath,
      "SELECT value FROM kv WHERE scope = 'inbound' AND key = 'dedupe-hmac-key'",
    );
    expect(secret?.value.length).toBe(32);
    const hmac = createHmac('sha256', secret!.value)
      .update(`${CAROL}\n\n${TEXT.toLowerCase()}`)
      .digest('hex');
    expect(keys).toEqual([hmac, hmac]);

    // the secret outlives a restart: a re-delivery to the next process is still recognised
    await h.app.stop();
    second = new App({ config: loadBridgeConfig(join(h.dir, 'bridge.yaml')), logger: silentLogger() });
    await second.start();
    await waitFor(() => second!.links[0]!.bound, 'bound again');
    expect(await h.sim.injectMo({ from: CAROL, to: 'BRIDGE', text: TEXT })).toBe(0);
    const outcomes = rows<{ outcome: string }>(h.dbPath, 'SELECT outcome FROM inbound_sms ORDER BY id');
    expect(outcomes.map((o) => o.outcome)).toEqual(['command', 'duplicate']);
  });
});
