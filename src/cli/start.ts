import { constants } from 'node:os';
import { App } from '../app.js';
import type { BridgeConfig } from '../config/bridge-schema.js';
import { loadBridgeConfig } from '../config/load-bridge.js';
import { BridgeError, FileIssuesError, formatIssue } from '../errors.js';
import { createLogger } from '../logger.js';
import { StopSteps } from '../shutdown.js';
import { type CliIo, EXIT, parseCommandLine } from './io.js';

export const START_USAGE = `Usage: mqtt-sms-bridge start [--config FILE]

Runs the bridge until SIGINT or SIGTERM, then stops within shutdown_timeout (a second
signal exits at once). The rule and device files are reloaded when they
change and on SIGHUP; a file with a mistake is reported (file:line:col) and the last good
set stays in force.

Options:
  -c, --config FILE   bridge configuration (default: config/bridge.yaml)
  -h, --help          show this help
`;

/** Starts the bridge; resolves once it runs (it then runs until a signal), or with an exit code if it cannot. */
export async function startCommand(argv: readonly string[], io: CliIo): Promise<number | undefined> {
  const parsed = parseCommandLine(argv, { config: { type: 'string', short: 'c' } }, START_USAGE, io);
  if (typeof parsed === 'number') return parsed;
  const configPath = parsed.values.config ?? 'config/bridge.yaml';
  let config: BridgeConfig;
  try {
    config = loadBridgeConfig(configPath, io.env);
  } catch (err) {
    if (err instanceof FileIssuesError) {
      io.stderr(`invalid configuration:\n${err.issues.map(formatIssue).join('\n')}\n`);
      return EXIT.problems;
    }
    if (err instanceof BridgeError) {
      io.stderr(`${err.message}\n`);
      return EXIT.problems;
    }
    throw err;
  }
  const logger = createLogger({ level: config.log.level, showPhoneNumbers: config.log.show_phone_numbers });
  let app: App;
  try {
    app = new App({ config, logger, cwd: io.cwd });
    await app.start();
  } catch (err) {
    // One clear line naming the setting, not a stack trace.
    if (err instanceof FileIssuesError) {
      logger.fatal({ code: err.code }, `cannot start:\n${err.issues.map(formatIssue).join('\n')}`);
    } else if (err instanceof BridgeError) logger.fatal({ code: err.code }, `cannot start: ${err.message}`);
    else logger.fatal({ err }, 'cannot start');
    logger.flush?.();
    return EXIT.problems;
  }
  let steps: StopSteps | undefined;
  const shutdown = (signal: NodeJS.Signals) => {
    if (steps) {
      // a second signal: the operator does not want to wait
      logger.warn({ signal, still_running: steps.pending }, 'second signal: exiting now');
      process.exit(128 + (constants.signals[signal] ?? 0));
    }
    steps = new StopSteps(logger.child({ module: 'shutdown' }));
    const running = steps;
    const timeoutMs = config.shutdown_timeout;
    logger.info({ signal, shutdown_timeout_ms: timeoutMs }, 'stopping');
    const deadline = setTimeout(() => {
      logger.error(
        { code: 'ERR_SHUTDOWN_TIMEOUT', still_running: running.pending, shutdown_timeout_ms: timeoutMs },
        'not stopped within shutdown_timeout; exiting anyway',
      );
      process.exit(EXIT.problems);
    }, timeoutMs);
    app.stop(running).then(
      () => {
        clearTimeout(deadline);
        logger.info('stopped');
        process.exit(EXIT.ok);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(EXIT.problems);
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('SIGHUP', () => {
    try {
      app.reload('SIGHUP');
    } catch (err) {
      logger.error({ err }, 'reload failed');
    }
  });
  return undefined;
}
