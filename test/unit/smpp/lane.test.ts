import { describe, expect, it } from 'vitest';
import { Lane } from '../../../src/smpp/lane.js';

const drain = (lane: Lane<{ id: number; tag?: string }>) => {
  const out: Array<{ id: number; tag?: string }> = [];
  for (let x = lane.shift(); x !== undefined; x = lane.shift()) out.push(x);
  return out;
};

describe('Lane (the sender lanes: in id order, taken from the front)', () => {
  it('gives items in key order whatever order they were inserted in; equal keys in arrival order', () => {
    const lane = new Lane<{ id: number; tag?: string }>((x) => x.id);
    for (const id of [5, 1, 9, 3, 3, 7]) lane.insert({ id, tag: `${id}-${lane.length}` });
    expect(lane.length).toBe(6);
    expect(lane.peek()?.id).toBe(1);
    expect(drain(lane).map((x) => x.tag)).toEqual(['1-1', '3-3', '3-4', '5-0', '7-5', '9-2']);
    expect(lane.length).toBe(0);
    expect(lane.peek()).toBeUndefined();
    expect(lane.shift()).toBeUndefined();
  });

  it('keeps order across compaction, with inserts between the taken front and the rest', () => {
    const lane = new Lane<{ id: number }>((x) => x.id);
    for (let id = 0; id < 10_000; id += 2) lane.insert({ id });
    const taken: number[] = [];
    // take 3,000 (past the compaction point), putting back every 10th taken one and inserting odd ids between
    for (let i = 0; i < 3_000; i++) {
      const x = lane.shift()!;
      taken.push(x.id);
      if (i % 10 === 0) lane.insert({ id: x.id + 1 });
    }
    const rest = drain(lane).map((x) => x.id);
    expect(rest).toEqual([...rest].sort((a, b) => a - b));
    const all = [...taken, ...rest];
    expect(new Set(all).size).toBe(all.length);
    expect(all.length).toBe(5_000 + 300);
    // each put-back id came out after the one that was taken before it
    expect(taken.slice(0, 2)).toEqual([0, 1]);
  });

  it('appends in-order inserts after one comparison, and drains a long lane whole', () => {
    // its speed (no array shift) is in bench/, not here: a test asserts no timing
    const lane = new Lane<{ id: number }>((x) => x.id);
    let reads = 0;
    const keyed = new Lane<{ id: number }>((x) => {
      reads++;
      return x.id;
    });
    for (let id = 0; id < 100_000; id++) {
      lane.insert({ id });
      keyed.insert({ id });
    }
    // in-order inserts compare with the last item only
    expect(reads).toBeLessThanOrEqual(2 * 100_000);
    expect(drain(lane).length).toBe(100_000);
  });
});
