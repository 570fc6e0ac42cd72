import { parseDuration } from '../config/duration.js';
import { createLogger, type Logger } from '../logger.js';
import { SmscSimulator } from '../simulator/smsc.js';
import { DemoFleet, type FleetDevice } from './fleet.js';
import { type CliIo, EXIT, parseCommandLine } from './io.js';

export const SIMULATE_USAGE = `Usage: mqtt-sms-bridge simulate [options]

Starts an SMSC simulator and a small fleet of demo devices that publish telemetry to a
running bridge, overheat now and then (an alert, then its clear) and answer the commands
they receive. Point the bridge at the simulator (smpp://127.0.0.1:2775) with the bridge's
own simulator off, or pass --no-smsc to run the devices only. Stops on Ctrl-C.

Options:
      --mqtt URL               the bridge's MQTT broker (default: mqtt://127.0.0.1:1883)
      --device ID[:PASSWORD]   a device to play; repeat for more
                               (default: pump-7:pump7-demo and pump-9:pump9-demo, as in devices/pump.yaml)
      --interval DURATION      telemetry period of each device (default: 5s)
      --alert-every N          every Nth telemetry round a device overheats (default: 6)
      --smsc-host HOST         address of the SMSC simulator (default: 127.0.0.1)
      --smsc-port PORT         port of the SMSC simulator (default: 2775)
      --no-smsc                do not start the SMSC simulator
      --no-receipts            the SMSC sends no delivery receipts
  -h, --help                   show this help
`;

export interface SimulationOptions {
  mqttUrl: string;
  devices: FleetDevice[];
  intervalMs: number;
  alertEvery: number;
  /** undefined: no SMSC simulator */
  smsc: { host: string; port: number; receipts: boolean } | undefined;
  logger: Logger;
}

export interface Simulation {
  smsc: SmscSimulator | undefined;
  smscPort: number | undefined;
  stop(): Promise<void>;
}

/** Starts the SMSC simulator (first, so that the bridge can bind) and then the fleet. */
export async function startSimulation(options: SimulationOptions): Promise<Simulation> {
  let smsc: SmscSimulator | undefined;
  let smscPort: number | undefined;
  const log = options.logger.child({ module: 'simulate' });
  if (options.smsc) {
    smsc = new SmscSimulator({ receipts: options.smsc.receipts, logger: options.logger });
    smsc.on('submit', (sms) =>
      log.info(
        { to: sms.to, part: `${sms.part.seq}/${sms.part.total}`, text: sms.text },
        'SMSC received an SMS',
      ),
    );
    ({ port: smscPort } = await smsc.start({ host: options.smsc.host, port: options.smsc.port }));
    log.info({ host: options.smsc.host, port: smscPort }, 'SMSC simulator listening');
  }
  const fleet = new DemoFleet({ ...options, logger: options.logger });
  try {
    await fleet.start();
  } catch (err) {
    await smsc?.stop();
    throw err;
  }
  return {
    smsc,
    smscPort,
    async stop() {
      await fleet.stop();
      await smsc?.stop();
    },
  };
}

export async function simulateCommand(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const parsed = parseCommandLine(
    argv,
    {
      mqtt: { type: 'string' },
      device: { type: 'string', multiple: true },
      interval: { type: 'string' },
      'alert-every': { type: 'string' },
      'smsc-host': { type: 'string' },
      'smsc-port': { type: 'string' },
      'no-smsc': { type: 'boolean' },
      'no-receipts': { type: 'boolean' },
    },
    SIMULATE_USAGE,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const v = parsed.values;
  const usage = (message: string) => {
    io.stderr(`${message}\n\n${SIMULATE_USAGE}`);
    return EXIT.usage;
  };
  const intervalMs = parseDuration(v.interval ?? '5s');
  if (intervalMs === undefined || intervalMs < 10) return usage(`--interval: expected a duration like 5s`);
  const alertEvery = Number(v['alert-every'] ?? 6);
  if (!Number.isInteger(alertEvery) || alertEvery < 2)
    return usage('--alert-every: expected a whole number >= 2');
  const smscPort = Number(v['smsc-port'] ?? 2775);
  if (!Number.isInteger(smscPort) || smscPort < 0 || smscPort > 65_535)
    return usage('--smsc-port: expected a port');
  const devices = (v.device ?? ['pump-7:pump7-demo', 'pump-9:pump9-demo']).map((spec): FleetDevice => {
    const colon = spec.indexOf(':');
    return colon === -1 ? { id: spec } : { id: spec.slice(0, colon), password: spec.slice(colon + 1) };
  });
  const logger = createLogger({ level: 'info', showPhoneNumbers: true });
  let simulation: Simulation;
  try {
    simulation = await startSimulation({
      mqttUrl: v.mqtt ?? 'mqtt://127.0.0.1:1883',
      devices,
      intervalMs,
      alertEvery,
      smsc: v['no-smsc']
        ? undefined
        : { host: v['smsc-host'] ?? '127.0.0.1', port: smscPort, receipts: !v['no-receipts'] },
      logger,
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const hint =
      code === 'EADDRINUSE'
        ? ' (is the bridge running its built-in simulator on that port? then use --no-smsc)'
        : code === 'ECONNREFUSED'
          ? ' (is the bridge running? see --mqtt)'
          : '';
    io.stderr(`cannot start the simulation: ${(err as Error).message}${hint}\n`);
    return EXIT.problems;
  }
  const stop = () => {
    simulation.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return undefined;
}
