import { topicFilterError } from '../rules/topic-trie.js';

const DOLLAR = 0x24;

/**
 * Whether `topic` (a topic name) matches `filter` (split into its levels), MQTT 3.1.1 §4.7: `+` one level
 * (maybe empty), `#` the rest and the parent level, no wildcard first level for a `$` topic [MQTT-4.7.2-1].
 * Walks the topic in place: no split, no allocation.
 */
export function filterMatches(filter: readonly string[], topic: string): boolean {
  const first = filter[0];
  if (topic.charCodeAt(0) === DOLLAR && (first === '+' || first === '#')) return false;
  // start of the topic's next level; past the end once its last level is consumed
  let pos = 0;
  const length = topic.length;
  for (let i = 0; i < filter.length; i++) {
    const level = filter[i]!;
    if (level === '#') return true;
    if (pos > length) return false;
    let end = topic.indexOf('/', pos);
    if (end < 0) end = length;
    if (level !== '+' && (end - pos !== level.length || !topic.startsWith(level, pos))) return false;
    pos = end + 1;
  }
  return pos > length;
}

const NONE: readonly never[] = Object.freeze([]);

/**
 * The broker's in-process subscribers ("taps") in the order they were added, matched by scanning them: the
 * bridge has a few (telemetry, command results, the simulator's MO topic), and a scan of those costs less than
 * a per-topic cache lookup of a topic seen for the first time (every topic of benchmark 2), which it replaced
 * (issue 14, session 10). Not for many subscribers: each message is compared with every filter.
 */
export class TapList<T> {
  private readonly filters: Array<readonly string[]> = [];
  private readonly values: T[] = [];
  /** each tap's value alone, as the answer of a topic only it matches (no array per message) */
  private readonly alone: Array<readonly T[]> = [];

  /** Adds `value` under `filter`; throws a TypeError for an invalid filter. */
  add(filter: string, value: T): void {
    const error = topicFilterError(filter);
    if (error) throw new TypeError(error);
    this.filters.push(filter.split('/'));
    this.values.push(value);
    this.alone.push(Object.freeze([value]));
  }

  get size(): number {
    return this.values.length;
  }

  /** The values whose filter matches `topic`, in the order they were added; read-only, maybe shared. */
  match(topic: string): readonly T[] {
    let only = -1;
    let many: T[] | undefined;
    for (let i = 0; i < this.filters.length; i++) {
      if (!filterMatches(this.filters[i]!, topic)) continue;
      if (only < 0) {
        only = i;
        continue;
      }
      many ??= [this.values[only]!];
      many.push(this.values[i]!);
    }
    if (many) return many;
    return only < 0 ? NONE : this.alone[only]!;
  }
}
