import { describe, expect, it } from 'vitest';
import { IsoMemo } from '../../src/iso-time.js';
import { smsJson } from '../../src/sms-json.js';
import type { SmsRecord } from '../../src/store/store.js';

describe('IsoMemo', () => {
  it('gives each time its own ISO text, in any order of repeats', () => {
    const memo = new IsoMemo();
    const times = [0, 0, 1_765_000_000_123, 1_765_000_000_123, 1_765_000_000_124, 0, 1_765_000_000_124];
    expect(times.map((t) => memo.of(t))).toEqual(times.map((t) => new Date(t).toISOString()));
  });

  it('throws for a time that is no date, as toISOString does', () => {
    expect(() => new IsoMemo().of(Number.NaN)).toThrow(RangeError);
  });
});

describe('smsJson times', () => {
  const sms = (createdAt: number, updatedAt: number, expiresAt: number) =>
    ({
      id: 1,
      state: 'queued',
      to: '+447700900001',
      text: 'x',
      priority: 'normal',
      source: 'api',
      createdAt,
      updatedAt,
      expiresAt,
      attempts: 0,
      partsTotal: 0,
      partsDelivered: 0,
      partsFailed: 0,
    }) as unknown as SmsRecord;

  it('are each record’s own, one record after another', () => {
    const records = [
      sms(1000, 1000, 5000),
      sms(1000, 2000, 5000),
      sms(3000, 3000, 7000),
      sms(1000, 2000, 5000),
    ];
    expect(records.map((r) => smsJson(r))).toEqual(
      records.map((r) =>
        expect.objectContaining({
          created_at: new Date(r.createdAt).toISOString(),
          updated_at: new Date(r.updatedAt).toISOString(),
          expires_at: new Date(r.expiresAt).toISOString(),
        }),
      ),
    );
  });
});
