// What reading one submit_sm_resp costs once its body is off the socket: the `smpp` package's `PDU.fromStream`
// (a buffer of the length, a concatenation, `new PDU(buffer)`: `fromBuffer` and `_filter`) against
// src/smpp/reading-session.ts `decodeSubmitSmResp`; CPU per answer over 200,000, three rounds.
//   npm run build && node bench/submit-resp-decode.mjs
import smpp from 'smpp';
import { decodeSubmitSmResp } from '../dist/smpp/reading-session.js';

const id = Buffer.from('0c7a33f1-5b2e\0');
const whole = Buffer.alloc(16 + id.length);
whole.writeUInt32BE(whole.length, 0);
whole.writeUInt32BE(0x80000004, 4);
whole.writeUInt32BE(0, 8);
whole.writeUInt32BE(1, 12);
id.copy(whole, 16);
const length = whole.length;
const body = whole.subarray(4);
const n = 200_000;
let seen = 0;
for (const round of [1, 2, 3]) {
  for (const [name, read] of [
    [
      'smpp package',
      () => {
        const head = Buffer.alloc(4);
        head.writeUInt32BE(length, 0);
        return new smpp.PDU(Buffer.concat([head, body]));
      },
    ],
    ['reading-session.ts', () => decodeSubmitSmResp(length, body)],
  ]) {
    const start = process.cpuUsage();
    for (let i = 0; i < n; i++) seen += read().message_id.length;
    const used = process.cpuUsage(start);
    process.stdout.write(
      `round ${round} ${name}: ${((used.user + used.system) / n).toFixed(2)} us per submit_sm_resp\n`,
    );
  }
}
if (seen === 0) process.exitCode = 1;
