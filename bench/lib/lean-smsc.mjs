// A lean SMSC for the delivery benchmarks' driver, hand-encoded from SMPP 3.4 (no `smpp` package, none of our
// code): it answers bind_transceiver/transmitter, submit_sm (message ids 1, 2, 3, ...), enquire_link and unbind,
// and emits 'submit' with `{ text, to, messageId }` when a submit_sm's bytes have been read. What it costs
// per SMS is a small part of what the simulator on the `smpp` package costs, so the driver's own event loop
// (which also publishes and timestamps) stalls less under it; `bench/latency-parts.mjs` compares the two.
import { EventEmitter } from 'node:events';
import { createServer } from 'node:net';

const BIND_RX = 0x00000001;
const BIND_TX = 0x00000002;
const BIND_TRX = 0x00000009;
const SUBMIT_SM = 0x00000004;
const UNBIND = 0x00000006;
const ENQUIRE_LINK = 0x00000015;
const RESP = 0x80000000;
const GENERIC_NACK = 0x80000000;
const ESME_RINVCMDID = 0x00000003;

/** A PDU with a header and `body`. */
function pdu(commandId, status, sequence, body = Buffer.alloc(0)) {
  const b = Buffer.allocUnsafe(16 + body.length);
  b.writeUInt32BE(16 + body.length, 0);
  b.writeUInt32BE(commandId >>> 0, 4);
  b.writeUInt32BE(status, 8);
  b.writeUInt32BE(sequence, 12);
  body.copy(b, 16);
  return b;
}

/** Offset after the C-octet string at `at`. */
const skipCString = (b, at) => b.indexOf(0, at) + 1;

export class LeanSmsc extends EventEmitter {
  constructor() {
    super();
    this.sockets = new Set();
    this.bound = 0;
    this.nextId = 1;
    this.server = createServer((socket) => this.serve(socket));
  }

  start({ port = 0 } = {}) {
    return new Promise((resolve) =>
      this.server.listen(port, '127.0.0.1', () => resolve({ port: this.server.address().port })),
    );
  }

  boundSessions() {
    return Array.from({ length: this.bound });
  }

  stop() {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  serve(socket) {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let buffered = Buffer.alloc(0);
    let isBound = false;
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (isBound) this.bound--;
    });
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const out = [];
      let at = 0;
      while (buffered.length - at >= 16) {
        const length = buffered.readUInt32BE(at);
        if (length < 16 || length > 65_536) {
          socket.destroy();
          return;
        }
        if (buffered.length - at < length) break;
        const commandId = buffered.readUInt32BE(at + 4);
        const sequence = buffered.readUInt32BE(at + 12);
        const body = buffered.subarray(at + 16, at + length);
        at += length;
        if (commandId === SUBMIT_SM) {
          const messageId = String(this.nextId++);
          out.push(pdu(SUBMIT_SM | RESP, 0, sequence, Buffer.from(`${messageId}\0`, 'latin1')));
          this.emit('submit', { ...readSubmit(body), messageId });
        } else if (commandId === BIND_TRX || commandId === BIND_TX || commandId === BIND_RX) {
          if (!isBound) this.bound++;
          isBound = true;
          out.push(pdu(commandId | RESP, 0, sequence, Buffer.from('LEAN\0', 'latin1')));
        } else if (commandId === ENQUIRE_LINK || commandId === UNBIND) {
          out.push(pdu(commandId | RESP, 0, sequence));
        } else if ((commandId & RESP) === 0) {
          out.push(pdu(GENERIC_NACK, ESME_RINVCMDID, sequence));
        }
      }
      buffered = buffered.subarray(at);
      if (out.length > 0) socket.write(out.length === 1 ? out[0] : Buffer.concat(out));
    });
  }
}

/** The destination and the text (single-byte data codings) of a submit_sm body. */
export function readSubmit(body) {
  let at = skipCString(body, 0); // service_type
  at = skipCString(body, at + 2); // source ton, npi, source_addr
  const destAt = at + 2; // destination ton, npi
  at = skipCString(body, destAt);
  const to = body.toString('latin1', destAt, at - 1);
  at += 3; // esm_class, protocol_id, priority_flag
  at = skipCString(body, at); // schedule_delivery_time
  at = skipCString(body, at); // validity_period
  at += 4; // registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id
  const length = body[at];
  return { to, text: body.toString('latin1', at + 1, at + 1 + length) };
}
