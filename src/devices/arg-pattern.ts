import { RE2JS } from 're2js';

/**
 * Argument patterns of device commands run on text any operator's phone sends, so they are compiled with RE2
 * (re2js, pure JS): matching is linear in the input, whatever the pattern. `(a+)+b` cannot backtrack.
 * RE2 syntax: no backreferences or lookaround; `\d`, `\w`, classes, `\p{L}` work as in JavaScript.
 */
const compiled = new Map<string, RE2JS>();
const MAX_CACHED = 1_000;

/** The compiled pattern, anchored to the whole word; throws RE2JS's syntax error for what RE2 refuses. */
export function compileArgPattern(pattern: string): RE2JS {
  let re = compiled.get(pattern);
  if (!re) {
    re = RE2JS.compile(`^(?:${pattern})$`);
    if (compiled.size >= MAX_CACHED) compiled.clear();
    compiled.set(pattern, re);
  }
  return re;
}

/** Why RE2 refuses the pattern, or undefined when it compiles. */
export function argPatternProblem(pattern: string): string | undefined {
  try {
    compileArgPattern(pattern);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

export function matchesArgPattern(pattern: string, word: string): boolean {
  return compileArgPattern(pattern).matches(word);
}
