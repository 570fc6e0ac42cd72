import path from 'node:path';
import { type CompileOptions, compileRules } from '../rules/compile.js';
import type { CompiledRuleSet } from '../rules/engine.js';
import { expandGlobs } from './glob.js';
import { readTextFile } from './yaml.js';

/**
 * Reads the rule files that `globs` match (relative to `cwd`, see expandGlobs) and compiles them together.
 * Throws BridgeError `ERR_CONFIG_READ` when a file cannot be read and FileIssuesError `ERR_RULE_INVALID` with
 * every problem found. Rules live in `rules/`, which stays free of I/O; this is the reading half.
 */
export function loadRuleFiles(
  globs: readonly string[],
  cwd: string = process.cwd(),
  options: CompileOptions = {},
): CompiledRuleSet {
  const files = expandGlobs(globs, cwd).map((file) => ({
    file,
    text: readTextFile(path.resolve(cwd, file)),
  }));
  return compileRules(files, options);
}
