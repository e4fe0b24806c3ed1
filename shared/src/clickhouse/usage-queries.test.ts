import { describe, expect, it } from 'vitest';
import { withClickHouse } from '../testing/clickhouse.js';
import { createClickHouse } from './client.js';
import { ClickHouseError } from './errors.js';
import {
  alignRange,
  batchExists,
  existingBatches,
  insertUsageBatch,
  insertUsageBatches,
  MAX_BUCKETS,
  usageSeries,
  UsageRangeError,
  validateRange,
  type UsageRow,
} from './usage-queries.js';

const ctx = withClickHouse({ migrate: true, server: { users: [{ name: 'api', password: 'api-secret', readonly: true }] } });

const DAY = Date.UTC(2024, 2, 10) / 1000; // 2024-03-10T00:00:00Z
const HOUR = 3_600;
const MIN = 60;

function row(minute: number, overrides: Partial<UsageRow> = {}): UsageRow {
  return {
    minute,
    subscriberId: 'alice',
    address: '198.51.100.7',
    direction: 'download',
    trafficClass: 'internet',
    bytes: 1n,
    packets: 1n,
    flows: 1n,
    ...overrides,
  };
}

/** Two days of traffic for alice (two addresses, two classes, both directions) and some for bob. */
async function seed(): Promise<void> {
  await insertUsageBatch(ctx.ch, `${DAY}-first`, [
    row(DAY, { bytes: 1_000n, packets: 10n, flows: 2n }),
    row(DAY, { address: '2001:db8::7', bytes: 500n, packets: 5n, flows: 1n }),
    row(DAY, { direction: 'upload', bytes: 70n, packets: 7n, flows: 1n }),
    row(DAY, { trafficClass: 'cdn', bytes: 3_000n, packets: 30n, flows: 1n }),
    row(DAY + MIN, { bytes: 2_000n, packets: 20n, flows: 1n }),
    row(DAY + HOUR + 5 * MIN, { bytes: 4_000n, packets: 40n, flows: 1n }),
    row(DAY + 24 * HOUR, { bytes: 8_000n, packets: 80n, flows: 1n }),
    row(DAY, { subscriberId: 'bob', bytes: 99_999n, packets: 999n, flows: 9n }),
  ]);
}

describe('usageSeries', () => {
  it('returns exact per-minute sums by direction and class, with totals', async () => {
    await seed();
    const series = await usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY, to: DAY + 2 * MIN, step: '1m' });
    expect(series.buckets).toEqual([
      {
        start: DAY,
        classes: [
          { direction: 'download', trafficClass: 'cdn', bytes: 3_000n, packets: 30n, flows: 1n },
          { direction: 'download', trafficClass: 'internet', bytes: 1_500n, packets: 15n, flows: 3n },
          { direction: 'upload', trafficClass: 'internet', bytes: 70n, packets: 7n, flows: 1n },
        ],
        total: { download: { bytes: 4_500n, packets: 45n, flows: 4n }, upload: { bytes: 70n, packets: 7n, flows: 1n } },
      },
      {
        start: DAY + MIN,
        classes: [{ direction: 'download', trafficClass: 'internet', bytes: 2_000n, packets: 20n, flows: 1n }],
        total: { download: { bytes: 2_000n, packets: 20n, flows: 1n }, upload: { bytes: 0n, packets: 0n, flows: 0n } },
      },
    ]);
    expect(series.total).toEqual({ download: { bytes: 6_500n, packets: 65n, flows: 5n }, upload: { bytes: 70n, packets: 7n, flows: 1n } });
    expect(series).toMatchObject({ subscriberId: 'alice', step: '1m', from: DAY, to: DAY + 2 * MIN });
  });

  it('returns hourly and daily sums from the rollups, half-open at the end', async () => {
    await seed();
    const hours = await usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY, to: DAY + 2 * HOUR, step: '1h' });
    expect(hours.buckets.map((b) => [b.start, b.total.download.bytes, b.total.upload.bytes])).toEqual([
      [DAY, 6_500n, 70n],
      [DAY + HOUR, 4_000n, 0n],
    ]);
    const firstHourOnly = await usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY, to: DAY + HOUR, step: '1h' });
    expect(firstHourOnly.buckets.map((b) => b.start)).toEqual([DAY]);

    const days = await usageSeries(ctx.ch, { subscriberId: 'alice', from: new Date(DAY * 1000), to: DAY + 2 * 24 * HOUR, step: '1d' });
    expect(days.buckets.map((b) => [b.start, b.total.download.bytes, b.total.download.packets, b.total.download.flows])).toEqual([
      [DAY, 10_500n, 105n, 6n],
      [DAY + 24 * HOUR, 8_000n, 80n, 1n],
    ]);
    expect(days.buckets[0].classes.map((c) => [c.direction, c.trafficClass, c.bytes])).toEqual([
      ['download', 'cdn', 3_000n],
      ['download', 'internet', 7_500n],
      ['upload', 'internet', 70n],
    ]);
  });

  it('adds a late second batch for an already-flushed minute at every step', async () => {
    await seed();
    const before = await Promise.all(
      (['1m', '1h', '1d'] as const).map((step) => usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY, to: DAY + 24 * HOUR, step })),
    );
    await insertUsageBatch(ctx.ch, `${DAY}-late`, [row(DAY, { bytes: 11n, packets: 1n, flows: 0n })]);
    for (const [i, step] of (['1m', '1h', '1d'] as const).entries()) {
      const after = await usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY, to: DAY + 24 * HOUR, step });
      expect(after.buckets[0].total.download.bytes - before[i].buckets[0].total.download.bytes, step).toBe(11n);
      expect(after.total.download.packets - before[i].total.download.packets, step).toBe(1n);
    }
  });

  it('sums counters above 2^53 exactly', async () => {
    const big = 2n ** 62n + 3n;
    await insertUsageBatch(ctx.ch, 'big-1', [row(DAY, { bytes: big, packets: 2n ** 53n + 1n })]);
    await insertUsageBatch(ctx.ch, 'big-2', [row(DAY + MIN, { bytes: big, packets: 2n ** 53n + 1n })]);
    for (const step of ['1m', '1h', '1d'] as const) {
      const series = await usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY, to: DAY + 24 * HOUR, step });
      expect(series.total.download.bytes, step).toBe(2n * big); // 2^63 + 6, beyond any double
      expect(series.total.download.packets, step).toBe(2n ** 54n + 2n);
    }
  });

  it('returns no buckets for a range or subscriber without traffic', async () => {
    await seed();
    const empty = await usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY + 2 * MIN, to: DAY + 3 * MIN, step: '1m' });
    expect(empty.buckets).toEqual([]);
    expect(empty.total.download).toEqual({ bytes: 0n, packets: 0n, flows: 0n });
    expect((await usageSeries(ctx.ch, { subscriberId: 'nobody', from: DAY, to: DAY + HOUR, step: '1h' })).buckets).toEqual([]);
  });

  it('works for a readonly=1 user (as the API should use), which may change no settings', async () => {
    await seed();
    const api = createClickHouse({ url: ctx.server.url, database: ctx.database, username: 'api', password: 'api-secret' });
    try {
      const series = await usageSeries(api, { subscriberId: 'alice', from: DAY, to: DAY + 24 * HOUR, step: '1h' });
      expect(series.total.download.bytes).toBe(10_500n);
      expect(await batchExists(api, `${DAY}-first`)).toBe(true);
      // It really is readonly: writing is refused.
      const refused = await insertUsageBatch(api, 'ro', [row(DAY)]).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ClickHouseError);
      expect((refused as ClickHouseError).code).toBe(164); // READONLY
    } finally {
      await api.close();
    }
  });

  it('treats injection attempts in the subscriber id as plain text', async () => {
    await seed();
    const attempts = [
      "alice' OR 1=1 --",
      "' OR subscriber_id != '",
      "alice\\' OR 1=1 --",
      "x'; DROP TABLE usage_1m; --",
      'alice\0',
      "alice'\n OR 1=1",
    ];
    for (const subscriberId of attempts) {
      const series = await usageSeries(ctx.ch, { subscriberId, from: DAY, to: DAY + 24 * HOUR, step: '1m' });
      expect(series.buckets, JSON.stringify(subscriberId)).toEqual([]);
    }
    // The table is intact and alice's data unchanged.
    const alice = await usageSeries(ctx.ch, { subscriberId: 'alice', from: DAY, to: DAY + 24 * HOUR, step: '1h' });
    expect(alice.total.download.bytes).toBe(10_500n);
    expect(await batchExists(ctx.ch, "x' OR 1=1 --")).toBe(false);
  });

  it('finds subscribers whose ids contain quotes, backslashes, newlines and NUL', async () => {
    const odd = ["o'brien", 'back\\slash', 'new\nline', 'nul\0id', "\\'"];
    await insertUsageBatch(
      ctx.ch,
      'odd',
      odd.map((subscriberId, i) => row(DAY, { subscriberId, bytes: BigInt(i + 1) })),
    );
    for (const [i, subscriberId] of odd.entries()) {
      const series = await usageSeries(ctx.ch, { subscriberId, from: DAY, to: DAY + MIN, step: '1m' });
      expect(series.total.download.bytes, JSON.stringify(subscriberId)).toBe(BigInt(i + 1));
    }
  });

  it('rejects misaligned, empty, reversed and oversized ranges with a clear error', async () => {
    const call = (from: number, to: number, step: '1m' | '1h' | '1d') => usageSeries(ctx.ch, { subscriberId: 'alice', from, to, step });
    await expect(call(DAY + 30, DAY + HOUR, '1m')).rejects.toThrow(/from=1710028830 \(2024-03-10T00:00:30Z\) is not aligned to the 1m step; use 1710028800/);
    await expect(call(DAY, DAY + HOUR + MIN, '1h')).rejects.toThrow(/to=.* is not aligned to the 1h step/);
    await expect(call(DAY + HOUR, DAY + 25 * HOUR, '1d')).rejects.toThrow(UsageRangeError);
    await expect(call(DAY, DAY, '1m')).rejects.toThrow(/empty range/);
    await expect(call(DAY + MIN, DAY, '1m')).rejects.toThrow(/empty range/);
    await expect(call(DAY, DAY + (MAX_BUCKETS + 1) * MIN, '1m')).rejects.toThrow(/at most 100000/);
    await expect(call(DAY + 0.5, DAY + MIN, '1m')).rejects.toThrow(/whole epoch seconds/);
    await expect(usageSeries(ctx.ch, { subscriberId: '', from: DAY, to: DAY + MIN, step: '1m' })).rejects.toThrow(/subscriberId/);
    await expect(usageSeries(ctx.ch, { subscriberId: 'a', from: DAY, to: DAY + MIN, step: '5m' as '1m' })).rejects.toThrow(/step must be/);
  });
});

describe('range helpers', () => {
  it('alignRange widens to whole buckets; validateRange accepts the result', () => {
    expect(alignRange(DAY + 90, DAY + HOUR + 1, '1h')).toEqual({ from: DAY, to: DAY + 2 * HOUR });
    expect(alignRange(DAY, DAY + HOUR, '1h')).toEqual({ from: DAY, to: DAY + HOUR });
    expect(alignRange(DAY + 1, DAY + 2, '1d')).toEqual({ from: DAY, to: DAY + 24 * HOUR });
    const aligned = alignRange(DAY + 7, DAY + 3 * MIN + 1, '1m');
    expect(validateRange(aligned.from, aligned.to, '1m')).toEqual({ from: DAY, to: DAY + 4 * MIN });
  });
});

describe('flusher writes', () => {
  it('batchExists turns true after insertUsageBatch, for that batch only', async () => {
    expect(await batchExists(ctx.ch, `${DAY}-x1`)).toBe(false);
    await insertUsageBatch(ctx.ch, `${DAY}-x1`, [row(DAY)]);
    expect(await batchExists(ctx.ch, `${DAY}-x1`)).toBe(true);
    expect(await batchExists(ctx.ch, `${DAY}-x2`)).toBe(false);
  });

  it('one insertUsageBatches call writes several batches in one INSERT, each carrying its batch_id', async () => {
    await insertUsageBatches(ctx.ch, [
      { batchId: 'g-1', rows: [row(DAY), row(DAY, { direction: 'upload' })] },
      { batchId: 'g-2', rows: [row(DAY + MIN)] },
    ]);
    expect(await existingBatches(ctx.ch, ['g-1', 'g-2', 'g-3'])).toEqual(new Set(['g-1', 'g-2']));
    const rows = await ctx.ch.query('SELECT batch_id, count() AS n, uniqExact(inserted_at) AS stamps FROM usage_1m GROUP BY batch_id ORDER BY batch_id');
    expect(rows).toEqual([
      { batch_id: 'g-1', n: '2', stamps: '1' },
      { batch_id: 'g-2', n: '1', stamps: '1' },
    ]);
    // One INSERT is one part of usage_1m (same month), not one per batch.
    const [{ parts }] = await ctx.ch.query<{ parts: string }>("SELECT count() AS parts FROM system.parts WHERE database = currentDatabase() AND table = 'usage_1m' AND active");
    expect(parts).toBe('1');
  });

  it('refuses rows it cannot store faithfully, before sending anything', async () => {
    const bad: [string, UsageRow][] = [
      ['not the start of a minute', row(DAY + 1)],
      ['direction', row(DAY, { direction: 'sideways' as 'download' })],
      ['outside UInt64', row(DAY, { bytes: 2n ** 64n })],
      ['outside UInt64', row(DAY, { packets: -1n })],
      ['subscriberId', row(DAY, { subscriberId: '' })],
      ['trafficClass', row(DAY, { trafficClass: '' })],
    ];
    for (const [message, r] of bad) {
      await expect(insertUsageBatch(ctx.ch, 'bad', [row(DAY), r]), message).rejects.toThrow(new RegExp(message));
    }
    await expect(insertUsageBatch(ctx.ch, 'empty', [])).rejects.toThrow(/has no rows/);
    await expect(insertUsageBatches(ctx.ch, [{ batchId: 'd', rows: [row(DAY)] }, { batchId: 'd', rows: [row(DAY)] }])).rejects.toThrow(/twice/);
    const [{ n }] = await ctx.ch.query<{ n: string }>('SELECT count() AS n FROM usage_1m');
    expect(n).toBe('0');
  });
});
