import { EventEmitter } from 'node:events';
import smpp from 'smpp';
import type { Logger } from '../logger.js';
import { encodeText } from '../smpp/encoding.js';
import {
  displayAddress,
  encodingName,
  formatMessageId,
  type IdBase,
  RECEIPT_STATES,
  type ReceiptStat,
  readSubmitSm,
  receiptText,
  toSmppAddress,
} from './smsc-format.js';
import type { BindRecord, InjectMo, ReceivedSms, SmscSimulatorOptions } from './smsc-types.js';

export type { IdBase, ReceiptStat } from './smsc-format.js';
export type { BindRecord, InjectMo, ReceivedSms, SmscSimulatorOptions } from './smsc-types.js';

type Role = 'transceiver' | 'transmitter' | 'receiver';

interface Peer {
  session: smpp.Session;
  role: Role | undefined;
  systemId: string;
  /** counts from 1 per simulator */
  number: number;
  pending: Map<number, { resolve: (pdu: smpp.AnyPdu) => void; reject: (err: Error) => void }>;
}

type SimulatorEvents = {
  submit: [sms: ReceivedSms];
  bind: [bind: BindRecord];
  /** every PDU an ESME sent, answered or not */
  pdu: [pdu: smpp.AnyPdu, peerSystemId: string];
};

/** A small SMSC on `smpp.createServer` for tests and the demo. Errors are logged, never thrown. */
export class SmscSimulator extends EventEmitter<SimulatorEvents> {
  readonly received: ReceivedSms[] = [];
  readonly binds: BindRecord[] = [];
  private server: smpp.Server | undefined;
  private readonly peers = new Set<Peer>();
  private readonly receiptTimers = new Set<NodeJS.Timeout>();
  private readonly byMessageId = new Map<string, { sms: ReceivedSms; n: number }>();
  private behaviour: 'normal' | 'blackhole' = 'normal';
  private counter = 1_000_000_000;
  private recentSubmits: number[] = [];
  private sessions = 0;
  private swallow = 0;
  /** submit_sm answered ESME_RTHROTTLED because of the `tps` limit */
  throttledAnswers = 0;
  private readonly log: Logger;

  constructor(private readonly options: SmscSimulatorOptions) {
    super();
    this.log = options.logger.child({ module: 'smsc-sim' });
  }

  /** Listens (port 0: any free port). Starting again after stop() on the same port works. */
  start(listen: { host?: string; port?: number } = {}): Promise<{ port: number }> {
    if (this.server) return Promise.reject(new Error('SMSC simulator already started'));
    const tls = this.options.tls;
    // smpp.createServer serves TLS (ssmpp://) when given a key and certificate
    const server = smpp.createServer(tls ? { key: tls.key, cert: tls.cert } : {}, (session) => {
      // Answer at once: with Nagle's algorithm a submit_sm_resp written while the previous one is unacknowledged
      // waits for the client's next submit_sm to carry that ACK, so every answer came one submit interval late.
      session.socket.setNoDelay(true);
      this.onSession(session);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err: Error) => {
        this.server = undefined;
        reject(err);
      });
      server.listen(listen.port ?? 0, listen.host ?? '127.0.0.1', () => {
        server.removeAllListeners('error');
        server.on('error', (err: Error) => this.log.error({ err }, 'SMSC simulator server error'));
        const address = server.address();
        const port = typeof address === 'object' && address ? address.port : 0;
        this.log.info({ port }, `SMSC simulator listening on ${listen.host ?? '127.0.0.1'}:${port}`);
        resolve({ port });
      });
    });
  }

  async stop(): Promise<void> {
    for (const timer of this.receiptTimers) clearTimeout(timer);
    this.receiptTimers.clear();
    const server = this.server;
    this.server = undefined;
    this.dropConnections();
    if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** `blackhole`: answer nothing at all, like a half-open SMSC. */
  setBehaviour(behaviour: 'normal' | 'blackhole'): void {
    this.behaviour = behaviour;
    this.log.info(`SMSC simulator behaviour: ${behaviour}`);
  }

  /**
   * The next `count` submit_sm are taken (recorded with `answered: false`) but never answered, like an SMSC
   * that lost its submit_sm_resp; the session stays up and answers everything else.
   */
  swallowSubmits(count: number): void {
    this.swallow = count;
  }

  dropConnections(): void {
    for (const peer of this.peers) peer.session.destroy();
  }

  /** Bound sessions, by role. */
  boundSessions(): Array<{ systemId: string; role: Role }> {
    return [...this.peers].flatMap((p) => (p.role ? [{ systemId: p.systemId, role: p.role }] : []));
  }

  /** Writes raw bytes to every bound session (garbage-PDU tests). */
  injectRaw(bytes: Buffer): void {
    for (const peer of this.peers) if (peer.role) peer.session.socket.write(bytes);
  }

  /** Sends a mobile-originated deliver_sm; resolves with the command_status of the ESME's deliver_sm_resp. */
  injectMo(mo: InjectMo): Promise<number> {
    const encoded = mo.shortMessage
      ? { dataCoding: mo.dataCoding ?? 0, bytes: mo.shortMessage }
      : encodeText(mo.text ?? '');
    const from = toSmppAddress(mo.from);
    const to = toSmppAddress(mo.to);
    // SMPP 3.4 §5.3.2.32: too long for short_message goes whole into message_payload.
    const long = encoded.bytes.length > 254;
    return this.deliver(mo.systemId, {
      source_addr_ton: from.ton,
      source_addr_npi: from.ton === 1 ? 1 : 0,
      source_addr: from.addr,
      dest_addr_ton: to.ton,
      dest_addr_npi: to.ton === 1 ? 1 : 0,
      destination_addr: to.addr,
      esm_class: mo.esmClass ?? 0,
      data_coding: mo.dataCoding ?? encoded.dataCoding,
      short_message: long ? Buffer.alloc(0) : encoded.bytes,
      ...(long ? { message_payload: encoded.bytes } : {}),
      ...mo.tlvs,
    });
  }

  /** Sends a delivery receipt (esm_class 0x04) for a message id this simulator gave out (or any id). */
  sendReceipt(
    messageId: string,
    stat: ReceiptStat = 'DELIVRD',
    opts: { err?: string; idBase?: IdBase; tlvs?: boolean } = {},
  ): Promise<number> {
    const known = this.byMessageId.get(messageId);
    const base = opts.idBase ?? this.options.receiptIdBase ?? this.options.messageIdBase ?? 'hex';
    const id = known ? formatMessageId(known.n, base) : messageId;
    const sms = known?.sms;
    const to = toSmppAddress(sms?.from ?? '');
    const from = toSmppAddress(sms?.to ?? '');
    const text = receiptText({
      id,
      stat,
      err: opts.err ?? (stat === 'DELIVRD' ? '000' : '001'),
      submitted: sms?.at ?? new Date(),
      done: new Date(),
      text: sms?.text ?? '',
    });
    const options: smpp.PduOptions<'deliver_sm'> = {
      source_addr_ton: from.ton,
      source_addr: from.addr,
      dest_addr_ton: to.ton,
      destination_addr: to.addr,
      esm_class: 0x04, // SMPP 3.4 §5.2.12 SMSC delivery receipt
      data_coding: 0,
      short_message: encodeText(text).bytes, // receiptText keeps to the GSM alphabet
    };
    if (opts.tlvs !== false) {
      options.receipted_message_id = id; // SMPP 3.4 §5.3.2.12
      options.message_state = RECEIPT_STATES[stat]; // SMPP 3.4 §5.3.2.35
    }
    return this.deliver(sms?.connectionSystemId, options);
  }

  /** SMSC-initiated enquire_link to every bound session; resolves with their command_status. */
  enquireLink(): Promise<number[]> {
    return this.requestAll('enquire_link');
  }

  /** SMSC-initiated unbind of every bound session; resolves with the unbind_resp statuses. */
  unbind(): Promise<number[]> {
    return this.requestAll('unbind');
  }

  private requestAll(command: 'enquire_link' | 'unbind'): Promise<number[]> {
    const peers = [...this.peers].filter((p) => p.role);
    const pdu = () => (command === 'unbind' ? new smpp.PDU('unbind') : new smpp.PDU('enquire_link'));
    return Promise.all(peers.map((p) => this.request(p, pdu()).then((r) => r.command_status)));
  }

  private deliver(systemId: string | undefined, options: smpp.PduOptions<'deliver_sm'>): Promise<number> {
    const receivers = [...this.peers].filter((p) => p.role === 'receiver' || p.role === 'transceiver');
    const peer = receivers.find((p) => p.systemId === systemId) ?? receivers[0];
    if (!peer) return Promise.reject(new Error('SMSC simulator: no ESME bound as receiver or transceiver'));
    return this.request(peer, new smpp.PDU('deliver_sm', options)).then((r) => r.command_status);
  }

  private request(peer: Peer, pdu: smpp.AnyPdu): Promise<smpp.AnyPdu> {
    return new Promise((resolve, reject) => {
      if (!peer.session.send(pdu)) {
        reject(new Error('SMSC simulator: session not writable'));
        return;
      }
      peer.pending.set(pdu.sequence_number, { resolve, reject });
    });
  }

  private onSession(session: smpp.Session): void {
    const peer: Peer = {
      session,
      role: undefined,
      systemId: '',
      number: ++this.sessions,
      pending: new Map(),
    };
    this.peers.add(peer);
    session.on('error', (err) => {
      this.log.warn({ err: err.message }, 'SMSC simulator: session error; dropping it');
      session.destroy();
    });
    session.on('close', () => {
      this.peers.delete(peer);
      for (const { reject } of peer.pending.values()) reject(new Error('SMSC simulator: session closed'));
      peer.pending.clear();
    });
    session.on('pdu', (pdu) => {
      try {
        this.onPdu(peer, pdu);
      } catch (err) {
        this.log.error({ err }, 'SMSC simulator: failed to handle a PDU');
      }
    });
  }

  private onPdu(peer: Peer, pdu: smpp.AnyPdu): void {
    this.emit('pdu', pdu, peer.systemId);
    if (pdu.isResponse()) {
      const waiter = peer.pending.get(pdu.sequence_number);
      peer.pending.delete(pdu.sequence_number);
      waiter?.resolve(pdu);
      return;
    }
    if (this.behaviour === 'blackhole') return;
    const send = (resp: smpp.AnyPdu) => peer.session.send(resp);
    switch (pdu.command) {
      case 'bind_transceiver':
      case 'bind_transmitter':
      case 'bind_receiver':
        send(this.bind(peer, pdu));
        return;
      case 'enquire_link':
        send(pdu.response());
        return;
      case 'unbind':
        peer.role = undefined;
        send(pdu.response());
        return;
      case 'submit_sm': {
        const status =
          peer.role === 'transmitter' || peer.role === 'transceiver'
            ? this.admit(pdu)
            : smpp.errors.ESME_RINVBNDSTS;
        if (status !== 0) {
          send(pdu.response({ command_status: status }));
          return;
        }
        const answered = this.swallow === 0;
        if (!answered) this.swallow--;
        const sms = this.record(peer, pdu, answered);
        if (!answered) return;
        send(pdu.response({ message_id: sms.messageId }));
        this.emit('submit', sms);
        if (this.options.receipts && (sms.registeredDelivery & 0x03) !== 0)
          this.scheduleReceipt(sms.messageId);
        return;
      }
      default:
        send(
          new smpp.PDU('generic_nack', {
            sequence_number: pdu.sequence_number,
            command_status: smpp.errors.ESME_RINVCMDID,
          }),
        );
    }
  }

  private bind(peer: Peer, pdu: smpp.Pdu<'bind_transceiver' | 'bind_transmitter' | 'bind_receiver'>) {
    const o = this.options;
    const systemId = pdu.system_id ?? '';
    let status = 0;
    if (peer.role) status = smpp.errors.ESME_RALYBND;
    else if (
      (o.systemId !== undefined && o.systemId !== systemId) ||
      (o.password !== undefined && o.password !== pdu.password)
    ) {
      status = smpp.errors.ESME_RBINDFAIL;
    }
    const record: BindRecord = {
      command: pdu.command,
      systemId,
      interfaceVersion: pdu.interface_version ?? 0,
      addrTon: pdu.addr_ton ?? 0,
      addrNpi: pdu.addr_npi ?? 0,
      addressRange: pdu.address_range ?? '',
      commandStatus: status,
      session: peer.number,
      at: new Date(),
    };
    this.binds.push(record);
    this.emit('bind', record);
    this.log.info(
      { system_id: systemId, interface_version: record.interfaceVersion, status },
      `SMSC ${pdu.command} from "${systemId}": ${status === 0 ? 'accepted' : 'refused'}`,
    );
    if (status !== 0) return pdu.response({ command_status: status });
    peer.role = pdu.command.slice('bind_'.length) as Role;
    peer.systemId = systemId;
    return pdu.response({ system_id: 'SIMSMSC' });
  }

  /** 0 to accept, else the command_status to answer with. */
  private admit(pdu: smpp.Pdu<'submit_sm'>): number {
    const addr = pdu.destination_addr ?? '';
    const fail =
      this.options.failDestinations?.[displayAddress(addr, 1)] ?? this.options.failDestinations?.[addr];
    if (fail !== undefined) return fail;
    const tps = this.options.tps;
    if (tps !== undefined) {
      const now = Date.now();
      this.recentSubmits = this.recentSubmits.filter((t) => now - t < 1000);
      if (this.recentSubmits.length >= tps) {
        this.throttledAnswers++;
        return smpp.errors.ESME_RTHROTTLED;
      }
      this.recentSubmits.push(now);
    }
    return 0;
  }

  private record(peer: Peer, pdu: smpp.Pdu<'submit_sm'>, answered: boolean): ReceivedSms {
    const n = ++this.counter;
    const sms = {
      ...readSubmitSm(pdu, peer.systemId, formatMessageId(n, this.options.messageIdBase ?? 'hex')),
      session: peer.number,
      answered,
    };
    this.received.push(sms);
    this.byMessageId.set(sms.messageId, { sms, n });
    this.log.info(
      { message_id: sms.messageId },
      `SMSC received SMS to=${sms.to} enc=${encodingName(sms.dataCoding)} parts=${sms.part.seq}/${sms.part.total} ${JSON.stringify(sms.text)}`,
    );
    return sms;
  }

  private scheduleReceipt(messageId: string): void {
    const timer = setTimeout(() => {
      this.receiptTimers.delete(timer);
      if (this.behaviour === 'blackhole') return;
      this.sendReceipt(messageId).catch((err: unknown) =>
        this.log.warn({ err: String(err), message_id: messageId }, 'SMSC simulator: receipt not delivered'),
      );
    }, this.options.receiptDelayMs ?? 200);
    this.receiptTimers.add(timer);
  }
}
