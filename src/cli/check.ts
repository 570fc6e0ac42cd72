import { formatIssue } from '../errors.js';
import { type CliIo, EXIT, parseCommandLine } from './io.js';
import { DEFAULT_CONFIG, loadEverything } from './load.js';

export const CHECK_USAGE = `Usage: mqtt-sms-bridge check [--config FILE] [--json]

Validates the bridge configuration and the rule and device files it names, and prints
every problem as file:line:col, as an editor or a CI log links them. Exit code 0 when all
is well, 1 when there is a problem, 2 when the command line is wrong.

Options:
  -c, --config FILE   bridge configuration (default: config/bridge.yaml)
      --json          print {"ok", "problems": [{file, line, col, path, message}], "errors": [...],
                      "skipped": [checks not run because a file they need could not be parsed]}
  -h, --help          show this help
`;

export async function checkCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const parsed = parseCommandLine(
    argv,
    { config: { type: 'string', short: 'c' }, json: { type: 'boolean' } },
    CHECK_USAGE,
    io,
  );
  if (typeof parsed === 'number') return parsed;
  const configFile = parsed.values.config ?? DEFAULT_CONFIG;
  const result = loadEverything(configFile, io.cwd, io.env);
  const ok = result.issues.length === 0 && result.errors.length === 0;
  if (parsed.values.json) {
    const { issues: problems, errors, skipped } = result;
    io.stdout(`${JSON.stringify({ ok, problems, errors, skipped }, null, 2)}\n`);
    return ok ? EXIT.ok : EXIT.problems;
  }
  if (!ok) {
    for (const error of result.errors) io.stderr(`${error}\n`);
    for (const issue of result.issues) io.stderr(`${formatIssue(issue)}\n`);
    const count = result.issues.length + result.errors.length;
    const files = new Set(result.issues.map((i) => i.file)).size;
    io.stderr(`\n${count} problem(s)${files > 0 ? ` in ${files} file(s)` : ''}\n`);
    for (const note of result.skipped) io.stderr(`skipped: ${note}\n`);
    return EXIT.problems;
  }
  const { set } = result;
  const ruleFiles = set?.files.rules.length ?? 0;
  const deviceFiles = set?.files.devices.length ?? 0;
  io.stdout(
    `ok: ${configFile}; ${set?.rules.size ?? 0} rule(s) in ${ruleFiles} file(s); ` +
      `${set?.devices.size ?? 0} device(s) in ${deviceFiles} file(s)\n`,
  );
  return EXIT.ok;
}
