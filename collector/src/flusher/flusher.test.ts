/**
 * The flush protocol against real Redis with an in-memory store (fast, with fault
 * switches); flusher-clickhouse.test.ts runs the same protocol into a real ClickHouse.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import type { UsageEntry } from '../aggregation/index.js';
import { applyPush, buildPush, MemoryMetrics, RedisKeys, RedisUsageSink, usageLine } from '../redis/index.js';
import { dumpPrefix, entry, MALFORMED_LINES, minuteLines, TEST_MINUTE } from '../redis/testing.js';
import { MalformedBatchError } from './batch-reader.js';
import { Flusher, type FlusherOptions } from './flusher.js';
import { MemoryUsageStore, SimulatedCrash, sumByKey } from './testing.js';

let context: RedisPrefix;
let keys: RedisKeys;
const flushers: Flusher[] = [];

beforeEach(async () => {
  context = await createRedisPrefix();
  keys = new RedisKeys(context.prefix);
});
afterEach(async () => {
  for (const flusher of flushers.splice(0)) await flusher.stop();
  await context.cleanup();
});

/** Short leases so recovery tests wait ~0.3 s, not minutes. */
const FAST: Partial<FlusherOptions> = { closeDelayMs: 0, leaseMs: 300, insertTimeoutMs: 100, insertSettleMs: 20, retry: { initialMs: 10, maxMs: 50 }, claimIntervalMs: 20 };

function newFlusher(store: MemoryUsageStore, options: Partial<FlusherOptions> = {}): Flusher {
  const flusher = new Flusher(context.redis, store, { prefix: context.prefix, ...FAST, ...options });
  flushers.push(flusher);
  return flusher;
}

async function push(entries: UsageEntry[], collectorId = 'c1'): Promise<void> {
  const sink = new RedisUsageSink(context.redis, { prefix: context.prefix, collectorId });
  sink.add(entries);
  await sink.stop();
}

function expectedByKey(entries: UsageEntry[]) {
  return sumByKey(entries.map((e) => ({ ...e })));
}

/** n distinct rows over `minutes` minutes. */
function spreadEntries(n: number, minutes = 3): UsageEntry[] {
  return Array.from({ length: n }, (_, k) => entry({ subscriberId: `s${k % 17}`, address: `100.64.0.${k % 50}`, minute: TEST_MINUTE + 60 * (k % minutes), bytes: BigInt(1000 + k), packets: BigInt(1 + (k % 7)), flows: BigInt(k % 3) }));
}

const waitForLeases = () => new Promise((resolve) => setTimeout(resolve, 350));

/** Only the push bookkeeping may remain once everything is flushed. */
async function expectRedisDrained(): Promise<void> {
  const left = Object.keys(await dumpPrefix(context.redis, context.prefix)).filter((key) => !key.endsWith(':accepted') && !key.includes(':push:'));
  expect(left).toEqual([]);
}

describe('Flusher', () => {
  it('flushes every row exactly and leaves nothing behind in Redis', async () => {
    const added = spreadEntries(40);
    await push(added);
    const store = new MemoryUsageStore();
    const metrics = new MemoryMetrics();
    const summary = await newFlusher(store, { metrics }).runOnce();
    expect(summary).toMatchObject({ claimed: 1, done: 1, lost: 0, partsInserted: 1, partsPresent: 0 });
    expect(store.byKey()).toEqual(expectedByKey(added));
    expect(store.duplicateInserts).toBe(0);
    await expectRedisDrained();
    expect(metrics.counter('flush_rows_total')).toBe(summary.rows);
    expect(metrics.gauge('flush_lag_seconds')).toBe(0);
    expect(metrics.histograms.get('flush_insert_seconds')).toHaveLength(1);
  });

  it('claims only minutes closed for closeDelay (by the Redis clock)', async () => {
    const [seconds] = await context.redis.time();
    const current = Math.floor(Number(seconds) / 60) * 60;
    await push([entry({ minute: current }), entry({ minute: current - 600 })]);
    const store = new MemoryUsageStore();
    const metrics = new MemoryMetrics();
    await newFlusher(store, { closeDelayMs: 90_000, metrics }).runOnce();
    expect(store.allRows().map((row) => row.minute)).toEqual([current - 600]);
    expect(await context.redis.zrange(keys.minutes, 0, -1)).toEqual([String(current)]);
    expect(await context.redis.exists(keys.minute(current))).toBe(1);
    const lag = metrics.gauge('flush_lag_seconds') ?? -1;
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(180);
  });

  it('cuts a batch into parts of maxInsertRows with stable ids', async () => {
    const added = spreadEntries(25, 2);
    await push(added);
    const store = new MemoryUsageStore();
    const summary = await newFlusher(store, { maxInsertRows: 10 }).runOnce();
    expect(summary.partsInserted).toBe(3);
    expect([...store.batches.keys()].map((id) => id.replace(/^\d+-[0-9a-f]+/, 'B'))).toEqual(['B.0', 'B.1', 'B.2']);
    expect([...store.batches.values()].map((rows) => rows.length)).toEqual([10, 10, 5]);
    expect(store.byKey()).toEqual(expectedByKey(added));
  });

  it('puts minutes beyond maxBatchBytes into further batches', async () => {
    const added = spreadEntries(30, 3); // 10 rows per minute
    await push(added);
    const sizes = await Promise.all([0, 1, 2].map((k) => context.redis.strlen(keys.minute(TEST_MINUTE + 60 * k))));
    const store = new MemoryUsageStore();
    // Room for the first two minutes' strings, not the third.
    const summary = await newFlusher(store, { maxBatchBytes: sizes[0] + sizes[1] }).runOnce();
    expect(summary.claimed).toBe(2);
    expect([...store.batches.values()].map((rows) => new Set(rows.map((row) => row.minute)).size)).toEqual([2, 1]);
    expect(store.byKey()).toEqual(expectedByKey(added));
  });

  it('sums the lines of every push a minute string holds', async () => {
    const added: UsageEntry[] = [];
    for (let round = 0; round < 5; round++) {
      const batch = spreadEntries(20, 2).map((e, k) => ({ ...e, bytes: e.bytes + BigInt(round * k), flows: BigInt(round % 2) }));
      await push(batch, `c${round % 2}`);
      added.push(...batch);
    }
    // Two collectors, five pushes: every row has one line per push in its minute string.
    expect(await minuteLines(context.redis, keys.minute(TEST_MINUTE))).toHaveLength(5 * 10);
    const store = new MemoryUsageStore();
    expect(await newFlusher(store).runOnce()).toMatchObject({ claimed: 1, done: 1, rows: 20 });
    expect(store.byKey()).toEqual(expectedByKey(added));
    await expectRedisDrained();
  });

  it('reads big strings in pages, stitching the lines cut at page edges', async () => {
    const added = spreadEntries(60, 2).map((e, k) => ({ ...e, subscriberId: `${e.subscriberId}-ü${'x'.repeat(k % 9)}` }));
    for (let round = 0; round < 3; round++) await push(added);
    const stores: MemoryUsageStore[] = [];
    // A page smaller than one line, a few lines, and the default (one GET).
    for (const readPageBytes of [7, 64, 1000, undefined]) {
      const keep = await dumpPrefix(context.redis, context.prefix);
      const store = new MemoryUsageStore();
      expect(await newFlusher(store, { readPageBytes }).runOnce()).toMatchObject({ done: 1 });
      stores.push(store);
      // Put the same minute strings back for the next page size.
      for (const [key, value] of Object.entries(keep)) {
        if (key.includes('{u}:m:')) await context.redis.set(key, value as string);
        if (key.endsWith('{u}:minutes')) await context.redis.zadd(key, ...(value as string[]).flatMap((v, i, all) => (i % 2 === 0 ? [all[i + 1], v] : [])));
      }
    }
    const expected = sumByKey([...added, ...added, ...added].map((e) => ({ ...e })));
    for (const store of stores) {
      expect(store.byKey()).toEqual(expected);
      expect(store.allRows()).toEqual(stores[3].allRows());
    }
  });

  it('sums lines past 2^53 exactly, in bigint', async () => {
    const big = 2n ** 53n - 1n;
    for (let seq = 1; seq <= 3; seq++) {
      await applyPush(context.redis, keys, buildPush({ collectorId: 'c1', runId: 'r1', seq }, [entry({ bytes: big, packets: big, flows: 1n }), entry({ subscriberId: 'bob', bytes: 1n })]), 60);
    }
    // A line the sink would never send (over 2^53 in one push) is still summed exactly.
    await context.redis.append(keys.minute(TEST_MINUTE), `${usageLine('alice', '100.64.0.7', 'download', 'internet', 2n ** 64n + 1n, 0n, 0n)}\n`);
    const store = new MemoryUsageStore();
    await newFlusher(store).runOnce();
    expect(store.byKey()).toEqual({
      [`${TEST_MINUTE}|alice|100.64.0.7|download|internet`]: `${3n * big + 2n ** 64n + 1n}/${3n * big}/3`,
      [`${TEST_MINUTE}|bob|100.64.0.7|download|internet`]: '3/30/3',
    });
  });

  it('after a crash between insert and cleanup, the next flusher only cleans up', async () => {
    const added = spreadEntries(20);
    await push(added);
    const store = new MemoryUsageStore();
    const crashing = newFlusher(store, {
      hooks: {
        beforeCleanup: () => {
          throw new SimulatedCrash('killed before cleanup');
        },
      },
    });
    await expect(crashing.runOnce()).rejects.toThrow(SimulatedCrash);
    expect(await context.redis.zcard(keys.flushing)).toBe(1);

    const next = newFlusher(store);
    // The lease still holds: nothing to recover yet.
    expect(await next.runOnce()).toMatchObject({ recovered: 0, done: 0 });
    await waitForLeases();
    expect(await next.runOnce()).toMatchObject({ recovered: 1, done: 1, partsInserted: 0, partsPresent: 1 });
    expect(store.duplicateInserts).toBe(0);
    expect(store.byKey()).toEqual(expectedByKey(added));
    await expectRedisDrained();
  });

  it('after a crash between two parts, the next flusher inserts only the missing parts', async () => {
    const added = spreadEntries(30);
    await push(added);
    const store = new MemoryUsageStore();
    const crashing = newFlusher(store, {
      maxInsertRows: 10,
      hooks: {
        afterInsert: (partId) => {
          if (partId.endsWith('.0')) throw new SimulatedCrash('killed after part 0');
        },
      },
    });
    await expect(crashing.runOnce()).rejects.toThrow(SimulatedCrash);
    expect(store.batches.size).toBe(1);
    await waitForLeases();
    // A different maxInsertRows here must not matter: the batch recorded its chunk size.
    const summary = await newFlusher(store, { maxInsertRows: 7 }).runOnce();
    expect(summary).toMatchObject({ recovered: 1, done: 1, partsPresent: 1, partsInserted: 2 });
    expect(store.duplicateInserts).toBe(0);
    expect(store.byKey()).toEqual(expectedByKey(added));
  });

  it('retries while the store is down and when a reply is lost, inserting once', async () => {
    const added = spreadEntries(12);
    await push(added);
    const store = new MemoryUsageStore();
    store.down = true;
    store.lostReplies = 1;
    const metrics = new MemoryMetrics();
    const errors: string[] = [];
    const flusher = newFlusher(store, { metrics, onError: (_error, context) => errors.push(context) });
    const cycle = flusher.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(store.batches.size).toBe(0);
    store.down = false;
    expect(await cycle).toMatchObject({ done: 1 });
    expect(metrics.counter('flush_retries_total')).toBeGreaterThan(2);
    expect(errors.some((context) => context.startsWith('insert'))).toBe(true);
    expect(store.duplicateInserts).toBe(0);
    expect(store.byKey()).toEqual(expectedByKey(added));
  });

  it('fences a flusher that stalled past its lease: the taker-over stores the batch once', async () => {
    const added = spreadEntries(10);
    await push(added);
    const store = new MemoryUsageStore();
    let release!: () => void;
    const stalled = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slow = newFlusher(store, {
      hooks: {
        beforeInsert: async () => {
          await stalled;
        },
      },
    });
    const slowCycle = slow.runOnce();
    await waitForLeases();
    const fast = newFlusher(store);
    expect(await fast.runOnce()).toMatchObject({ recovered: 1, done: 1, partsInserted: 1 });
    release();
    expect(await slowCycle).toMatchObject({ lost: 1, done: 0, partsInserted: 0 });
    expect(store.duplicateInserts).toBe(0);
    expect(store.byKey()).toEqual(expectedByKey(added));
  });

  it('two flushers running at once store everything once', async () => {
    const store = new MemoryUsageStore();
    const first = newFlusher(store);
    const second = newFlusher(store);
    first.start();
    second.start();
    const added: UsageEntry[] = [];
    for (let round = 0; round < 15; round++) {
      const batch = spreadEntries(8, 4).map((e) => ({ ...e, bytes: e.bytes + BigInt(round) }));
      await push(batch);
      added.push(...batch);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await first.stop();
    await second.stop();
    await newFlusher(store).runOnce();
    expect(store.duplicateInserts).toBe(0);
    expect(store.byKey()).toEqual(expectedByKey(added));
    await expectRedisDrained();
  });

  it('flushes late data for a flushed minute as a second batch of that minute', async () => {
    const store = new MemoryUsageStore();
    const flusher = newFlusher(store);
    await push([entry({ bytes: 100n })]);
    await flusher.runOnce();
    await push([entry({ bytes: 23n, packets: 1n, flows: 0n })]);
    expect(await flusher.runOnce()).toMatchObject({ claimed: 1, done: 1 });
    expect(store.batches.size).toBe(2);
    expect(store.byKey()).toEqual({ [`${TEST_MINUTE}|alice|100.64.0.7|download|internet`]: '123/11/1' });
  });

  it('on stop mid-batch releases the lease, so another flusher takes the batch at once', async () => {
    await push(spreadEntries(5));
    const store = new MemoryUsageStore();
    store.down = true;
    const stopping = newFlusher(store);
    const cycle = stopping.runOnce();
    await new Promise((resolve) => setTimeout(resolve, 50));
    await stopping.stop();
    await cycle;
    store.down = false;
    // No wait for the 300 ms lease.
    expect(await newFlusher(store).runOnce()).toMatchObject({ recovered: 1, done: 1 });
  });

  it('leaves a batch with a line the push script never writes in Redis, reports it, and flushes the others', async () => {
    await push([entry(), entry({ minute: TEST_MINUTE + 60 })]);
    await context.redis.append(keys.minute(TEST_MINUTE), 'garbage\tline\n');
    await push([entry({ bytes: 5n })]);
    const store = new MemoryUsageStore();
    const errors: unknown[] = [];
    const metrics = new MemoryMetrics();
    const summary = await newFlusher(store, { maxBatchBytes: 1, metrics, onError: (error) => errors.push(error) }).runOnce();
    expect(summary).toMatchObject({ claimed: 2, done: 1, malformed: 1 });
    expect(metrics.counter('flush_batches_malformed_total')).toBe(1);
    expect(errors[0]).toBeInstanceOf(MalformedBatchError);
    const batchId = (await context.redis.zrange(keys.flushing, 0, -1))[0];
    expect(String(errors[0])).toContain(`batch ${batchId}, minute ${TEST_MINUTE}: line 2 "garbage\\tline"`);
    expect(store.allRows().map((row) => row.minute)).toEqual([TEST_MINUTE + 60]);
    // The batch keeps every line, the good ones included, for a person to fix.
    expect(await minuteLines(context.redis, keys.claimed(batchId, TEST_MINUTE))).toEqual([
      usageLine('alice', '100.64.0.7', 'download', 'internet', 1000n, 10n, 1n),
      'garbage\tline',
      usageLine('alice', '100.64.0.7', 'download', 'internet', 5n, 10n, 1n),
    ]);
    expect(await context.redis.keys(`${context.prefix}*f:*`)).toHaveLength(1);
  });

  it('refuses every kind of line the push script never writes, whatever the page size', async () => {
    for (const [k, bad] of MALFORMED_LINES.entries()) {
      const minute = TEST_MINUTE + 60 * k;
      await push([entry({ minute }), entry({ minute, subscriberId: 'bob' })]);
      // In the middle of the string: good lines before and after it.
      const [first, second] = await minuteLines(context.redis, keys.minute(minute));
      await context.redis.set(keys.minute(minute), `${first}\n${bad}\n${second}\n`);
    }
    for (const readPageBytes of [5, 4096]) {
      const errors: unknown[] = [];
      const store = new MemoryUsageStore();
      const leases = await context.redis.zrange(keys.flushing, 0, -1);
      for (const batchId of leases) await context.redis.zadd(keys.flushing, 0, batchId);
      const summary = await newFlusher(store, { maxBatchBytes: 1, readPageBytes, onError: (error) => errors.push(error) }).runOnce();
      expect(summary.malformed).toBe(MALFORMED_LINES.length);
      expect(store.batches.size).toBe(0);
      expect(errors.map((error) => (error instanceof MalformedBatchError ? /line 2 /.test(error.message) : error))).toEqual(MALFORMED_LINES.map(() => true));
    }
  });

  it('refuses a minute string without a final newline (a cut line)', async () => {
    await push([entry()]);
    await context.redis.append(keys.minute(TEST_MINUTE), 'alice\t100.64.0.7\tdownload\tinternet\t1\t1');
    const errors: unknown[] = [];
    const store = new MemoryUsageStore();
    expect(await newFlusher(store, { readPageBytes: 16, onError: (error) => errors.push(error) }).runOnce()).toMatchObject({ malformed: 1 });
    expect(String(errors[0])).toContain('line 2');
    expect(String(errors[0])).toContain('has no newline at the end');
    expect(store.batches.size).toBe(0);
  });

  it('claims an empty or vanished minute without a batch, and fails loudly on a minute hash of the older layout', async () => {
    await context.redis.zadd(keys.minutes, TEST_MINUTE, String(TEST_MINUTE));
    const store = new MemoryUsageStore();
    expect(await newFlusher(store).runOnce()).toMatchObject({ claimed: 0 });
    expect(await context.redis.zcard(keys.minutes)).toBe(0);

    await push([entry({ minute: TEST_MINUTE + 60 })]);
    await context.redis.hset(keys.minute(TEST_MINUTE + 120), 'alice\t100.64.0.7\tdownload\tinternet\tb', '1');
    await context.redis.zadd(keys.minutes, TEST_MINUTE + 120, String(TEST_MINUTE + 120));
    // The string minute before it is claimed and flushed; then the hash stops the claims.
    await expect(newFlusher(store).runOnce()).rejects.toThrow(`${keys.minute(TEST_MINUTE + 120)} is a hash, not a minute string`);
    expect(store.allRows().map((row) => row.minute)).toEqual([TEST_MINUTE + 60]);
    expect(await context.redis.zrange(keys.minutes, 0, -1)).toEqual([String(TEST_MINUTE + 120)]);
    expect(await context.redis.zcard(keys.flushing)).toBe(0);
  });

  it('refuses a lease too short for an insert', () => {
    expect(() => new Flusher(context.redis, new MemoryUsageStore(), { prefix: context.prefix, leaseMs: 1000, insertTimeoutMs: 900, insertSettleMs: 100 })).toThrow('leaseMs');
  });
});
