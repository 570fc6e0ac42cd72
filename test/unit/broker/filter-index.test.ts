import { describe, expect, it } from 'vitest';
import { FilterIndex } from '../../../src/broker/filter-index.js';

const STATUS = 'sms-bridge/sms/outbound/+';

describe('FilterIndex.overlaps', () => {
  it.each([
    // [subscriptions held, filter asked about, answer]
    [[], STATUS, false],
    [['sms-bridge/sms/outbound/+'], STATUS, true],
    [['sms-bridge/sms/outbound/42'], STATUS, true],
    [['sms-bridge/#'], STATUS, true],
    [['#'], STATUS, true],
    [['+/sms/outbound/+'], STATUS, true],
    [['sms-bridge/sms/+/+'], STATUS, true],
    [['sms-bridge/sms/outbound/#'], STATUS, true],
    [['sms-bridge/sms/outbound'], STATUS, false],
    [['sms-bridge/sms/outbound/+/x'], STATUS, false],
    [['sms-bridge/sms/inbound'], STATUS, false],
    [['sms-bridge/alerts/+', 'devices/+/telemetry'], STATUS, false],
    [['other/sms/outbound/+'], STATUS, false],
    // a shared subscription counts as the filter it shares (MQTT 5 §4.8.2)
    [['$share/ops/sms-bridge/sms/outbound/+'], STATUS, true],
    [['$share/ops/#'], STATUS, true],
    [['$share/ops/devices/#'], STATUS, false],
    // §4.7.1.2 `#` matches its parent level
    [['sms-bridge/sms/inbound/#'], 'sms-bridge/sms/inbound', true],
    [['sms-bridge/sms/inbound'], 'sms-bridge/sms/#', true],
    [['sms-bridge/sms/inbound'], 'sms-bridge/sms/inbound', true],
    [['sms-bridge/sms/+'], 'sms-bridge/sms/inbound', true],
    // [MQTT-4.7.2-1] a filter starting with a wildcard matches no `$` topic
    [['#'], '$SYS/x/+', false],
    [['+/x/+'], '$SYS/x/+', false],
    [['$SYS/x/1'], '$SYS/x/+', true],
    [['$SYS/x/1'], '+/x/+', false],
  ])('%j, asked %s: %s', (filters, asked, expected) => {
    const index = new FilterIndex();
    for (const [i, f] of filters.entries()) index.add(f, i);
    expect(index.overlaps(asked)).toBe(expected);
  });

  it('answers again after each change, not from the answer it remembered', () => {
    const index = new FilterIndex();
    const client = {};
    expect(index.overlaps(STATUS)).toBe(false);
    index.add('sms-bridge/#', client);
    expect(index.overlaps(STATUS)).toBe(true);
    index.delete('sms-bridge/#', client);
    expect(index.overlaps(STATUS)).toBe(false);
    index.add('+/sms/outbound/+', client);
    expect(index.overlaps(STATUS)).toBe(true);
    index.clear();
    expect(index.overlaps(STATUS)).toBe(false);
  });

  it('holds each (filter, owner) pair once, and a filter while any owner holds it', () => {
    const index = new FilterIndex();
    index.add(STATUS, 'a');
    index.add(STATUS, 'a');
    index.add(STATUS, 'b');
    expect(index.size).toBe(2);
    index.delete(STATUS, 'a');
    expect(index.overlaps(STATUS)).toBe(true);
    index.delete(STATUS, 'a');
    index.delete(STATUS, 'c');
    index.delete('never/held', 'b');
    expect(index.size).toBe(1);
    index.delete(STATUS, 'b');
    expect(index.size).toBe(0);
    expect(index.overlaps(STATUS)).toBe(false);
  });

  it('prunes a branch with no subscription left, keeping its neighbours', () => {
    const index = new FilterIndex();
    index.add('a/b/#', 1);
    index.add('a/c', 2);
    index.delete('a/b/#', 1);
    expect(index.overlaps('a/b/x')).toBe(false);
    expect(index.overlaps('a/#')).toBe(true);
    index.delete('a/c', 2);
    expect(index.overlaps('#')).toBe(false);
  });
});
