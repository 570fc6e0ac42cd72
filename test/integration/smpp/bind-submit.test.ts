import { afterEach, describe, expect, it } from 'vitest';
import { isBridgeError } from '../../../src/errors.js';
import { encodeText } from '../../../src/smpp/encoding.js';
import { Cleanup, captureLog, startClient, startSim, submitParams, waitBound, waitFor } from './helpers.js';

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe('SmppClient bind and submit against the simulator', () => {
  it('binds as transceiver with interface_version 0x34 and never logs the password', async () => {
    const log = captureLog();
    const { sim, port } = await startSim(cleanup, { systemId: 'bridge', password: 'secret' });
    const client = startClient(cleanup, port, {}, log);
    const bound = new Promise((resolve) => client.once('bound', resolve));
    await waitBound(client);
    expect(await bound).toEqual({ link: 'transceiver', smscSystemId: 'SIMSMSC' });
    expect(sim.binds).toEqual([
      expect.objectContaining({
        command: 'bind_transceiver',
        systemId: 'bridge',
        interfaceVersion: 0x34,
        commandStatus: 0,
      }),
    ]);
    expect(log.messages().some((m) => m.includes('bound as transceiver'))).toBe(true);
    expect(JSON.stringify(log.lines)).not.toContain('secret');
  });

  it('submits GSM and UCS2 text with an explicit data_coding, decoded as sent', async () => {
    const simLog = captureLog();
    const { sim, port } = await startSim(cleanup, {}, simLog);
    const client = startClient(cleanup, port);
    await waitBound(client);

    const gsm = encodeText('Pump overheating: 95C {alarm} €');
    const ucs2 = encodeText('Насос 7: перегрев 95°C 🔥');
    expect(gsm.dataCoding).toBe(0);
    expect(ucs2.dataCoding).toBe(8);
    const r1 = await client.submit(submitParams({ dataCoding: gsm.dataCoding, shortMessage: gsm.bytes }));
    const r2 = await client.submit(submitParams({ dataCoding: ucs2.dataCoding, shortMessage: ucs2.bytes }));

    expect(r1.commandStatus).toBe(0);
    expect(r2.commandStatus).toBe(0);
    expect(r1.messageId).not.toBe(r2.messageId);
    expect(sim.received.map((s) => [s.dataCoding, s.text, s.messageId, s.to])).toEqual([
      [0, 'Pump overheating: 95C {alarm} €', r1.messageId, '+447700900001'],
      [8, 'Насос 7: перегрев 95°C 🔥', r2.messageId, '+447700900001'],
    ]);
    expect(sim.received[0]?.shortMessage.equals(gsm.bytes)).toBe(true);
    expect(simLog.messages()).toContain(
      'SMSC received SMS to=+447700900001 enc=GSM parts=1/1 "Pump overheating: 95C {alarm} €"',
    );
  });

  it('sends a UDH part and message_payload as raw octets', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const udh = Buffer.from([0x05, 0x00, 0x03, 0x2a, 0x02, 0x01]);
    await client.submit(
      submitParams({ esmClass: 0x40, shortMessage: Buffer.concat([udh, Buffer.from('first part')]) }),
    );
    const long = encodeText('x'.repeat(400));
    await client.submit(submitParams({ shortMessage: undefined, messagePayload: long.bytes }));

    expect(sim.received[0]).toMatchObject({ text: 'first part', part: { seq: 1, total: 2 }, esmClass: 0x40 });
    expect(sim.received[0]?.udh?.equals(udh)).toBe(true);
    expect(sim.received[1]?.text).toBe('x'.repeat(400));
    expect(sim.received[1]?.shortMessage.length).toBe(0);
  });

  it('resolves a non-zero command_status instead of throwing', async () => {
    const { sim, port } = await startSim(cleanup, { failDestinations: { '+447700900009': 0x0b }, tps: 2 });
    const client = startClient(cleanup, port);
    await waitBound(client);
    const failed = await client.submit(submitParams({ destinationAddr: '447700900009' }));
    expect(failed).toEqual({ commandStatus: 0x0b, messageId: '' });
    const burst = await Promise.all([1, 2, 3].map(() => client.submit(submitParams())));
    expect(burst.map((r) => r.commandStatus).sort()).toEqual([0, 0, 0x58]);
    expect(sim.received).toHaveLength(2);
  });

  it('rejects an oversized short_message with a BridgeError, and submits before the bind', async () => {
    const { port } = await startSim(cleanup, { password: 'other' });
    const client = startClient(cleanup, port);
    await expect(client.submit(submitParams())).rejects.toSatisfy((e) =>
      isBridgeError(e, 'ERR_SMPP_NOT_BOUND'),
    );

    const { port: goodPort } = await startSim(cleanup);
    const good = startClient(cleanup, goodPort);
    await waitBound(good);
    await expect(good.submit(submitParams({ shortMessage: Buffer.alloc(255, 0x41) }))).rejects.toSatisfy(
      (e) => isBridgeError(e, 'ERR_SMS_TOO_LONG'),
    );
    // the session is still fine afterwards
    expect((await good.submit(submitParams())).commandStatus).toBe(0);
  });

  it('binds transmitter and receiver on two sessions in transmitter_receiver mode', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, { bindMode: 'transmitter_receiver' });
    const links: string[] = [];
    client.on('bound', (info) => links.push(info.link));
    await waitFor(() => links.length === 2, 5000, 'both binds');
    expect(links.sort()).toEqual(['receiver', 'transmitter']);
    expect(sim.binds.map((b) => b.command).sort()).toEqual(['bind_receiver', 'bind_transmitter']);
    expect((await client.submit(submitParams())).commandStatus).toBe(0);
    expect(sim.received[0]?.connectionSystemId).toBe('bridge');

    client.on('deliver', (_pdu, respond) => respond());
    await expect(sim.injectMo({ from: '+447700900001', to: '12345', text: 'STATUS PUMP-7' })).resolves.toBe(
      0,
    );
  });

  it('stop() unbinds, waits for unbind_resp and does not reconnect', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port);
    await waitBound(client);
    const seen: string[] = [];
    sim.on('pdu', (pdu) => seen.push(pdu.command));
    const unbound = new Promise((resolve) => client.once('unbound', resolve));
    await client.stop();
    expect(seen).toContain('unbind');
    expect(await unbound).toBe('stopped');
    expect(client.bound).toBe(false);
    await expect(client.submit(submitParams())).rejects.toSatisfy((e) =>
      isBridgeError(e, 'ERR_SMPP_NOT_BOUND'),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(sim.binds).toHaveLength(1);
    expect(sim.boundSessions()).toEqual([]);
  });

  it('stop() against a silent SMSC lets the pending submit time out, then gives up on unbind_resp', async () => {
    const { sim, port } = await startSim(cleanup);
    const client = startClient(cleanup, port, { responseTimeoutMs: 150 });
    await waitBound(client);
    sim.setBehaviour('blackhole');
    const pending = client.submit(submitParams());
    const outcome = pending.then(
      () => 'resolved',
      (err: unknown) => (isBridgeError(err) ? err.code : 'other'),
    );
    await client.stop();
    expect(await outcome).toBe('ERR_SMPP_TIMEOUT');
    await waitFor(() => sim.boundSessions().length === 0, 3000, 'the SMSC to see the close');
  });
});
