import { describe, expect, it } from 'vitest';
import { type HeldInterval, NO_HOLDER, OwnershipTimeline } from './ownership-timeline.js';

const noConflicts = (kept: HeldInterval, rejected: HeldInterval) => {
  throw new Error(`unexpected conflict ${JSON.stringify(kept)} / ${JSON.stringify(rejected)}`);
};

describe('OwnershipTimeline.fromIntervals', () => {
  it('answers by half-open interval', () => {
    const timeline = OwnershipTimeline.fromIntervals([{ from: 100, to: 200, holder: 7 }], noConflicts);
    expect(timeline.holderAt(99)).toBe(NO_HOLDER);
    expect(timeline.holderAt(100)).toBe(7);
    expect(timeline.holderAt(199.999)).toBe(7);
    expect(timeline.holderAt(200)).toBe(NO_HOLDER);
  });

  it('hands over at the moment of reassignment', () => {
    const timeline = OwnershipTimeline.fromIntervals(
      [
        { from: 1000, to: Infinity, holder: 2 },
        { from: 0, to: 1000, holder: 1 },
      ],
      noConflicts,
    );
    expect(timeline.holderAt(999)).toBe(1);
    expect(timeline.holderAt(1000)).toBe(2);
    expect(timeline.holderAt(1e15)).toBe(2);
    expect(timeline.changes()).toEqual([
      { time: 0, holder: 1 },
      { time: 1000, holder: 2 },
    ]);
  });

  it('keeps gaps between intervals unowned', () => {
    const timeline = OwnershipTimeline.fromIntervals(
      [
        { from: 0, to: 10, holder: 1 },
        { from: 20, to: 30, holder: 1 },
      ],
      noConflicts,
    );
    expect([5, 10, 15, 20, 30].map((t) => timeline.holderAt(t))).toEqual([1, NO_HOLDER, NO_HOLDER, 1, NO_HOLDER]);
  });

  it('merges overlapping and adjacent intervals of the same holder', () => {
    const timeline = OwnershipTimeline.fromIntervals(
      [
        { from: 0, to: 10, holder: 1 },
        { from: 5, to: 20, holder: 1 },
        { from: 20, to: 30, holder: 1 },
        { from: 0, to: 10, holder: 1 },
      ],
      noConflicts,
    );
    expect(timeline.changes()).toEqual([
      { time: 0, holder: 1 },
      { time: 30, holder: NO_HOLDER },
    ]);
  });

  it('reports overlapping intervals of different holders', () => {
    const conflicts: Array<[HeldInterval, HeldInterval]> = [];
    OwnershipTimeline.fromIntervals(
      [
        { from: 0, to: 100, holder: 1 },
        { from: 50, to: 150, holder: 2 },
        { from: 100, to: 200, holder: 3 },
      ],
      (kept, rejected) => conflicts.push([kept, rejected]),
    );
    expect(conflicts).toEqual([[{ from: 0, to: 100, holder: 1 }, { from: 50, to: 150, holder: 2 }]]);
  });

  it('has no holder when empty', () => {
    expect(OwnershipTimeline.EMPTY.holderAt(0)).toBe(NO_HOLDER);
  });
});

describe('OwnershipTimeline.overlay', () => {
  it('uses the fallback only where the own timeline has no holder', () => {
    const covering = OwnershipTimeline.fromIntervals([{ from: 0, to: Infinity, holder: 1 }], noConflicts);
    const specific = OwnershipTimeline.fromIntervals([{ from: 100, to: 200, holder: 2 }], noConflicts);
    const effective = specific.overlay(covering);
    expect([0, 99, 100, 199, 200, 1e12].map((t) => effective.holderAt(t))).toEqual([1, 1, 2, 2, 1, 1]);
    expect(effective.changes()).toEqual([
      { time: 0, holder: 1 },
      { time: 100, holder: 2 },
      { time: 200, holder: 1 },
    ]);
  });

  it('leaves times before both timelines unowned', () => {
    const covering = OwnershipTimeline.fromIntervals([{ from: 50, to: 60, holder: 1 }], noConflicts);
    const specific = OwnershipTimeline.fromIntervals([{ from: 100, to: 200, holder: 2 }], noConflicts);
    const effective = specific.overlay(covering);
    expect([0, 50, 60, 100, 200].map((t) => effective.holderAt(t))).toEqual([NO_HOLDER, 1, NO_HOLDER, 2, NO_HOLDER]);
  });
});
