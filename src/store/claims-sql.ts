import type { Destinations } from './store.js';

/** Queued SMS are claimed highest priority first (the same SQL in both dialects). */
export const PRIORITY_RANK = `CASE priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'normal' THEN 2 ELSE 3 END`;

/**
 * The destinations as one condition over `to_number`, built with the dialect's `startsWith(prefix)` (which also
 * collects its parameters, in call order: the prefixes, then `otherwise`); undefined when they allow none.
 */
export function destinationSql(
  d: Destinations,
  startsWith: (prefix: string) => string,
  always: string,
): string | undefined {
  const any = d.prefixes.map(startsWith);
  if (d.otherwise !== undefined) {
    const none = d.otherwise.map(startsWith);
    any.push(none.length === 0 ? always : `NOT (${none.join(' OR ')})`);
  }
  return any.length === 0 ? undefined : any.join(' OR ');
}
