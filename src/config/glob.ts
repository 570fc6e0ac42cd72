import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { BridgeError } from '../errors.js';

const WILDCARD = /[*?[\]{}]/;

/**
 * Expands file globs such as `config/rules/*.yaml`, relative to `cwd`. Deliberately small (Node 20 has no
 * fs.glob): `*` and `?` in the last segment only, no `**`, dotfiles only when the pattern starts with `.`.
 * A pattern without wildcards names a file that must exist; a wildcard pattern may match nothing (also when
 * its directory is missing). Returns the matches as `dir/name` (as written, not made absolute), in pattern
 * order, sorted by name within a pattern, each file once.
 */
export function expandGlobs(patterns: readonly string[], cwd: string = process.cwd()): string[] {
  const found = new Set<string>();
  for (const pattern of patterns) {
    const dir = path.dirname(pattern);
    const base = path.basename(pattern);
    if (WILDCARD.test(dir) || /[[\]{}]/.test(base)) {
      throw new BridgeError(
        'ERR_CONFIG_INVALID',
        `unsupported glob '${pattern}': only * and ? in the last path segment (as in config/rules/*.yaml)`,
      );
    }
    if (!WILDCARD.test(base)) {
      if (!isFile(path.resolve(cwd, pattern))) {
        throw new BridgeError('ERR_CONFIG_READ', `cannot read ${path.resolve(cwd, pattern)}: no such file`);
      }
      found.add(pattern);
      continue;
    }
    const matcher = globToRegExp(base);
    let names: string[];
    try {
      names = readdirSync(path.resolve(cwd, dir));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw new BridgeError(
        'ERR_CONFIG_READ',
        `cannot list ${path.resolve(cwd, dir)}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    for (const name of names.sort()) {
      if (name.startsWith('.') && !base.startsWith('.')) continue;
      const file = dir === '.' && !pattern.startsWith('./') ? name : path.join(dir, name);
      if (matcher.test(name) && isFile(path.resolve(cwd, file))) found.add(file);
    }
  }
  return [...found];
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^$()|\\]/g, '\\$&')
    .replace(/\*/g, '[^/]*')
    .replace(/\?/g, '[^/]');
  return new RegExp(`^${body}$`);
}

function isFile(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}
