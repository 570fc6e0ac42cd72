import { describe, expect, it } from 'vitest';
import { filterMatches, TapList } from '../../../src/broker/tap-list.js';
import { TopicTrie } from '../../../src/rules/topic-trie.js';

const FILTERS = [
  'devices/+/telemetry',
  'devices/+/commands/result',
  'sms-bridge/simulator/mo',
  'sport/#',
  'sport/tennis/+',
  '+',
  '+/+',
  '#',
  '/+',
  '+/',
  'a//b',
  '$SYS/#',
  '$SYS/+/x',
  'sport/+/#',
  'sport',
];

const TOPICS = [
  'devices/d1/telemetry',
  'devices/d1/telemetry/x',
  'devices//telemetry',
  'devices/d1/commands/result',
  'devices/d1/commands',
  'devices/d1/alerts/bench',
  'devicesX/d1/telemetry',
  'sms-bridge/simulator/mo',
  'sms-bridge/simulator/mo/',
  'sms-bridge/alerts/17',
  'sport',
  'sport/',
  'sport/tennis',
  'sport/tennis/player1',
  'sport/tennis/player1/ranking',
  'sportx/tennis',
  '/',
  '/finance',
  '',
  'a//b',
  'a/b',
  '$SYS/x',
  '$SYS/broker/x',
  '$SYS',
];

describe('filterMatches', () => {
  it.each([
    // [filter, topic, matches] (MQTT 3.1.1 §4.7)
    ['sport/#', 'sport', true], // `#` matches the parent level too
    ['sport/#', 'sport/', true],
    ['sport/tennis/+', 'sport/tennis', false],
    ['sport/tennis/+', 'sport/tennis/', true], // `+` matches an empty level
    ['sport/+', 'sport', false],
    ['+', '/finance', false],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['#', '$SYS/x', false], // [MQTT-4.7.2-1]
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['devices/+/telemetry', 'devices/d1/telemetry', true],
    ['devices/+/telemetry', 'devices/d1/telemetryx', false],
    ['devices/+/telemetry', 'devices/d1/telemetry/x', false],
    ['devices/+/telemetry', 'devices/d1/x/telemetry', false],
  ])('%s against %s: %s', (filter, topic, expected) => {
    expect(filterMatches(filter.split('/'), topic)).toBe(expected);
  });
});

describe('TapList', () => {
  it('matches every topic as the topic trie does, in the order the values were added', () => {
    const list = new TapList<string>();
    const trie = new TopicTrie<string>();
    for (const filter of FILTERS) {
      list.add(filter, filter);
      trie.add(filter, filter);
    }
    for (const topic of TOPICS) expect([...list.match(topic)], topic).toEqual(trie.match(topic));
  });

  it('answers a topic that matches one value with the same array each time, and none with an empty one', () => {
    const list = new TapList<string>();
    list.add('devices/+/telemetry', 'telemetry');
    list.add('devices/+/commands/result', 'result');
    expect(list.match('devices/a/telemetry')).toBe(list.match('devices/b/telemetry'));
    expect(list.match('devices/a/alerts/x')).toEqual([]);
  });

  it('refuses an invalid filter', () => {
    expect(() => new TapList().add('a/#/b', 1)).toThrow(TypeError);
  });
});
