import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { App } from '../../../src/app.js';
import { parseBridgeConfig } from '../../../src/config/load-bridge.js';
import { isBridgeError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { tempDir, waitFor } from '../../helpers/harness.js';
import { Cleanup, captureLog, startClient, startSim } from './helpers.js';

let dir: string;
let cert: Buffer;
let key: Buffer;

beforeAll(() => {
  dir = tempDir();
  // self-signed for 127.0.0.1, made at test time: no key is committed
  execFileSync(
    'openssl',
    [
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
      ['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost'],
      ['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ].flat(),
    { stdio: 'ignore' },
  );
  cert = readFileSync(join(dir, 'cert.pem'));
  key = readFileSync(join(dir, 'key.pem'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('SMPP over TLS (ssmpp://)', () => {
  const cleanup = new Cleanup();
  afterEach(() => cleanup.run());

  it('binds and submits through TLS when the SMSC certificate verifies against the configured CA', async () => {
    const { sim, port } = await startSim(cleanup, { tls: { key, cert } });
    const client = startClient(cleanup, port, { url: `ssmpp://127.0.0.1:${port}`, tls: { ca: cert } });
    await waitFor(() => client.bound, 'bound over TLS');
    const result = await client.submit({
      destinationAddr: '447700900001',
      destAddrTon: 1,
      destAddrNpi: 1,
      sourceAddr: 'BRIDGE',
      sourceAddrTon: 5,
      sourceAddrNpi: 0,
      dataCoding: 0,
      esmClass: 0,
      shortMessage: Buffer.from('over TLS'),
      registeredDelivery: 0,
      priorityFlag: 0,
    });
    expect(result.commandStatus).toBe(0);
    expect(sim.received[0]?.text).toBe('over TLS');
  });

  it('names the setting when the CA file cannot be read', () => {
    const config = parseBridgeConfig(
      `smpp:\n  connections:\n    - { id: main, url: "ssmpp://127.0.0.1:1", system_id: b, tls: { ca: ${join(dir, 'missing.pem')} } }\n`,
      { env: {} },
    );
    let error: unknown;
    try {
      new App({ config, logger: silentLogger() });
    } catch (err) {
      error = err;
    }
    expect(isBridgeError(error, 'ERR_CONFIG_READ')).toBe(true);
    expect((error as Error).message).toMatch(/smpp\.connections\[main\]\.tls\.ca/);
  });

  it('refuses an SMSC whose certificate does not verify, says why, and keeps retrying', async () => {
    const { sim, port } = await startSim(cleanup, { tls: { key, cert } });
    const log = captureLog();
    const client = startClient(cleanup, port, { url: `ssmpp://127.0.0.1:${port}` }, log);
    await waitFor(
      () => log.messages().filter((m) => /certificate/i.test(m)).length >= 2,
      'two refused attempts',
    );
    expect(client.bound).toBe(false);
    expect(sim.binds).toEqual([]);
  });
});
