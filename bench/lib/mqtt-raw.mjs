// A minimal MQTT 3.1.1 client on raw sockets. The load generators use it instead of mqtt.js so that one
// process can drive a thousand connections without becoming the bottleneck it would be with a full client.
import { connect as netConnect } from 'node:net';

function varint(n) {
  const out = [];
  do {
    let byte = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s) {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(first, body) {
  return Buffer.concat([Buffer.from([first]), varint(body.length), body]);
}

/** MQTT 3.1.1 §3.1 CONNECT, clean session. */
export function connectPacket({ clientId, username, password, keepalive = 0 }) {
  let flags = 0x02;
  const payload = [str(clientId)];
  if (username !== undefined) {
    flags |= 0x80;
    payload.push(str(username));
  }
  if (password !== undefined) {
    flags |= 0x40;
    payload.push(str(password));
  }
  const ka = Buffer.alloc(2);
  ka.writeUInt16BE(keepalive);
  return packet(0x10, Buffer.concat([str('MQTT'), Buffer.from([4, flags]), ka, ...payload]));
}

/** PUBLISH; for QoS 1 the packet id sits at `idOffset` so a template can be copied and stamped. */
export function publishPacket(topic, payload, qos = 0, packetId = 1) {
  const parts = [str(topic)];
  if (qos > 0) {
    const id = Buffer.alloc(2);
    id.writeUInt16BE(packetId);
    parts.push(id);
  }
  parts.push(Buffer.isBuffer(payload) ? payload : Buffer.from(payload));
  const buf = packet(0x30 | (qos << 1), Buffer.concat(parts));
  const headerLen = buf.length - Buffer.concat(parts).length;
  return { buf, idOffset: headerLen + 2 + Buffer.byteLength(topic) };
}

export function subscribePacket(filter, qos = 1, packetId = 1) {
  const id = Buffer.alloc(2);
  id.writeUInt16BE(packetId);
  return packet(0x82, Buffer.concat([id, str(filter), Buffer.from([qos])]));
}

export function pubackPacket(id) {
  return Buffer.from([0x40, 0x02, id >> 8, id & 0xff]);
}

/** Splits a byte stream into MQTT packets: calls onPacket(type, flags, body). */
export function packetReader(onPacket) {
  let pending = null;
  return (chunk) => {
    let buf = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = null;
    let pos = 0;
    while (pos < buf.length) {
      const start = pos;
      if (buf.length - pos < 2) break;
      let len = 0;
      let mult = 1;
      let i = pos + 1;
      let complete = false;
      while (i < buf.length) {
        const byte = buf[i++];
        len += (byte & 0x7f) * mult;
        mult *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + len > buf.length) {
        pos = start;
        break;
      }
      onPacket(buf[pos] >> 4, buf[pos] & 0x0f, buf.subarray(i, i + len));
      pos = i + len;
    }
    if (pos < buf.length) pending = Buffer.from(buf.subarray(pos));
    buf = null;
  };
}

/** Opens a socket, sends CONNECT, resolves on CONNACK 0 with { socket, setHandler }. */
export function rawConnect(port, options) {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ port, host: '127.0.0.1', noDelay: true });
    let handler = null;
    let connected = false;
    const read = packetReader((type, flags, body) => {
      if (!connected) {
        if (type === 2 && body[1] === 0) {
          connected = true;
          resolve({ socket, setHandler: (h) => (handler = h) });
        } else {
          reject(new Error(`CONNACK refused: ${body[1]}`));
          socket.destroy();
        }
        return;
      }
      handler?.(type, flags, body);
    });
    socket.on('data', read);
    socket.once('error', (err) => (connected ? undefined : reject(err)));
    socket.on('error', () => undefined);
    socket.write(connectPacket(options));
  });
}

/** Topic and payload of a PUBLISH body; packet id when QoS > 0. */
export function readPublish(flags, body) {
  const topicLen = body.readUInt16BE(0);
  const topic = body.toString('utf8', 2, 2 + topicLen);
  let pos = 2 + topicLen;
  const qos = (flags >> 1) & 0x03;
  let id = 0;
  if (qos > 0) {
    id = body.readUInt16BE(pos);
    pos += 2;
  }
  return { topic, qos, id, payload: body.subarray(pos) };
}
