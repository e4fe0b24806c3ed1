import { describe, expect, it } from 'vitest';
import { UnattributedTally } from './unattributed-tally.js';

describe('UnattributedTally', () => {
  it('sums records, bytes and packets per exporter', () => {
    const tally = new UnattributedTally();
    tally.add(3, 1500n, 1n);
    tally.add(7, 40n, 1n);
    tally.add(3, 2n ** 64n, 10n);
    expect(tally.get(3)).toEqual({ records: 2, bytes: 2n ** 64n + 1500n, packets: 11n });
    expect(tally.get(7)).toEqual({ records: 1, bytes: 40n, packets: 1n });
    expect(tally.get(1)).toBeUndefined();
    expect(tally.records).toBe(3);
    expect(Array.from(tally.entries(), ([exporter]) => exporter)).toEqual([3, 7]);
    tally.clear();
    expect(tally.records).toBe(0);
  });
});
