/**
 * The subscriptions a broker holds, as (filter, owner) pairs in a trie, asked one question: can any of them match
 * a topic of this filter? Used to skip building and publishing a status event nobody would receive.
 * Semantics of MQTT 3.1.1 §4.7. Errs only towards "yes": a wrong "no" would lose an event.
 */

interface FilterNode {
  children: Map<string, FilterNode>;
  /** owners whose filter ends here */
  owners: Set<unknown> | undefined;
  /** pairs ending here or below: an empty branch is pruned, a non-empty one answers `#` at once */
  count: number;
}

const newNode = (): FilterNode => ({ children: new Map(), owners: undefined, count: 0 });

/** Filters asked about whose answer is remembered until the subscriptions change (README "Bounds of the core"). */
export const MAX_REMEMBERED_FILTERS = 64;

/**
 * `$share/<group>/<filter>` (MQTT 5 §4.8.2) as the filter it shares. aedes 1.x does not deliver to it (it takes
 * the whole string for a filter), but a broker that does would: counting it under its filter can only say "yes"
 * more often.
 */
function sharedFilter(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const slash = filter.indexOf('/', 7);
  return slash < 0 ? filter : filter.slice(slash + 1);
}

export class FilterIndex {
  private readonly root = newNode();
  /** filter asked about -> its answer; emptied at every change */
  private readonly answers = new Map<string, boolean>();

  /** Subscriptions (pairs) held. */
  get size(): number {
    return this.root.count;
  }

  /** Adds `owner`'s subscription to `filter`; a pair already held is not counted twice. */
  add(filter: string, owner: unknown): void {
    const levels = sharedFilter(filter).split('/');
    const path: FilterNode[] = [this.root];
    let node = this.root;
    for (const level of levels) {
      let child = node.children.get(level);
      if (!child) {
        child = newNode();
        node.children.set(level, child);
      }
      node = child;
      path.push(node);
    }
    node.owners ??= new Set();
    if (node.owners.has(owner)) return;
    node.owners.add(owner);
    for (const n of path) n.count++;
    this.answers.clear();
  }

  /** Removes `owner`'s subscription to `filter`, if held. */
  delete(filter: string, owner: unknown): void {
    const levels = sharedFilter(filter).split('/');
    const path: FilterNode[] = [this.root];
    let node = this.root;
    for (const level of levels) {
      const child = node.children.get(level);
      if (!child) return;
      node = child;
      path.push(node);
    }
    if (!node.owners?.delete(owner)) return;
    for (let i = 0; i < path.length; i++) {
      const n = path[i]!;
      n.count--;
      if (n.count === 0 && i > 0) {
        path[i - 1]!.children.delete(levels[i - 1]!);
        break;
      }
    }
    this.answers.clear();
  }

  clear(): void {
    this.root.children.clear();
    this.root.count = 0;
    this.answers.clear();
  }

  /**
   * Whether some subscription held matches some topic that `filter` matches (for `<base>/sms/outbound/+`: a
   * subscription to `<base>/#`, to `+/sms/outbound/+`, or to one SMS's topic all say yes). Remembered per filter
   * until the next change: O(1) for a filter asked again.
   */
  overlaps(filter: string): boolean {
    const known = this.answers.get(filter);
    if (known !== undefined) return known;
    const answer = this.root.count > 0 && this.walk(this.root, filter.split('/'), 0);
    if (this.answers.size >= MAX_REMEMBERED_FILTERS) this.answers.clear();
    this.answers.set(filter, answer);
    return answer;
  }

  private walk(node: FilterNode, levels: string[], depth: number): boolean {
    const level = levels[depth];
    // [MQTT-4.7.2-1] a filter starting with a wildcard matches no topic starting with `$`
    const wildcards = !(depth === 0 && level !== undefined && level.startsWith('$') && level !== '+');
    // §4.7.1.2: `#` matches the parent level too, so `sport/#` matches `sport`
    if (wildcards && node.children.has('#')) return true;
    if (level === undefined) return node.owners !== undefined && node.owners.size > 0;
    // a `#` asked about matches this level and everything under it
    if (level === '#') return node.count > 0;
    if (level === '+') {
      for (const [name, child] of node.children) {
        if (depth === 0 && name.startsWith('$')) continue;
        if (this.walk(child, levels, depth + 1)) return true;
      }
      return false;
    }
    const exact = node.children.get(level);
    if (exact && this.walk(exact, levels, depth + 1)) return true;
    const plus = wildcards ? node.children.get('+') : undefined;
    return plus !== undefined && this.walk(plus, levels, depth + 1);
  }
}
