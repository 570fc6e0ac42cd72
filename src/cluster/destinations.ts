import type { Destinations } from '../store/store.js';

export interface RoutedConnection {
  id: string;
  /** E.164 prefixes with `+`; empty: serves what no connection routes */
  routes: readonly string[];
}

/**
 * What the instance owning `owned` can send, by the sender's rule (`Sender.groupFor`): a number goes to the
 * connections routing its prefix, or, when none does, to the connections without routes. Undefined: nothing.
 */
export function destinationsOf(
  all: readonly RoutedConnection[],
  owned: ReadonlySet<string>,
): Destinations | undefined {
  const mine = all.filter((c) => owned.has(c.id));
  if (mine.length === 0) return undefined;
  const prefixes = [...new Set(mine.flatMap((c) => c.routes))];
  const unrouted = mine.some((c) => c.routes.length === 0);
  return {
    prefixes,
    otherwise: unrouted ? [...new Set(all.flatMap((c) => c.routes))] : undefined,
  };
}
