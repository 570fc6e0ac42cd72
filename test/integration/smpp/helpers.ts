import { createLogger, type Logger } from '../../../src/logger.js';
import { SmscSimulator, type SmscSimulatorOptions } from '../../../src/simulator/smsc.js';
import { SmppClient, type SmppClientOptions, type SubmitParams } from '../../../src/smpp/session.js';

export interface CapturedLog {
  logger: Logger;
  lines: Array<Record<string, unknown> & { msg?: string; level: number }>;
  messages(): string[];
}

/** A real pino logger writing JSON lines into memory. */
export function captureLog(): CapturedLog {
  const lines: CapturedLog['lines'] = [];
  const logger = createLogger(
    { level: 'debug', showPhoneNumbers: true },
    { write: (line: string) => void lines.push(JSON.parse(line)) },
  );
  return { logger, lines, messages: () => lines.map((l) => String(l.msg ?? '')) };
}

/** Everything a test started, stopped in reverse in afterEach. */
export class Cleanup {
  private readonly stops: Array<() => Promise<void>> = [];
  add(stop: () => Promise<void>): void {
    this.stops.push(stop);
  }
  async run(): Promise<void> {
    for (const stop of this.stops.reverse()) await stop().catch(() => undefined);
    this.stops.length = 0;
  }
}

export async function startSim(
  cleanup: Cleanup,
  options: Partial<SmscSimulatorOptions> = {},
  log: CapturedLog = captureLog(),
): Promise<{ sim: SmscSimulator; port: number }> {
  const sim = new SmscSimulator({ receipts: false, logger: log.logger, ...options });
  const { port } = await sim.start({ host: '127.0.0.1', port: 0 });
  cleanup.add(() => sim.stop());
  return { sim, port };
}

/** A client with small timings so failures show within a test's time. */
export function startClient(
  cleanup: Cleanup,
  port: number,
  options: Partial<SmppClientOptions> = {},
  log: CapturedLog = captureLog(),
): SmppClient {
  const client = new SmppClient(
    {
      id: 'smsc-a',
      url: `smpp://127.0.0.1:${port}`,
      systemId: 'bridge',
      password: 'secret',
      enquireLinkIntervalMs: 5000,
      responseTimeoutMs: 1000,
      reconnectInitialMs: 20,
      reconnectMaxMs: 200,
      ...options,
    },
    log.logger,
  );
  client.start();
  cleanup.add(() => client.stop());
  return client;
}

export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function waitBound(client: SmppClient, timeoutMs = 5000): Promise<void> {
  return waitFor(() => client.bound, timeoutMs, `${client.id} to bind`);
}

export function submitParams(overrides: Partial<SubmitParams> = {}): SubmitParams {
  return {
    destinationAddr: '447700900001',
    destAddrTon: 1,
    destAddrNpi: 1,
    sourceAddr: 'Bridge',
    sourceAddrTon: 5,
    sourceAddrNpi: 0,
    dataCoding: 0,
    esmClass: 0,
    shortMessage: Buffer.from('hello'),
    registeredDelivery: 0,
    priorityFlag: 0,
    ...overrides,
  };
}

/** A bare SMPP header (SMPP 3.4 §3.2): command_length, command_id, command_status, sequence_number. */
export function rawHeader(commandId: number, sequence: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(16 + body.length, 0);
  head.writeUInt32BE(commandId, 4);
  head.writeUInt32BE(0, 8);
  head.writeUInt32BE(sequence, 12);
  return Buffer.concat([head, body]);
}
