import { Duplex, Transform, type TransformCallback } from 'node:stream';

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
 * `limit` bytes (fixed header included) fails the stream before its body is read, so neither aedes nor
 * mqtt-packet (which has no size limit and buffers a whole packet) holds more than a socket read of it.
 */
class PacketSizeScanner extends Transform {
  /** 0: expecting a fixed header byte; 1..4: reading Remaining Length byte n */
  private state = 0;
  private length = 0;
  private multiplier = 1;
  /** body bytes of the current packet still to pass */
  private left = 0;

  constructor(private readonly limit: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
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
        if (this.state === 4) {
          callback(new PacketRefusedError('malformed Remaining Length [MQTT-2.2.3]'));
          return;
        }
        this.state++;
        continue;
      }
      const size = 1 + this.state + this.length;
      if (size > this.limit) {
        callback(
          new PacketRefusedError(
            `MQTT packet of ${size} bytes is over the limit of ${this.limit} bytes (mqtt.max_packet_size)`,
          ),
        );
        return;
      }
      this.state = 0;
      this.left = this.length;
    }
    callback(null, chunk);
  }
}

/**
 * The connection as aedes should see it: what the client sends passes the size check, what aedes writes goes
 * straight to `conn`. `onRefused` runs once when a packet is refused; the connection is then destroyed.
 */
export function guardPacketSize(
  conn: Duplex,
  limit: number,
  onRefused: (err: PacketRefusedError) => void,
): Duplex {
  const scanner = new PacketSizeScanner(limit);
  scanner.once('error', (err) => {
    if (err instanceof PacketRefusedError) onRefused(err);
    conn.destroy();
    guarded.destroy();
  });
  conn.pipe(scanner);
  const guarded = Duplex.from({ readable: scanner, writable: conn });
  guarded.on('error', () => undefined); // aedes adds its own listener; a late error must not be uncaught
  return guarded;
}
