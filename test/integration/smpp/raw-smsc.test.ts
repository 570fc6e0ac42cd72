import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { lookupKeys, storedKeys } from '../../../src/smpp/message-id.js';
import { readReceipt } from '../../../src/smpp/receipt.js';
import type { InboundPdu, SmppClient } from '../../../src/smpp/session.js';
import { type IdScheme, RawSmsc, type RawSmscOptions, type ReceiptStyle } from '../../helpers/raw-smsc.js';
import { BodyWriter, CommandId, encodePdu, PduFramer, type RawPdu } from '../../helpers/raw-smsc-pdu.js';
import { Cleanup, captureLog, startClient, submitParams, waitBound, waitFor } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

async function startRaw(options: RawSmscOptions = {}): Promise<{ smsc: RawSmsc; port: number }> {
  const smsc = new RawSmsc(options);
  const { port } = await smsc.start();
  cleanup.add(() => smsc.stop());
  return { smsc, port };
}

/** Every deliver_sm the client hands up, answered with `status`. */
function collect(client: SmppClient, status = 0): InboundPdu[] {
  const pdus: InboundPdu[] = [];
  client.on('deliver', (pdu, respond) => {
    pdus.push(pdu);
    respond(status);
  });
  return pdus;
}

describe('SmppClient against an SMSC on raw sockets', () => {
  it('binds as transceiver with interface_version 0x34 and submits; the SMSC records the octets', async () => {
    const { smsc, port } = await startRaw({ systemId: 'bridge', password: 'secret' });
    const client = startClient(cleanup, port);
    const bound = new Promise((resolve) => client.once('bound', resolve));
    await waitBound(client);
    expect(await bound).toEqual({ link: 'transceiver', smscSystemId: 'RAWSMSC' });
    expect(smsc.binds).toEqual([
      expect.objectContaining({
        command: 'bind_transceiver',
        systemId: 'bridge',
        password: 'secret',
        interfaceVersion: 0x34,
        commandStatus: 0,
      }),
    ]);

    const udh = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x02, 0x01]);
    const r1 = await client.submit(submitParams({ shortMessage: Buffer.from('hello') }));
    const r2 = await client.submit(
      submitParams({
        esmClass: 0x40,
        dataCoding: 8,
        shortMessage: Buffer.concat([udh, Buffer.from([0, 0x41])]),
      }),
    );
    expect([r1, r2]).toEqual([
      { commandStatus: 0, messageId: '1' },
      { commandStatus: 0, messageId: '2' },
    ]);
    expect(smsc.submits.map((s) => [s.messageId, s.destinationAddr, s.esmClass, s.dataCoding])).toEqual([
      ['1', '447700900001', 0, 0],
      ['2', '447700900001', 0x40, 8],
    ]);
    expect(smsc.submits[1]!.shortMessage.equals(Buffer.concat([udh, Buffer.from([0, 0x41])]))).toBe(true);
  });

  it('sends message_payload as a TLV the SMSC reads back', async () => {
    const { smsc, port } = await startRaw();
    const client = startClient(cleanup, port);
    await waitBound(client);
    const text = Buffer.from('x'.repeat(400));
    await client.submit(submitParams({ shortMessage: undefined, messagePayload: text }));
    expect(smsc.submits[0]!.shortMessage.length).toBe(0);
    expect(smsc.submits[0]!.messagePayload?.equals(text)).toBe(true);
  });

  it.each<[IdScheme, ReceiptStyle, RegExp]>([
    ['decimal', 'standard', /^\d+$/],
    ['decimal_padded', 'bare_word', /^0{9}\d$/],
    ['hex', 'tlvs', /^[0-9a-f]+$/],
    ['hex_upper', 'tlvs_only', /^[0-9A-F]+$/],
    ['uuid', 'standard', /^[0-9a-f-]{36}$/],
  ])(
    'ids %s, receipts %s: the receipt PDU carries the id submit_sm_resp gave',
    async (idScheme, style, shape) => {
      const { smsc, port } = await startRaw({
        idScheme,
        receiptStyle: style,
        firstId: 9,
        stat: () => 'UNDELIV',
      });
      const client = startClient(cleanup, port);
      const pdus = collect(client);
      await waitBound(client);
      const { messageId } = await client.submit(submitParams({ registeredDelivery: 1 }));
      expect(messageId).toMatch(shape);
      await waitFor(() => smsc.receipts[0]?.respStatus !== undefined, 5000, 'deliver_sm_resp');
      expect(smsc.receipts[0]!.respStatus).toBe(0);
      expect(pdus).toHaveLength(1);
      const pdu = pdus[0]!;
      expect(pdu.esmClass & 0x3c).toBe(0x04);
      expect(pdu.sourceAddr).toBe('447700900001');
      const read = readReceipt(pdu);
      expect(read.id).toBe(messageId);
      expect(read.outcome.state).toBe('failed');
      expect(read.conflicts).toEqual([]);
      if (style === 'tlvs' || style === 'tlvs_only') {
        expect(pdu.receiptedMessageId).toBe(messageId);
        expect(pdu.messageState).toBe(5);
        expect(pdu.networkErrorCode?.toString('hex')).toBe('030001');
      } else {
        expect(pdu.receiptedMessageId).toBeUndefined();
      }
    },
  );

  it('a receipt with UDHI set and a UDH before the text', async () => {
    const { port } = await startRaw({ receiptUdh: Buffer.from([0x00, 0x03, 0x01, 0x01, 0x01]) });
    const client = startClient(cleanup, port);
    const pdus = collect(client);
    await waitBound(client);
    const { messageId } = await client.submit(submitParams({ registeredDelivery: 1 }));
    await waitFor(() => pdus.length === 1, 5000, 'the receipt');
    expect(pdus[0]!.esmClass).toBe(0x44);
    expect(pdus[0]!.shortMessage[0]).toBe(5);
    expect(readReceipt(pdus[0]!)).toMatchObject({ id: messageId, outcome: { state: 'delivered' } });
  });

  it('the receipt quotes the id in another base: found by the reading the format names', async () => {
    const { port } = await startRaw({ idScheme: 'hex_upper', receiptId: 'decimal', firstId: 0x5f878c79 });
    const client = startClient(cleanup, port);
    const pdus = collect(client);
    await waitBound(client);
    const { messageId } = await client.submit(submitParams({ registeredDelivery: 1 }));
    await waitFor(() => pdus.length === 1, 5000, 'the receipt');
    expect(messageId).toBe('5F878C79');
    const id = readReceipt(pdus[0]!).id!;
    expect(id).toBe('1602718841');
    const stored = storedKeys(messageId, 'hex_to_decimal')!;
    expect(lookupKeys(id, 'hex_to_decimal')).toContainEqual({ key: stored.alternate, kind: 'alternate' });
  });

  it('receipts held and released in reverse order arrive in that order', async () => {
    const { smsc, port } = await startRaw({ receipts: 'held' });
    const client = startClient(cleanup, port);
    const pdus = collect(client);
    await waitBound(client);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await client.submit(submitParams({ registeredDelivery: 1 }))).messageId);
    expect(pdus).toHaveLength(0);
    smsc.releaseReceipts('reverse');
    await waitFor(() => pdus.length === 3, 5000, 'three receipts');
    expect(pdus.map((p) => readReceipt(p).id)).toEqual([...ids].reverse());
  });

  it('random delays: every receipt comes, none for a submit that asked for none', async () => {
    const { smsc, port } = await startRaw({ receipts: 'random', receiptMaxDelayMs: 30 });
    const client = startClient(cleanup, port);
    const pdus = collect(client);
    await waitBound(client);
    const ids = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        client.submit(submitParams({ registeredDelivery: i < 8 ? 1 : 0 })).then((r) => r.messageId),
      ),
    );
    await waitFor(() => pdus.length === 8, 5000, 'eight receipts');
    expect(pdus.map((p) => readReceipt(p).id).sort()).toEqual(ids.slice(0, 8).sort());
    expect(smsc.submits).toHaveLength(10);
  });

  it('on failure only (registered_delivery 2): a receipt for UNDELIV, none for DELIVRD', async () => {
    const { port } = await startRaw({
      stat: (s) => (s.shortMessage.toString() === 'bad' ? 'UNDELIV' : 'DELIVRD'),
    });
    const client = startClient(cleanup, port);
    const pdus = collect(client);
    await waitBound(client);
    await client.submit(submitParams({ registeredDelivery: 2, shortMessage: Buffer.from('good') }));
    const bad = await client.submit(
      submitParams({ registeredDelivery: 2, shortMessage: Buffer.from('bad') }),
    );
    await waitFor(() => pdus.length === 1, 5000, 'the receipt');
    expect(readReceipt(pdus[0]!).id).toBe(bad.messageId);
  });

  it('records the deliver_sm_resp status the client answers with', async () => {
    const { smsc, port } = await startRaw();
    const client = startClient(cleanup, port);
    collect(client, 0x08);
    await waitBound(client);
    await client.submit(submitParams({ registeredDelivery: 1 }));
    await waitFor(() => smsc.receipts[0]?.respStatus !== undefined, 5000, 'deliver_sm_resp');
    expect(smsc.receipts[0]!.respStatus).toBe(0x08);
  });

  it('transmitter_receiver: two binds; the receipt comes over the receiver', async () => {
    const { smsc, port } = await startRaw();
    const client = startClient(cleanup, port, { bindMode: 'transmitter_receiver' });
    const pdus = collect(client);
    await waitFor(() => smsc.bound.length === 2, 5000, 'two binds');
    expect(smsc.binds.map((b) => b.command).sort()).toEqual(['bind_receiver', 'bind_transmitter']);
    const { messageId } = await client.submit(submitParams({ registeredDelivery: 1 }));
    await waitFor(() => pdus.length === 1, 5000, 'the receipt');
    expect(readReceipt(pdus[0]!).id).toBe(messageId);
  });

  it('answers enquire_link; the client unbinds on stop', async () => {
    const { smsc, port } = await startRaw();
    const client = startClient(cleanup, port, { enquireLinkIntervalMs: 20 });
    await waitBound(client);
    await waitFor(
      () => smsc.requests.filter((r) => r.commandId === CommandId.enquire_link).length >= 2,
      5000,
      'two enquire_link',
    );
    expect(client.bound).toBe(true);
    await client.stop();
    expect(smsc.requests.some((r) => r.commandId === CommandId.unbind)).toBe(true);
  });

  it('a wrong password is refused with ESME_RINVPASWD and the client does not bind', async () => {
    const log = captureLog();
    const { smsc, port } = await startRaw({ password: 'right' });
    const client = startClient(cleanup, port, { password: 'wrong' }, log);
    await waitFor(() => smsc.binds.length >= 1, 5000, 'a bind attempt');
    await waitFor(() => client.lastError !== undefined, 5000, 'the bind error');
    expect(smsc.binds[0]!.commandStatus).toBe(0x0e);
    expect(client.bound).toBe(false);
  });
});

describe('RawSmsc framing (a raw socket client)', () => {
  async function rawClient(port: number) {
    const socket = connect(port, '127.0.0.1');
    cleanup.add(async () => void socket.destroy());
    const framer = new PduFramer(65_536);
    const got: RawPdu[] = [];
    socket.on('data', (chunk) => got.push(...framer.push(chunk)));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { socket, got, closed };
  }

  const bindBody = new BodyWriter()
    .cstring('esme')
    .cstring('pw')
    .cstring('')
    .u8(0x34)
    .u8(0)
    .u8(0)
    .cstring('')
    .build();

  it('reads a PDU split across writes, and two in one write', async () => {
    const { smsc, port } = await startRaw();
    const { socket, got } = await rawClient(port);
    const bind = encodePdu({
      commandId: CommandId.bind_transceiver,
      commandStatus: 0,
      sequenceNumber: 1,
      body: bindBody,
    });
    socket.write(bind.subarray(0, 7));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const enquire = encodePdu({
      commandId: CommandId.enquire_link,
      commandStatus: 0,
      sequenceNumber: 2,
      body: Buffer.alloc(0),
    });
    socket.write(Buffer.concat([bind.subarray(7), enquire]));
    await waitFor(() => got.length === 2, 5000, 'two responses');
    expect(got.map((p) => [p.commandId >>> 0, p.commandStatus, p.sequenceNumber])).toEqual([
      [(CommandId.bind_transceiver | 0x80000000) >>> 0, 0, 1],
      [(CommandId.enquire_link | 0x80000000) >>> 0, 0, 2],
    ]);
    expect(got[0]!.body.toString('latin1')).toBe('RAWSMSC\0');
    expect(smsc.binds[0]).toMatchObject({ systemId: 'esme', password: 'pw', interfaceVersion: 0x34 });
  });

  it('a submit before bind gets ESME_RINVBNDSTS; an unknown command generic_nack', async () => {
    const { smsc, port } = await startRaw();
    const { socket, got } = await rawClient(port);
    socket.write(
      encodePdu({
        commandId: CommandId.submit_sm,
        commandStatus: 0,
        sequenceNumber: 5,
        body: Buffer.alloc(0),
      }),
    );
    socket.write(
      encodePdu({ commandId: 0x00000103, commandStatus: 0, sequenceNumber: 6, body: Buffer.alloc(0) }),
    );
    await waitFor(() => got.length === 2, 5000, 'two responses');
    expect(got.map((p) => [p.commandId >>> 0, p.commandStatus, p.sequenceNumber])).toEqual([
      [(CommandId.submit_sm | 0x80000000) >>> 0, 0x04, 5],
      [0x80000000, 0x03, 6],
    ]);
    expect(smsc.submits).toHaveLength(0);
  });

  it('a command_length below 16 gets generic_nack and the connection is closed', async () => {
    const { port } = await startRaw();
    const { socket, got, closed } = await rawClient(port);
    socket.write(Buffer.from([0, 0, 0, 3, 0, 0, 0, 0]));
    await closed;
    expect(got.map((p) => [p.commandId >>> 0, p.commandStatus])).toEqual([[0x80000000, 0x02]]);
  });
});
