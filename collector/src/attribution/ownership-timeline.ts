/**
 * Who holds one prefix over time: a step function from time (ms since epoch) to a
 * holder id, stored as sorted change points so `holderAt` is a binary search over
 * two typed arrays and allocates nothing.
 *
 * The holder from changeTimes[k] applies until changeTimes[k + 1] (the last one
 * forever); before the first change point there is no holder.
 */

export const NO_HOLDER = -1;

/**
 * The holder of the last change point at or before `time` among points [from, to) of sorted
 * `times` (and their `holders`), or NO_HOLDER: a binary search, allocation-free. Shared by
 * OwnershipTimeline and HolderLookup's flattened timelines.
 */
export function holderAtChangePoints(times: Float64Array, holders: Int32Array, from: number, to: number, time: number): number {
  let low = from;
  let high = to - 1;
  let found = -1;
  while (low <= high) {
    const middle = (low + high) >>> 1;
    if (times[middle] <= time) {
      found = middle;
      low = middle + 1;
    } else {
      high = middle - 1;
    }
  }
  return found < 0 ? NO_HOLDER : holders[found];
}

/** Half-open interval [from, to) held by `holder`; `to` is Infinity when open. */
export interface HeldInterval {
  readonly from: number;
  readonly to: number;
  readonly holder: number;
}

export class OwnershipTimeline {
  static readonly EMPTY = new OwnershipTimeline(new Float64Array(0), new Int32Array(0));

  /**
   * The common timeline, one open-ended holder, copied into plain fields: holderAt then
   * reads this object only, not its two arrays (three cache lines fewer per lookup, which
   * shows at a million lookups a second over thousands of subscribers).
   */
  private readonly singleFrom: number;
  private readonly singleHolder: number;

  private constructor(
    private readonly changeTimes: Float64Array,
    private readonly holders: Int32Array,
  ) {
    const single = changeTimes.length === 1;
    this.singleFrom = single ? changeTimes[0] : Number.NaN;
    this.singleHolder = single ? holders[0] : NO_HOLDER;
  }

  /**
   * Timeline of one prefix from its intervals (each with from < to). Overlapping
   * intervals of the same holder are merged, so duplicate rows in the source are
   * harmless. Overlapping intervals of different holders cannot be attributed: each
   * is reported through `onConflict` and left out, so that the caller can collect
   * every conflict before rejecting the table.
   */
  static fromIntervals(
    intervals: readonly HeldInterval[],
    onConflict: (kept: HeldInterval, rejected: HeldInterval) => void,
  ): OwnershipTimeline {
    const sorted = [...intervals].sort((a, b) => a.from - b.from || a.to - b.to);
    const times: number[] = [];
    const holders: number[] = [];
    // Intervals arrive disjoint and in order, so times never decrease. A change at the
    // same time as the previous one replaces it (one interval ends as the next begins),
    // and a change to the holder already in force is dropped, keeping the arrays minimal.
    const pushChange = (time: number, holder: number) => {
      if (times.length > 0 && times[times.length - 1] === time) {
        times.pop();
        holders.pop();
      }
      if (holders.length > 0 ? holders[holders.length - 1] === holder : holder === NO_HOLDER) return;
      times.push(time);
      holders.push(holder);
    };
    const emit = (interval: HeldInterval) => {
      pushChange(interval.from, interval.holder);
      if (interval.to !== Infinity) pushChange(interval.to, NO_HOLDER);
    };

    let current: HeldInterval | undefined;
    for (const next of sorted) {
      if (current === undefined) {
        current = next;
      } else if (next.from >= current.to) {
        emit(current);
        current = next;
      } else if (next.holder === current.holder) {
        if (next.to > current.to) current = { from: current.from, to: next.to, holder: current.holder };
      } else {
        onConflict(current, next);
      }
    }
    if (current !== undefined) emit(current);
    return new OwnershipTimeline(Float64Array.from(times), Int32Array.from(holders));
  }

  /**
   * This timeline where it has a holder, `fallback` where it has none. Used to let
   * a more specific prefix win over a covering one only while it is assigned.
   */
  overlay(fallback: OwnershipTimeline): OwnershipTimeline {
    if (fallback.changeTimes.length === 0) return this;
    const points = Array.from(new Set([...this.changeTimes, ...fallback.changeTimes])).sort((a, b) => a - b);
    const times: number[] = [];
    const holders: number[] = [];
    for (const time of points) {
      const own = this.holderAt(time);
      const holder = own !== NO_HOLDER ? own : fallback.holderAt(time);
      if (holders.length === 0 ? holder === NO_HOLDER : holders[holders.length - 1] === holder) continue;
      times.push(time);
      holders.push(holder);
    }
    return new OwnershipTimeline(Float64Array.from(times), Int32Array.from(holders));
  }

  /** The one open-ended holder and its start, when that is the whole timeline; else null. */
  get single(): { from: number; holder: number } | null {
    return this.singleHolder === NO_HOLDER ? null : { from: this.singleFrom, holder: this.singleHolder };
  }

  /** Holder at `time` (ms since epoch), or NO_HOLDER. */
  holderAt(time: number): number {
    // Most prefixes have one open-ended holder; skip the search for them.
    if (this.singleHolder !== NO_HOLDER) return time >= this.singleFrom ? this.singleHolder : NO_HOLDER;
    const times = this.changeTimes;
    if (times.length === 1) return time >= times[0] ? this.holders[0] : NO_HOLDER;
    return holderAtChangePoints(times, this.holders, 0, times.length, time);
  }

  /** The change points as stored (not copies: do not modify), for flattening into tables. */
  points(): { readonly times: Float64Array; readonly holders: Int32Array } {
    return { times: this.changeTimes, holders: this.holders };
  }

  /** The change points, for tests and diagnostics. */
  changes(): Array<{ time: number; holder: number }> {
    return Array.from(this.changeTimes, (time, k) => ({ time, holder: this.holders[k] }));
  }
}
