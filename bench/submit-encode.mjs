// What building and encoding one submit_sm costs: the `smpp` package's PDU against src/smpp/submit-pdu.ts,
// CPU per submit_sm over 200,000, three rounds (the sender's usual options: one GSM part, a relative validity).
//   node bench/submit-encode.mjs
import smpp from 'smpp';
import { fastSubmitSm } from '../dist/smpp/submit-pdu.js';

const options = {
  source_addr_ton: 5,
  source_addr_npi: 0,
  source_addr: 'BRIDGE',
  dest_addr_ton: 1,
  dest_addr_npi: 1,
  destination_addr: '447700900001',
  esm_class: 0,
  priority_flag: 0,
  registered_delivery: 1,
  data_coding: 0,
  short_message: Buffer.from('A12345'),
  validity_period: '000001000000000R',
};
const n = 200_000;
let bytes = 0;
for (const round of [1, 2, 3]) {
  for (const [name, make] of [
    ['smpp package', () => new smpp.PDU('submit_sm', options)],
    ['submit-pdu.ts', () => fastSubmitSm(options)],
  ]) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const pdu = make();
      pdu.sequence_number = i + 1;
      bytes += pdu.toBuffer().length;
    }
    const used = process.cpuUsage(start);
    process.stdout.write(
      `round ${round} ${name}: ${((used.user + used.system) / n).toFixed(2)} us per submit_sm\n`,
    );
  }
}
if (bytes === 0) process.exitCode = 1;
