import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MINUTE_MS, minutesSpanned, splitByLargestRemainder, spreadOverMinutes } from './spread.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');

function spread(start: number, end: number, bytes: bigint, packets: bigint, maxMinutes?: number) {
  const shares: Array<[number, bigint, bigint]> = [];
  spreadOverMinutes(start, end, bytes, packets, (minute, b, p) => shares.push([minute, b, p]), maxMinutes);
  return shares;
}

describe('splitByLargestRemainder', () => {
  it('splits proportionally when the quotas are whole', () => {
    expect(splitByLargestRemainder(1000n, [1n, 2n, 1n])).toEqual([250n, 500n, 250n]);
  });

  it('gives the leftover units to the largest remainders, earliest first on ties', () => {
    expect(splitByLargestRemainder(10n, [1n, 1n, 1n])).toEqual([4n, 3n, 3n]);
    expect(splitByLargestRemainder(11n, [1n, 1n, 1n])).toEqual([4n, 4n, 3n]);
    // Quotas 2.1, 5.6, 2.3 -> floors 2, 5, 2 and one unit left for the .6.
    expect(splitByLargestRemainder(10n, [21n, 56n, 23n])).toEqual([2n, 6n, 2n]);
  });

  it('gives nothing to zero weights', () => {
    expect(splitByLargestRemainder(5n, [0n, 3n, 0n, 3n])).toEqual([0n, 3n, 0n, 2n]);
  });

  it('rejects negative totals, negative weights and all-zero weights', () => {
    expect(() => splitByLargestRemainder(-1n, [1n])).toThrow(RangeError);
    expect(() => splitByLargestRemainder(1n, [1n, -1n])).toThrow(RangeError);
    expect(() => splitByLargestRemainder(1n, [0n, 0n])).toThrow('at least one weight must be positive');
  });

  it('sums exactly and stays within one unit of each exact quota', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 96n }),
        fc.array(fc.bigInt({ min: 0n, max: 60_000_000n }), { minLength: 1, maxLength: 50 }).filter((w) => w.some((x) => x > 0n)),
        (total, weights) => {
          const parts = splitByLargestRemainder(total, weights);
          const weightSum = weights.reduce((a, b) => a + b, 0n);
          expect(parts.reduce((a, b) => a + b, 0n)).toBe(total);
          parts.forEach((part, k) => {
            // |part - total*w/W| < 1  <=>  |part*W - total*w| < W
            const error = part * weightSum - total * weights[k];
            expect(error < weightSum && -error < weightSum).toBe(true);
          });
        },
      ),
    );
  });
});

describe('spreadOverMinutes', () => {
  it('keeps a flow inside one minute whole', () => {
    expect(spread(T0 + 1000, T0 + 59_000, 1234n, 5n)).toEqual([[T0, 1234n, 5n]]);
  });

  it('spreads over minutes in proportion to time', () => {
    // 10:00:30 - 10:02:30: half a minute, a whole minute, half a minute.
    expect(spread(T0 + 30_000, T0 + 150_000, 1000n, 8n)).toEqual([
      [T0, 250n, 2n],
      [T0 + MINUTE_MS, 500n, 4n],
      [T0 + 2 * MINUTE_MS, 250n, 2n],
    ]);
  });

  it('does not touch the minute a flow ends exactly at', () => {
    expect(spread(T0 + 30_000, T0 + MINUTE_MS, 10n, 1n)).toEqual([[T0, 10n, 1n]]);
    expect(minutesSpanned(T0, T0 + 2 * MINUTE_MS)).toBe(2);
  });

  it('puts a flow with start == end or end < start wholly into the start minute', () => {
    expect(spread(T0 + 90_000, T0 + 90_000, 77n, 3n)).toEqual([[T0 + MINUTE_MS, 77n, 3n]]);
    expect(spread(T0 + 90_000, T0 + 10_000, 77n, 3n)).toEqual([[T0 + MINUTE_MS, 77n, 3n]]);
    expect(spread(T0 + 90_000, Number.NaN, 77n, 3n)).toEqual([[T0 + MINUTE_MS, 77n, 3n]]);
  });

  it('uses sub-millisecond times', () => {
    // 0.25 ms before and 0.75 ms after the boundary.
    expect(spread(T0 + MINUTE_MS - 0.25, T0 + MINUTE_MS + 0.75, 4n, 4n)).toEqual([
      [T0, 1n, 1n],
      [T0 + MINUTE_MS, 3n, 3n],
    ]);
  });

  it('leaves out buckets that receive nothing', () => {
    expect(spread(T0, T0 + 3 * MINUTE_MS, 1n, 1n)).toEqual([[T0, 1n, 1n]]);
    expect(spread(T0, T0, 0n, 0n)).toEqual([]);
  });

  it('keeps counters near 2^64 x sampling rate exact', () => {
    const bytes = (2n ** 64n - 1n) * 4096n;
    const shares = spread(T0 + 12_345.678, T0 + 7 * MINUTE_MS + 3.5, bytes, 2n ** 40n + 1n);
    expect(shares.reduce((sum, [, b]) => sum + b, 0n)).toBe(bytes);
    expect(shares.reduce((sum, [, , p]) => sum + p, 0n)).toBe(2n ** 40n + 1n);
  });

  it('refuses flows longer than the limit and bad input', () => {
    expect(() => spread(T0, T0 + 10 * MINUTE_MS, 1n, 1n, 5)).toThrow('spans 10 minutes, more than the limit of 5');
    expect(() => spread(T0, Number.POSITIVE_INFINITY, 1n, 1n)).toThrow(RangeError);
    expect(() => spread(Number.NaN, T0, 1n, 1n)).toThrow('flow start must be a finite time');
    expect(() => spread(T0, T0, -1n, 0n)).toThrow('counters must not be negative');
  });

  it('sums exactly, covers only the minutes of [start, end) in order, and is proportional', () => {
    const time = fc.double({ min: T0 - 1e9, max: T0 + 1e9, noNaN: true });
    fc.assert(
      fc.property(
        time,
        fc.double({ min: -5 * MINUTE_MS, max: 90 * MINUTE_MS, noNaN: true }),
        fc.bigInt({ min: 0n, max: 2n ** 64n * 65_536n }),
        fc.bigInt({ min: 0n, max: 2n ** 64n }),
        (start, duration, bytes, packets) => {
          const end = start + duration;
          const shares = spread(start, end, bytes, packets);
          expect(shares.reduce((sum, [, b]) => sum + b, 0n)).toBe(bytes);
          expect(shares.reduce((sum, [, , p]) => sum + p, 0n)).toBe(packets);
          const firstMinute = Math.floor(start / MINUTE_MS) * MINUTE_MS;
          const lastMinute = end > start ? Math.ceil(end / MINUTE_MS) * MINUTE_MS - MINUTE_MS : firstMinute;
          for (let k = 0; k < shares.length; k++) {
            const [minute, b, p] = shares[k];
            expect(minute % MINUTE_MS).toBe(0);
            expect(minute).toBeGreaterThanOrEqual(firstMinute);
            expect(minute).toBeLessThanOrEqual(Math.max(firstMinute, lastMinute));
            if (k > 0) expect(minute).toBeGreaterThan(shares[k - 1][0]);
            expect(b >= 0n && p >= 0n && (b > 0n || p > 0n)).toBe(true);
          }
          // A full middle minute of a flow spanning 3+ minutes gets about 60 s worth of bytes.
          if (end - start > 3 * MINUTE_MS && bytes > 10n ** 12n) {
            const middle = shares.find(([minute]) => minute === firstMinute + MINUTE_MS);
            const expected = (Number(bytes) * MINUTE_MS) / (end - start);
            expect(Math.abs(Number(middle![1]) - expected) / expected).toBeLessThan(1e-6);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
