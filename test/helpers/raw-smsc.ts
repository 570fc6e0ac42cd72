import { randomUUID } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import {
  BodyWriter,
  CommandId,
  encodePdu,
  PduFramer,
  type RawPdu,
  RESP,
  readBind,
  readShortMessage,
  Status,
  Tag,
  writeShortMessage,
} from './raw-smsc-pdu.js';
import {
  formatId,
  type IdScheme,
  type ReceiptIdForm,
  type ReceiptStat,
  type ReceiptStyle,
  receiptContent,
} from './raw-smsc-receipt.js';

export type { IdScheme, ReceiptIdForm, ReceiptStat, ReceiptStyle } from './raw-smsc-receipt.js';

/**
 * A small SMSC on raw `net` sockets for tests: an independent peer for our SmppClient (the built-in simulator
 * shares the `smpp` package with the client, so both could agree on a mistake). It imports neither `smpp`
 * nor src/smpp; every PDU is encoded by hand in `raw-smsc-pdu.ts`.
 */

export interface RawSmscOptions {
  /** When set, a bind with another system_id gets ESME_RINVSYSID. Default: any. */
  systemId?: string;
  /** When set, a bind with another password gets ESME_RINVPASWD. Default: any. */
  password?: string;
  /** Default `decimal` (1, 2, 3 ...). */
  idScheme?: IdScheme;
  /** First `n`. Default 1. */
  firstId?: number;
  /** Default `same`. */
  receiptId?: ReceiptIdForm;
  /**
   * When receipts go out after a submit asking for one (registered_delivery): `immediate`, `random` (0 to
   * `receiptMaxDelayMs`, so out of order), `held` (until `releaseReceipts`), `none`. Default `immediate`.
   */
  receipts?: 'immediate' | 'random' | 'held' | 'none';
  /** Default 50. */
  receiptMaxDelayMs?: number;
  /** Default `standard`. */
  receiptStyle?: ReceiptStyle;
  /** State reported for a submit. Default `DELIVRD`. */
  stat?: (submit: RawSubmit) => ReceiptStat;
  /** Send receipts with UDHI set and this UDH before the text (without its UDHL octet). Default none. */
  receiptUdh?: Buffer;
  /** command_status for a submit_sm (e.g. 0x58 to throttle); 0 gives it a message id. Default 0. */
  submitStatus?: (submit: Omit<RawSubmit, 'messageId' | 'n'>) => number;
  /** Largest PDU accepted; a bigger command_length closes the connection. Default 65536. */
  maxPduLength?: number;
  /** How long a deliver_sm waits for its deliver_sm_resp. Default 5000. */
  deliverTimeoutMs?: number;
}

export interface RawBind {
  command: 'bind_transmitter' | 'bind_receiver' | 'bind_transceiver';
  systemId: string;
  password: string;
  systemType: string;
  interfaceVersion: number;
  addrTon: number;
  addrNpi: number;
  addressRange: string;
  commandStatus: number;
}

export interface RawSubmit {
  /** the counter value the id was made from (0 for uuid) */
  n: number;
  /** as sent in submit_sm_resp; '' when the submit was refused */
  messageId: string;
  commandStatus: number;
  sourceAddr: string;
  destinationAddr: string;
  esmClass: number;
  dataCoding: number;
  registeredDelivery: number;
  shortMessage: Buffer;
  messagePayload: Buffer | undefined;
}

export interface RawReceipt {
  /** the id quoted in the receipt (text and receipted_message_id) */
  messageId: string;
  submit: RawSubmit;
  stat: ReceiptStat;
  shortMessage: Buffer;
  sequenceNumber: number;
  /** the deliver_sm_resp command_status; undefined until it comes */
  respStatus: number | undefined;
}

type Role = 'transmitter' | 'receiver' | 'transceiver';

interface Peer {
  socket: Socket;
  role: Role | undefined;
  nextSequence: number;
  waiting: Map<
    number,
    { resolve: (status: number) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }
  >;
}

const BIND_COMMANDS: Record<number, Role> = {
  [CommandId.bind_transmitter]: 'transmitter',
  [CommandId.bind_receiver]: 'receiver',
  [CommandId.bind_transceiver]: 'transceiver',
};

export class RawSmsc {
  readonly binds: RawBind[] = [];
  readonly submits: RawSubmit[] = [];
  readonly receipts: RawReceipt[] = [];
  /** every request PDU an ESME sent, by command_id */
  readonly requests: Array<{ commandId: number; sequenceNumber: number }> = [];
  private readonly peers = new Set<Peer>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly held: Array<{ submit: RawSubmit; stat: ReceiptStat }> = [];
  private server: Server | undefined;
  private counter: number;

  constructor(private readonly options: RawSmscOptions = {}) {
    this.counter = options.firstId ?? 1;
  }

  /** The next message id is made from `n` (as when other clients of the SMSC took the ids in between). */
  jumpTo(n: number): void {
    this.counter = n;
  }

  /** Listens on 127.0.0.1, port 0. */
  start(): Promise<{ port: number }> {
    const server = createServer((socket) => this.onSocket(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        resolve({ port: typeof address === 'object' && address ? address.port : 0 });
      });
    });
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const peer of this.peers) peer.socket.destroy();
    const server = this.server;
    this.server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Sessions bound now, by role. */
  get bound(): Role[] {
    return [...this.peers].flatMap((p) => (p.role ? [p.role] : []));
  }

  /** Sends the held receipts in the given order. */
  releaseReceipts(order: 'fifo' | 'reverse' = 'fifo'): void {
    const batch = this.held.splice(0);
    if (order === 'reverse') batch.reverse();
    for (const { submit, stat } of batch) void this.sendReceipt(submit, stat).catch(() => undefined);
  }

  /**
   * Sends a receipt for a recorded submit as a deliver_sm on a receiver or transceiver session; resolves with
   * the deliver_sm_resp command_status, rejects when no session can take it or none answers in time.
   */
  sendReceipt(
    submit: RawSubmit,
    stat: ReceiptStat = this.options.stat?.(submit) ?? 'DELIVRD',
  ): Promise<number> {
    const peer = [...this.peers].find((p) => p.role === 'receiver' || p.role === 'transceiver');
    if (!peer) return Promise.reject(new Error('no session bound to receive a receipt'));
    const form = this.options.receiptId ?? 'same';
    const messageId = form === 'same' || submit.n === 0 ? submit.messageId : formatId(submit.n, form);
    const { esmClass, text, tlvs } = receiptContent({
      messageId,
      stat,
      style: this.options.receiptStyle ?? 'standard',
      quote: submit.shortMessage,
      udh: this.options.receiptUdh,
    });
    const body = writeShortMessage({
      sourceAddr: submit.destinationAddr,
      destinationAddr: submit.sourceAddr,
      esmClass,
      shortMessage: text,
      tlvs,
    });
    const sequenceNumber = peer.nextSequence++;
    const record: RawReceipt = {
      messageId,
      submit,
      stat,
      shortMessage: text,
      sequenceNumber,
      respStatus: undefined,
    };
    this.receipts.push(record);
    return this.request(peer, CommandId.deliver_sm, sequenceNumber, body).then((status) => {
      record.respStatus = status;
      return status;
    });
  }

  private request(peer: Peer, commandId: number, sequenceNumber: number, body: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        peer.waiting.delete(sequenceNumber);
        reject(new Error(`no response to PDU ${sequenceNumber}`));
      }, this.options.deliverTimeoutMs ?? 5000);
      peer.waiting.set(sequenceNumber, { resolve, reject, timer });
      peer.socket.write(encodePdu({ commandId, commandStatus: 0, sequenceNumber, body }));
    });
  }

  private onSocket(socket: Socket): void {
    const peer: Peer = { socket, role: undefined, nextSequence: 1, waiting: new Map() };
    this.peers.add(peer);
    const framer = new PduFramer(this.options.maxPduLength ?? 65_536);
    socket.on('data', (chunk) => {
      try {
        for (const pdu of framer.push(chunk)) this.onPdu(peer, pdu);
      } catch {
        // SMPP 3.4 §4.3 generic_nack, then drop a peer whose framing is lost
        this.send(peer, CommandId.generic_nack, Status.ESME_RINVCMDLEN, 0);
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.peers.delete(peer);
      for (const w of peer.waiting.values()) {
        clearTimeout(w.timer);
        w.reject(new Error('connection closed'));
      }
    });
  }

  private send(
    peer: Peer,
    commandId: number,
    commandStatus: number,
    sequenceNumber: number,
    body: Buffer = Buffer.alloc(0),
  ): void {
    if (!peer.socket.destroyed)
      peer.socket.write(encodePdu({ commandId, commandStatus, sequenceNumber, body }));
  }

  private onPdu(peer: Peer, pdu: RawPdu): void {
    if ((pdu.commandId & RESP) !== 0) {
      const w = peer.waiting.get(pdu.sequenceNumber);
      if (!w) return;
      peer.waiting.delete(pdu.sequenceNumber);
      clearTimeout(w.timer);
      w.resolve(pdu.commandStatus);
      return;
    }
    this.requests.push({ commandId: pdu.commandId, sequenceNumber: pdu.sequenceNumber });
    const role = BIND_COMMANDS[pdu.commandId];
    if (role) {
      this.onBind(peer, pdu, role);
      return;
    }
    switch (pdu.commandId) {
      case CommandId.enquire_link: // SMPP 3.4 §4.11
        this.send(peer, CommandId.enquire_link | RESP, 0, pdu.sequenceNumber);
        break;
      case CommandId.unbind: // SMPP 3.4 §4.2: answer, then close
        peer.role = undefined;
        this.send(peer, CommandId.unbind | RESP, 0, pdu.sequenceNumber);
        peer.socket.end();
        break;
      case CommandId.submit_sm:
        this.onSubmit(peer, pdu);
        break;
      default: // SMPP 3.4 §4.3 generic_nack
        this.send(peer, CommandId.generic_nack, Status.ESME_RINVCMDID, pdu.sequenceNumber);
    }
  }

  private onBind(peer: Peer, pdu: RawPdu, role: Role): void {
    const bind = readBind(pdu.body);
    const o = this.options;
    const status =
      peer.role !== undefined
        ? Status.ESME_RALYBND
        : o.systemId !== undefined && bind.systemId !== o.systemId
          ? Status.ESME_RINVSYSID
          : o.password !== undefined && bind.password !== o.password
            ? Status.ESME_RINVPASWD
            : Status.ESME_ROK;
    this.binds.push({ command: `bind_${role}`, ...bind, commandStatus: status });
    if (status === Status.ESME_ROK) peer.role = role;
    const body = new BodyWriter().cstring('RAWSMSC').build();
    this.send(peer, pdu.commandId | RESP, status, pdu.sequenceNumber, status === 0 ? body : Buffer.alloc(0));
  }

  private onSubmit(peer: Peer, pdu: RawPdu): void {
    if (peer.role !== 'transmitter' && peer.role !== 'transceiver') {
      this.send(peer, CommandId.submit_sm | RESP, Status.ESME_RINVBNDSTS, pdu.sequenceNumber);
      return;
    }
    let m: ReturnType<typeof readShortMessage>;
    try {
      m = readShortMessage(pdu.body);
    } catch {
      this.send(peer, CommandId.submit_sm | RESP, Status.ESME_RINVMSGLEN, pdu.sequenceNumber);
      return;
    }
    const fields = {
      commandStatus: 0,
      sourceAddr: m.sourceAddr,
      destinationAddr: m.destinationAddr,
      esmClass: m.esmClass,
      dataCoding: m.dataCoding,
      registeredDelivery: m.registeredDelivery,
      shortMessage: m.shortMessage,
      messagePayload: m.tlvs.get(Tag.message_payload),
    };
    const status = this.options.submitStatus?.(fields) ?? 0;
    const scheme = this.options.idScheme ?? 'decimal';
    const n = status !== 0 || scheme === 'uuid' ? 0 : this.counter++;
    const messageId = status !== 0 ? '' : scheme === 'uuid' ? randomUUID() : formatId(n, scheme);
    const submit: RawSubmit = { ...fields, commandStatus: status, n, messageId };
    this.submits.push(submit);
    const body = status === 0 ? new BodyWriter().cstring(messageId).build() : Buffer.alloc(0);
    this.send(peer, CommandId.submit_sm | RESP, status, pdu.sequenceNumber, body);
    // SMPP 3.4 §5.2.17 registered_delivery bits 1-0: 01 a receipt always, 10 on failure only
    const wanted = submit.registeredDelivery & 0x03;
    const stat = this.options.stat?.(submit) ?? 'DELIVRD';
    if (status === 0 && (wanted === 1 || (wanted === 2 && stat !== 'DELIVRD')))
      this.scheduleReceipt(submit, stat);
  }

  private scheduleReceipt(submit: RawSubmit, stat: ReceiptStat): void {
    const mode = this.options.receipts ?? 'immediate';
    if (mode === 'none') return;
    if (mode === 'held') {
      this.held.push({ submit, stat });
      return;
    }
    const delay = mode === 'random' ? Math.random() * (this.options.receiptMaxDelayMs ?? 50) : 0;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.sendReceipt(submit, stat).catch(() => undefined);
    }, delay);
    this.timers.add(timer);
  }
}
