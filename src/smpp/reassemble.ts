import { decodeText } from './encoding.js';

export interface ConcatInfo {
  ref: number;
  total: number;
  seq: number;
  iei: 0x00 | 0x08;
}

export interface ParsedUdh {
  concat?: ConcatInfo;
  /** Octets of the UDH including its length octet; 0 when there is none. */
  headerLength: number;
  body: Buffer;
}

/** Reads the UDH of a short_message sent with UDHI set (3GPP TS 23.040 §9.2.3.24). Never throws. */
export function parseUdh(shortMessage: Buffer): ParsedUdh {
  const udhl = shortMessage[0];
  if (udhl === undefined || udhl === 0 || udhl + 1 > shortMessage.length) {
    return { headerLength: 0, body: shortMessage };
  }
  const headerLength = udhl + 1;
  const result: ParsedUdh = { headerLength, body: shortMessage.subarray(headerLength) };
  let i = 1;
  while (i + 1 < headerLength) {
    const iei = shortMessage[i]!;
    const length = shortMessage[i + 1]!;
    const start = i + 2;
    if (start + length > headerLength) break;
    const ie = shortMessage.subarray(start, start + length);
    let concat: ConcatInfo | undefined;
    if (iei === 0x00 && length === 3) {
      concat = { ref: ie[0]!, total: ie[1]!, seq: ie[2]!, iei: 0x00 };
    } else if (iei === 0x08 && length === 4) {
      concat = { ref: (ie[0]! << 8) | ie[1]!, total: ie[2]!, seq: ie[3]!, iei: 0x08 };
    }
    // §9.2.3.24.1: a sequence number of 0 or above the total means the IE is to be ignored.
    if (concat && concat.total > 0 && concat.seq > 0 && concat.seq <= concat.total && !result.concat) {
      result.concat = concat;
    }
    i = start + length;
  }
  return result;
}

/** One part of a concatenated MO, from the UDH or from the sar_* TLVs (SMPP 3.4 §5.3.2.22-24). */
export interface MoPart {
  /** Whatever identifies the sender (source_addr, plus destination or connection when they matter). */
  source: string;
  ref: number;
  total: number;
  seq: number;
  /** The part's payload without UDH. */
  body: Buffer;
  dataCoding: number;
}

export interface ReassembledMo {
  source: string;
  ref: number;
  total: number;
  /** Decoded after joining the bodies, so an escape or surrogate pair split between parts survives. */
  text: string;
  /** Parts that arrived, in sequence order. */
  received: number[];
  firstSeenAt: number;
}

interface Group {
  source: string;
  ref: number;
  total: number;
  dataCoding: number;
  firstSeenAt: number;
  bodies: Map<number, Buffer>;
}

function finish(group: Group): ReassembledMo {
  const received = [...group.bodies.keys()].sort((a, b) => a - b);
  const body = Buffer.concat(received.map((seq) => group.bodies.get(seq)!));
  return {
    source: group.source,
    ref: group.ref,
    total: group.total,
    text: decodeText(body, group.dataCoding),
    received,
    firstSeenAt: group.firstSeenAt,
  };
}

export interface ReassemblerOptions {
  /** A group not complete this long after its first part is stale. */
  timeoutMs: number;
  /** Groups held at once; past it the oldest is evicted and reported by the next `expire`. Default 1000. */
  maxGroups?: number;
}

/** Collects the parts of concatenated MO SMS keyed by (source, ref, total). In memory only. */
export class Reassembler {
  private readonly groups = new Map<string, Group>();
  private evicted: ReassembledMo[] = [];

  constructor(private readonly options: ReassemblerOptions) {}

  get size(): number {
    return this.groups.size;
  }

  /** Returns the whole message once every part is in; duplicates and out-of-range parts are ignored. */
  add(part: MoPart, now: number): ReassembledMo | undefined {
    if (!Number.isInteger(part.total) || part.total < 1 || part.seq < 1 || part.seq > part.total)
      return undefined;
    const key = JSON.stringify([part.source, part.ref, part.total]);
    let group = this.groups.get(key);
    if (!group) {
      group = {
        source: part.source,
        ref: part.ref,
        total: part.total,
        dataCoding: part.dataCoding,
        firstSeenAt: now,
        bodies: new Map(),
      };
      this.groups.set(key, group);
      this.evictOverflow();
    }
    if (group.bodies.has(part.seq)) return undefined;
    group.bodies.set(part.seq, Buffer.from(part.body));
    if (group.bodies.size < group.total) return undefined;
    this.groups.delete(key);
    return finish(group);
  }

  /** Removes and returns the groups older than the timeout (and any evicted), with what they received. */
  expire(now: number): ReassembledMo[] {
    const stale = this.evicted;
    this.evicted = [];
    for (const [key, group] of this.groups) {
      if (now - group.firstSeenAt >= this.options.timeoutMs) {
        this.groups.delete(key);
        stale.push(finish(group));
      }
    }
    return stale;
  }

  private evictOverflow(): void {
    const max = this.options.maxGroups ?? 1000;
    while (this.groups.size > max) {
      const [oldestKey, oldest] = this.groups.entries().next().value!;
      this.groups.delete(oldestKey);
      this.evicted.push(finish(oldest));
    }
  }
}
