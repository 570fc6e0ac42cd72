#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { App } from './app.js';
import { loadBridgeConfig } from './config/load-bridge.js';
import { BridgeError, FileIssuesError, formatIssue } from './errors.js';
import { createLogger } from './logger.js';

const USAGE = `Usage: mqtt-sms-bridge <command> [options]

Commands:
  start [--config FILE]   run the bridge (default config: config/bridge.yaml)

Options:
  -c, --config FILE       bridge configuration file
  -h, --help              show this help
`;

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

async function start(configPath: string): Promise<void> {
  let config: ReturnType<typeof loadBridgeConfig>;
  try {
    config = loadBridgeConfig(configPath);
  } catch (err) {
    if (err instanceof FileIssuesError)
      fail(`invalid configuration:\n${err.issues.map(formatIssue).join('\n')}`);
    if (err instanceof BridgeError) fail(err.message);
    throw err;
  }
  const logger = createLogger({ level: config.log.level, showPhoneNumbers: config.log.show_phone_numbers });
  let app: App;
  try {
    app = new App({ config, logger });
    await app.start();
  } catch (err) {
    // One clear line naming the setting, not a stack trace.
    if (err instanceof FileIssuesError) {
      logger.fatal({ code: err.code }, `cannot start:\n${err.issues.map(formatIssue).join('\n')}`);
    } else if (err instanceof BridgeError) logger.fatal({ code: err.code }, `cannot start: ${err.message}`);
    else logger.fatal({ err }, 'cannot start');
    logger.flush?.();
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    app.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error while stopping');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c', default: 'config/bridge.yaml' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const [command] = positionals;
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case 'start':
      return start(values.config);
    default:
      fail(`unknown command '${command}'\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => fail(err instanceof Error ? err.message : String(err)));
