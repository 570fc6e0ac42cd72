import { describe, expect, it } from 'vitest';
import { TopicTrie, topicFilterError } from '../../../src/rules/topic-trie.js';

describe('TopicTrie.match', () => {
  it.each([
    ['devices/pump-7/alerts/overheat', 'devices/pump-7/alerts/overheat', true, 'an exact filter'],
    ['devices/pump-7/alerts/overheat', 'devices/pump-8/alerts/overheat', false, 'another exact topic'],
    ['devices/+/alerts/overheat', 'devices/pump-7/alerts/overheat', true, '+ matches one level'],
    ['devices/+/alerts/overheat', 'devices/a/b/alerts/overheat', false, '+ matches only one level'],
    ['devices/+/alerts', 'devices//alerts', true, '+ matches an empty level'],
    ['devices/+', 'devices/pump-7/alerts', false, '+ at the end does not match deeper levels'],
    ['devices/#', 'devices/pump-7/alerts/overheat', true, '# matches many levels'],
    ['devices/#', 'devices', true, '# matches the parent level (§4.7.1.2)'],
    ['devices/#', 'devices/', true, '# matches an empty last level'],
    ['devices/#', 'device', false, '# does not match a different parent'],
    ['devices/+/#', 'devices/pump-7', true, '+ then # matches the + level alone'],
    ['#', 'devices/pump-7', true, '# alone matches everything'],
    ['#', '$SYS/broker/uptime', false, '# does not match a $ topic (§4.7.2)'],
    ['+/broker/uptime', '$SYS/broker/uptime', false, '+ does not match a $ first level (§4.7.2)'],
    ['$SYS/#', '$SYS/broker/uptime', true, 'a $ filter matches a $ topic'],
    ['$SYS/+/uptime', '$SYS/broker/uptime', true, 'wildcards after a literal $ level'],
    ['devices/+', 'devices/$x', true, '$ below the first level is an ordinary character'],
    ['/+', '/finance', true, 'a leading / is an empty first level'],
    ['+', '/finance', false, 'a leading / makes two levels'],
    ['Devices/#', 'devices/x', false, 'levels are case-sensitive'],
  ])('%s vs %s -> %s (%s)', (filter, topic, expected) => {
    const trie = new TopicTrie<string>();
    trie.add(filter, 'hit');
    expect(trie.match(topic)).toEqual(expected ? ['hit'] : []);
  });

  it('returns every matching value in the order they were added, duplicates of a filter included', () => {
    const trie = new TopicTrie<number>();
    trie.add('devices/+/alerts/#', 1);
    trie.add('devices/pump-7/alerts/overheat', 2);
    trie.add('#', 3);
    trie.add('devices/+/alerts/overheat', 4);
    trie.add('devices/+/alerts/overheat', 5);
    trie.add('other/#', 6);
    expect(trie.match('devices/pump-7/alerts/overheat')).toEqual([1, 2, 3, 4, 5]);
    expect(trie.size).toBe(6);
  });

  it('rejects an invalid filter', () => {
    expect(() => new TopicTrie().add('a/#/b', 1)).toThrow(TypeError);
  });

  it('matchShared gives one array to every topic with the same answer, equal to match', () => {
    const trie = new TopicTrie<number>();
    trie.add('devices/+/alerts/#', 1);
    trie.add('devices/+/alerts/fire', 2);
    const a = trie.matchShared('devices/a/alerts/fire');
    expect(a).toEqual(trie.match('devices/a/alerts/fire'));
    expect(trie.matchShared('devices/b/alerts/fire')).toBe(a);
    expect(trie.matchShared('devices/a/alerts/smoke')).toEqual([1]);
    expect(trie.matchShared('devices/b/alerts/smoke')).toBe(trie.matchShared('devices/a/alerts/smoke'));
    expect(trie.matchShared('other')).toEqual([]);
  });
});

describe('topicFilterError', () => {
  it.each(['a', 'a/b', '+', '#', 'a/+/b', 'a/#', '+/+', '/', 'a//b', '$SYS/#'])('accepts %j', (filter) => {
    expect(topicFilterError(filter)).toBeUndefined();
  });

  it.each([
    ['', /empty/],
    ['a/#/b', /'#' must be a whole level and the last one/],
    ['a#', /'#' must be a whole level/],
    ['a/b#', /'#' must be a whole level/],
    ['a+/b', /'\+' must be a whole level/],
    ['a/+b', /'\+' must be a whole level/],
    ['a\u0000b', /U\+0000/],
  ])('rejects %j', (filter, message) => {
    expect(topicFilterError(filter)).toMatch(message);
  });
});
