import { describe, expect, it } from 'vitest';
import { durationSchema, parseDuration } from '../../../src/config/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['1.5s', 1_500],
    ['0s', 0],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', 'empty'],
    ['30', 'no unit'],
    ['30x', 'unknown unit'],
    ['1m1h', 'units out of order'],
    ['1h1h', 'repeated unit'],
    [' 30s', 'leading space'],
    ['30 s', 'space before the unit'],
    ['-1s', 'negative'],
    ['s', 'no number'],
    ['1h 30m', 'space between parts'],
  ])('rejects %j (%s)', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('durationSchema', () => {
  it.each([
    ['10m', 600_000],
    [250, 250],
    [0, 0],
  ])('turns %j into %i ms', (input, ms) => {
    expect(durationSchema.parse(input)).toBe(ms);
  });

  it.each([[-1], [1.5], ['soon'], [true], [null]])(
    'rejects %j with a message that shows the expected form',
    (input) => {
      const result = durationSchema.safeParse(input);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toMatch(/^expected a duration like 500ms, 30s/);
    },
  );
});
