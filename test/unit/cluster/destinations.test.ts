import { describe, expect, it } from 'vitest';
import { destinationsOf } from '../../../src/cluster/destinations.js';
import { clusterSchema } from '../../../src/cluster/schema.js';

describe('destinationsOf: what an instance may claim, by the sender routing rule', () => {
  const all = [
    { id: 'uk', routes: ['+44'] },
    { id: 'fr', routes: ['+33', '+262'] },
    { id: 'any', routes: [] },
  ];
  it.each([
    { owned: [], want: undefined },
    { owned: ['uk'], want: { prefixes: ['+44'], otherwise: undefined } },
    { owned: ['uk', 'fr'], want: { prefixes: ['+44', '+33', '+262'], otherwise: undefined } },
    // a connection without routes serves only what no connection routes
    { owned: ['any'], want: { prefixes: [], otherwise: ['+44', '+33', '+262'] } },
    { owned: ['fr', 'any'], want: { prefixes: ['+33', '+262'], otherwise: ['+44', '+33', '+262'] } },
  ])('owning $owned', ({ owned, want }) => {
    expect(destinationsOf(all, new Set(owned))).toEqual(want);
  });
});

describe('cluster config', () => {
  it('has defaults: off, 10 s leases, 500 ms poll', () => {
    expect(clusterSchema.parse({})).toEqual({
      enabled: false,
      lease_ttl: 10_000,
      poll: 500,
      max_claimed: 500,
      alert_refresh: 5_000,
      command_adopt_after: 15_000,
      unbound_handover: 30_000,
    });
  });
  it('refuses a poll not shorter than the lease, and leases under a second', () => {
    const issues = (input: unknown) =>
      clusterSchema.safeParse(input).error?.issues.map((i) => i.path.join('.')) ?? [];
    expect(issues({ lease_ttl: '2s', poll: '2s' })).toEqual(['poll']);
    expect(issues({ lease_ttl: '500ms', poll: '100ms' })).toEqual(['lease_ttl']);
    expect(issues({ instance_id: 'has space' })).toEqual(['instance_id']);
    // it names an MQTT topic level: <base>/state/<instance_id>
    for (const bad of ['a/b', 'a+', '#']) expect(issues({ instance_id: bad })).toEqual(['instance_id']);
  });
});
