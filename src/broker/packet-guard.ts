import type { Duplex } from 'node:stream';

/** Why `guardPacketSize` cut a connection: a packet over the limit, or a malformed length. */
export class PacketRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PacketRefusedError';
  }
}

/**
 * Reads MQTT framing as bytes pass, without buffering them: [MQTT-2.2.3] Remaining Length is a variable byte
 * integer of at most four bytes after the first byte of the fixed header. A packet whose header claims more than
 * `limit` bytes (fixed header included) is refused before its body is read, so neither aedes nor mqtt-packet
 * (which has no size limit and buffers a whole packet) holds more than a socket read of it.
 */
export class PacketSizeScanner {
  /** 0: expecting a fixed header byte; 1..4: reading Remaining Length byte n */
  private state = 0;
  private length = 0;
  private multiplier = 1;
  /** body bytes of the current packet still to pass */
  private left = 0;

  constructor(private readonly limit: number) {}

  /** Scans the next bytes of the connection; the error when they make a packet over the limit or malformed. */
  scan(chunk: Uint8Array): PacketRefusedError | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.left > 0) {
        const skip = Math.min(this.left, chunk.length - i);
        this.left -= skip;
        i += skip;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.state === 0) {
        this.state = 1;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (byte & 0x80) {
        // [MQTT-2.2.3] at most four bytes; a fifth makes a malformed packet
        if (this.state === 4) return new PacketRefusedError('malformed Remaining Length [MQTT-2.2.3]');
        this.state++;
        continue;
      }
      const size = 1 + this.state + this.length;
      if (size > this.limit) {
        return new PacketRefusedError(
          `MQTT packet of ${size} bytes is over the limit of ${this.limit} bytes (mqtt.max_packet_size)`,
        );
      }
      this.state = 0;
      this.left = this.length;
    }
    return undefined;
  }
}

/** A connection's scanner and what its guarded `read` needs, kept on the connection itself. */
class ReadGuard extends PacketSizeScanner {
  refused = false;

  constructor(
    limit: number,
    readonly read: Duplex['read'],
    readonly onRefused: (err: PacketRefusedError, address: string | undefined) => void,
    readonly address: string | undefined,
  ) {
    super(limit);
  }
}

const GUARD = Symbol('packet size guard');
type GuardedDuplex = Duplex & { [GUARD]: ReadGuard };

/** One function for every connection (`this` is the connection): no closure and context per connection. */
function guardedRead(this: GuardedDuplex, size?: number): unknown {
  const guard = this[GUARD];
  if (guard.refused) return null;
  const chunk: unknown = guard.read.call(this, size);
  if (chunk === null || !(chunk instanceof Uint8Array)) return chunk;
  const err = guard.scan(chunk);
  if (err === undefined) return chunk;
  guard.refused = true;
  guard.onRefused(err, guard.address);
  this.destroy();
  return null;
}

/**
 * Puts the size check in front of whoever reads `conn`: aedes reads with `conn.read()` on 'readable' (and a
 * flowing stream is read through `read()` too), so every byte it parses passes `scan` first. Wrapping the
 * instance's `read` costs one object per connection (the scanner, which holds the original `read`); the
 * Transform + `Duplex.from` it replaces added four stream objects per connection and two stream hops per chunk,
 * and a closure per connection cost ~200 bytes more (bench/: ingest and RSS, BENCHMARKS.md). `onRefused` runs
 * once, with `address`, when a packet is refused; the connection is then destroyed and reads as ended.
 */
export function guardPacketSize(
  conn: Duplex,
  limit: number,
  onRefused: (err: PacketRefusedError, address: string | undefined) => void,
  address?: string,
): void {
  (conn as GuardedDuplex)[GUARD] = new ReadGuard(limit, conn.read, onRefused, address);
  conn.read = guardedRead as Duplex['read'];
}

/** The address given to `guardPacketSize` for `conn` (what the bridge logs about a client). */
export function guardedAddress(conn: Duplex): string | undefined {
  return (conn as Partial<GuardedDuplex>)[GUARD]?.address;
}
