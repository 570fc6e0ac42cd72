import { afterEach, describe, expect, it } from 'vitest';
import { decodeText } from '../../../src/smpp/encoding.js';
import { isReceipt } from '../../../src/smpp/receipt.js';
import type { DeliverResponder, InboundPdu } from '../../../src/smpp/session.js';
import { Cleanup, rawHeader, startClient, startSim, submitParams, waitBound, waitFor } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('SmppClient answers what the SMSC sends', () => {
  it('answers an SMSC-initiated enquire_link', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    await expect(sim.enquireLink()).resolves.toEqual([0]);
  });

  it('answers an SMSC-initiated unbind, closes and binds again', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const unbound = new Promise<string>((resolve) => client.once('unbound', resolve));
    await expect(sim.unbind()).resolves.toEqual([0]);
    expect(await unbound).toBe('the SMSC unbound');
    await waitFor(() => sim.binds.length === 2 && client.bound, 3000, 'the rebind');
    expect((await client.submit(submitParams())).commandStatus).toBe(0);
  });

  it('answers an unknown command_id with generic_nack ESME_RINVCMDID and stays bound', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const nack = new Promise<{ status: number; sequence: number }>((resolve) =>
      sim.on('pdu', (pdu) => {
        if (pdu.command === 'generic_nack')
          resolve({ status: pdu.command_status, sequence: pdu.sequence_number });
      }),
    );
    sim.injectRaw(rawHeader(0x00000099, 4242));
    expect(await nack).toEqual({ status: 0x03, sequence: 4242 });
    expect(client.bound).toBe(true);
    expect(sim.binds).toHaveLength(1);
  });

  it('emits deliver and sends deliver_sm_resp only when respond() is called', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const delivered: Array<[InboundPdu, DeliverResponder]> = [];
    client.on('deliver', (pdu, respond) => delivered.push([pdu, respond]));

    let answered = false;
    const mo = sim.injectMo({ from: '+447700900001', to: '12345', text: 'PUMP-7 STOP' });
    void mo.then(() => {
      answered = true;
    });
    await waitFor(() => delivered.length === 1, 3000, 'the deliver event');
    const [pdu, respond] = delivered[0]!;
    expect(pdu).toMatchObject({
      command: 'deliver_sm',
      sourceAddr: '447700900001',
      sourceAddrTon: 1,
      destinationAddr: '12345',
      esmClass: 0,
      dataCoding: 0,
      connectionId: 'smsc-a',
    });
    expect(decodeText(pdu.shortMessage, pdu.dataCoding)).toBe('PUMP-7 STOP');

    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(answered).toBe(false);
    respond();
    respond(0x08); // a second call is ignored
    await expect(mo).resolves.toBe(0);

    const retry = sim.injectMo({ from: '+447700900001', to: '12345', text: 'ACK 42' });
    await waitFor(() => delivered.length === 2, 3000, 'the second deliver');
    delivered[1]![1](0x08);
    await expect(retry).resolves.toBe(0x08);
  });

  it('hands over raw octets: UCS2, a UDH and TLVs pass undecoded', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const delivered: InboundPdu[] = [];
    client.on('deliver', (pdu, respond) => {
      delivered.push(pdu);
      respond();
    });
    const udh = Buffer.from([0x05, 0x00, 0x03, 0x07, 0x02, 0x02]);
    const body = Buffer.from('Σ-part', 'utf16le').swap16();
    await sim.injectMo({
      from: '+447700900002',
      to: '12345',
      shortMessage: Buffer.concat([udh, body]),
      dataCoding: 8,
      esmClass: 0x40,
      tlvs: { sar_msg_ref_num: 7, sar_total_segments: 2, sar_segment_seqnum: 2 },
    });
    expect(delivered[0]?.shortMessage.equals(Buffer.concat([udh, body]))).toBe(true);
    expect(delivered[0]).toMatchObject({
      esmClass: 0x40,
      dataCoding: 8,
      sarMsgRefNum: 7,
      sarTotalSegments: 2,
    });
  });

  it('delivers receipts with receipted_message_id in the other base and message_state', async () => {
    const { port } = await startSim(cleanup, {
      receipts: true,
      receiptDelayMs: 20,
      messageIdBase: 'hex',
      receiptIdBase: 'decimal',
    });
    const client = startClient(cleanup, port);
    await waitBound(client);
    const receipts: InboundPdu[] = [];
    client.on('deliver', (pdu, respond) => {
      receipts.push(pdu);
      respond();
    });
    const { messageId } = await client.submit(submitParams({ registeredDelivery: 1 }));
    await waitFor(() => receipts.length === 1, 3000, 'the receipt');
    const receipt = receipts[0]!;
    expect(isReceipt(receipt.esmClass)).toBe(true);
    expect(receipt.receiptedMessageId).toBe(String(Number.parseInt(messageId, 16)));
    expect(receipt.messageState).toBe(2);
    expect(decodeText(receipt.shortMessage, receipt.dataCoding)).toMatch(
      new RegExp(
        `^id:${receipt.receiptedMessageId} sub:001 dlvrd:001 submit date:\\d{10} done date:\\d{10} stat:DELIVRD err:000 text:hello$`,
      ),
    );
  });

  it('leaves an unanswered deliver to the SMSC (no automatic response)', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, { responseTimeoutMs: 100 });
    await waitBound(client);
    client.on('deliver', () => undefined);
    let settled = false;
    const mo = sim.injectMo({ from: '+447700900001', to: '12345', text: 'STATUS PUMP-7' });
    mo.then(
      () => {
        settled = true;
      },
      () => undefined,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    expect(client.bound).toBe(true);
  });
});
