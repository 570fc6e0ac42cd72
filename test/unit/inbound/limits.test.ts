import { describe, expect, it } from 'vitest';
import { MoPartLimits, PinLockout, ReplyBudget, redactPin } from '../../../src/inbound/limits.js';

const MIN = 60_000;

describe('PinLockout', () => {
  it('locks a number after N wrong PINs within the window, until the window passes', () => {
    const lock = new PinLockout({ attempts: 5, windowMs: 15 * MIN });
    expect([1, 2, 3, 4, 5].map((i) => lock.fail('+1', i))).toEqual([4, 3, 2, 1, 0]);
    expect(lock.lockedFor('+1', 10)).toBe(15 * MIN - 9);
    expect(lock.lockedFor('+2', 10)).toBe(0);
    expect(lock.lockedFor('+1', 15 * MIN + 1)).toBe(0);
  });

  it('forgets failures older than the window and clears on a right PIN', () => {
    const lock = new PinLockout({ attempts: 2, windowMs: MIN });
    lock.fail('+1', 0);
    expect(lock.fail('+1', MIN)).toBe(1);
    lock.succeed('+1');
    expect(lock.fail('+1', MIN + 1)).toBe(1);
  });

  it('keeps at most maxNumbers entries', () => {
    const lock = new PinLockout({ attempts: 5, windowMs: MIN, maxNumbers: 100 });
    for (let i = 0; i < 1000; i++) lock.fail(`+${i}`, i);
    expect(lock.size).toBeLessThanOrEqual(100);
  });
});

describe('ReplyBudget', () => {
  it('caps replies per number and in total per window', () => {
    const budget = new ReplyBudget({ perNumber: 3, total: 5, windowMs: MIN });
    expect([0, 1, 2, 3].map((t) => budget.take('+1', t))).toEqual(['ok', 'ok', 'ok', 'number_limit']);
    expect([4, 5, 6].map((t) => budget.take(`+${t}`, t))).toEqual(['ok', 'ok', 'total_limit']);
    expect(budget.take('+1', MIN + 3)).toBe('ok');
  });

  it('holds at most `total` numbers, however many senders there are', () => {
    const budget = new ReplyBudget({ perNumber: 1, total: 50, windowMs: MIN });
    for (let i = 0; i < 20_000; i++) budget.take(`+${i}`, i * 10);
    expect(budget.trackedNumbers).toBeLessThanOrEqual(51);
  });
});

describe('MoPartLimits', () => {
  const limits = () => new MoPartLimits({ maxTotal: 10, perSender: 2, inFlight: 3, timeoutMs: MIN });

  it.each([
    [{ from: '+1', ref: 1, total: 2, seq: 7 }, 'bad_seq'],
    [{ from: '+1', ref: 1, total: 2, seq: 0 }, 'bad_seq'],
    [{ from: '+1', ref: 1, total: 2, seq: 1.5 }, 'bad_seq'],
    [{ from: '+1', ref: 1, total: 200, seq: 1 }, 'too_many_parts'],
    [{ from: '+1', ref: 1, total: 2, seq: 2 }, 'ok'],
  ])('%j is %s', (part, verdict) => {
    expect(limits().admit(part, 0)).toBe(verdict);
  });

  it('bounds messages in flight per sender and in all; done and age free them', () => {
    const l = limits();
    expect(l.admit({ from: '+1', ref: 1, total: 2, seq: 1 }, 0)).toBe('ok');
    expect(l.admit({ from: '+1', ref: 1, total: 2, seq: 2 }, 0)).toBe('ok');
    expect(l.admit({ from: '+1', ref: 2, total: 2, seq: 1 }, 0)).toBe('ok');
    expect(l.admit({ from: '+1', ref: 3, total: 2, seq: 1 }, 0)).toBe('sender_limit');
    expect(l.admit({ from: '+2', ref: 1, total: 2, seq: 1 }, 0)).toBe('ok');
    expect(l.admit({ from: '+3', ref: 1, total: 2, seq: 1 }, 0)).toBe('in_flight_limit');
    l.done({ from: '+1', ref: 1, total: 2 });
    expect(l.admit({ from: '+3', ref: 1, total: 2, seq: 1 }, 0)).toBe('ok');
    expect(l.admit({ from: '+4', ref: 1, total: 2, seq: 1 }, MIN)).toBe('ok');
    expect(l.inFlight).toBe(1);
  });
});

describe('redactPin', () => {
  it.each([
    ['PIN 4321 PUMP-7 STOP', 'PIN **** PUMP-7 STOP'],
    ['pump-7 stop pin4321', 'pump-7 stop pin****'],
    ['pump-7 stop, PIN: 4321', 'pump-7 stop, PIN: ****'],
    ['ＰＩＮ　４３２１ pump-7 stop', 'ＰＩＮ　**** pump-7 stop'],
    ['😀PIN1234 ack 4', '😀PIN**** ack 4'],
    ['pump-7 setpoint 80', 'pump-7 setpoint 80'],
    ['spin 1234', 'spin 1234'],
  ])('%j -> %j', (text, shown) => {
    expect(redactPin(text)).toBe(shown);
  });
});
