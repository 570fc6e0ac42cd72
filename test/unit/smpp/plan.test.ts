import { describe, expect, it } from 'vitest';
import { decodeText } from '../../../src/smpp/encoding.js';
import { planSms } from '../../../src/smpp/plan.js';
import { parseUdh } from '../../../src/smpp/reassemble.js';

describe('planSms', () => {
  it.each([
    ['udh8', 'short', 1, 1],
    ['udh8', 'x'.repeat(161), 2, 2],
    ['udh16', 'x'.repeat(161), 2, 2],
    ['message_payload', 'short', 1, 1],
    ['message_payload', 'x'.repeat(400), 1, 3],
  ] as const)('%s with %#: %i submit(s), %i segment(s)', (mode, text, submits, segments) => {
    const plan = planSms(text, mode, 4, 7);
    expect(plan.submits).toHaveLength(submits);
    expect(plan.segments).toBe(segments);
  });

  it('uses a 16-bit reference (IEI 0x08) for udh16', () => {
    const plan = planSms('y'.repeat(200), 'udh16', 4, 0x1234);
    const udh = parseUdh(plan.submits[0]!.shortMessage);
    expect(udh.concat).toMatchObject({ iei: 0x08, ref: 0x1234, total: 2, seq: 1 });
  });

  it('puts the whole text in message_payload, truncated to max_parts like UDH parts would be', () => {
    const text = 'z'.repeat(1000);
    const plan = planSms(text, 'message_payload', 2, 1);
    const submit = plan.submits[0]!;
    expect(submit.shortMessage.length).toBe(0);
    expect(plan.truncated).toBe(true);
    const sent = decodeText(submit.messagePayload!, submit.dataCoding);
    expect(sent.endsWith('...')).toBe(true);
    expect(sent.length).toBe(306);
  });
});
