import { describe, expect, it } from 'vitest';
import { coverFilters, filtersOverlap } from '../../../src/broker/external.js';
import { TopicTrie } from '../../../src/rules/topic-trie.js';

describe('subscription filters of the external broker', () => {
  it.each([
    ['a/b', 'a/b', true],
    ['a/+', 'a/b', true],
    ['a/b', 'a/c', false],
    ['a/b', 'a/b/c', false],
    ['a/b', 'a/b/#', true],
    ['a/#', 'b/#', false],
    ['devices/+/alerts/#', 'devices/pump-1/#', true],
    ['devices/+/alerts/overheat', 'devices/+/telemetry', false],
    ['+/x', 'a/+', true],
  ])('%s and %s overlap: %s', (a, b, expected) => {
    expect(filtersOverlap(a, b)).toBe(expected);
    expect(filtersOverlap(b, a)).toBe(expected);
  });

  it('merges overlapping filters so that no topic matches two subscriptions, and every topic stays covered', () => {
    const filters = [
      'devices/+/alerts/overheat',
      'devices/+/alerts/#',
      'devices/pump-1/#',
      'devices/+/telemetry',
      'sms-bridge/request/sms/send',
      'devices/+/commands/result',
    ];
    const cover = coverFilters(filters);
    for (let i = 0; i < cover.length; i++)
      for (let j = i + 1; j < cover.length; j++) expect(filtersOverlap(cover[i]!, cover[j]!)).toBe(false);
    const trie = new TopicTrie<string>();
    for (const f of cover) trie.add(f, f);
    for (const topic of [
      'devices/pump-2/alerts/overheat',
      'devices/pump-1/anything/deep',
      'devices/pump-9/telemetry',
      'sms-bridge/request/sms/send',
      'devices/pump-3/commands/result',
    ])
      expect(trie.match(topic)).toHaveLength(1);
    expect(coverFilters(['a/b', 'c/d'])).toEqual(['a/b', 'c/d']);
  });
});
