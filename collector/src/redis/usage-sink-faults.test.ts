/**
 * The sink against a private redis-server that the tests kill, stop and pause: pushes
 * acknowledged before a kill -9 survive (AOF, fsync always), pending pushes are retried
 * with their seq until they land, and a late reply never makes a push count twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type RedisServer, startRedisServer } from '@flowbill/shared/testing/redis';
import type { Redis } from 'ioredis';
import type { UsageEntry } from '../aggregation/index.js';
import { readAcceptedTotals } from './accepted.js';
import { createRedisClient } from './client.js';
import { RedisKeys } from './keys.js';
import { MemoryMetrics } from './pipeline-metrics.js';
import { entry, eventually, sumEntries, sumOpenMinutes, TEST_MINUTE } from './testing.js';
import { type RefusalReason, RedisUsageSink, type RedisUsageSinkOptions } from './usage-sink.js';

const PREFIX = 'faults:';
const keys = new RedisKeys(PREFIX);
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setup(options: { persistent?: boolean } = {}, sinkOptions: Partial<RedisUsageSinkOptions> = {}) {
  const server = await startRedisServer({ persistent: options.persistent ?? true });
  cleanups.push(() => server.close());
  const redis = createRedisClient(server.url);
  cleanups.push(async () => {
    redis.disconnect();
  });
  const metrics = new MemoryMetrics();
  const sink = new RedisUsageSink(redis, {
    prefix: PREFIX,
    collectorId: 'c1',
    pushIntervalMs: 10,
    pushMaxKeys: 40,
    pushTimeoutMs: 2000,
    retry: { initialMs: 10, maxMs: 100 },
    metrics,
    ...sinkOptions,
  });
  cleanups.push(async () => {
    await sink.stop({ timeoutMs: 500 });
  });
  return { server, redis, sink, metrics };
}

/** Distinct-ish entries over 5 minutes and 30 subscribers, deterministic per round. */
function roundEntries(round: number): UsageEntry[] {
  return Array.from({ length: 12 }, (_, k) =>
    entry({ subscriberId: `s${(round * 7 + k) % 30}`, minute: TEST_MINUTE + 60 * ((round + k) % 5), bytes: BigInt(1000 + round * 13 + k), packets: BigInt(1 + k), flows: BigInt(k % 2) }),
  );
}

const allMinutes = Array.from({ length: 5 }, (_, k) => keys.minute(TEST_MINUTE + 60 * k));

/** Feed rounds every few ms; `at` runs actions (kill, restart) before given rounds. */
async function feed(sink: RedisUsageSink, rounds: number, at: Record<number, () => Promise<void>> = {}): Promise<UsageEntry[]> {
  const added: UsageEntry[] = [];
  for (let round = 0; round < rounds; round++) {
    await at[round]?.();
    const batch = roundEntries(round);
    expect(sink.add(batch)).toBe(0);
    added.push(...batch);
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
  return added;
}

async function readTotals(redis: Redis) {
  return { usage: await sumOpenMinutes(redis, allMinutes), accepted: await readAcceptedTotals(redis, keys) };
}

describe('RedisUsageSink with Redis failures', () => {
  it('loses no acknowledged push across a kill -9 and lands every pending push after the restart', async () => {
    const { server, redis, sink, metrics } = await setup();
    sink.start();
    let ackedBeforeKill = 0;
    const added = await feed(sink, 120, {
      40: async () => {
        await eventually(() => metrics.counter('push_acknowledged_total') >= 3, 5000, 'some pushes acknowledged');
        ackedBeforeKill = metrics.counter('push_acknowledged_total');
        await server.kill9();
      },
      80: () => server.restart(),
    });
    await sink.flush({ timeoutMs: 20_000 });
    expect(ackedBeforeKill).toBeGreaterThan(0);
    expect(metrics.counter('push_retries_total')).toBeGreaterThan(0);
    const totals = await readTotals(redis);
    expect(totals.usage).toEqual(sumEntries(added));
    expect(totals.accepted).toEqual(sumEntries(added));
  });

  it('(control) without AOF the same kill -9 loses acknowledged pushes, which the check above would catch', async () => {
    const { server, redis, sink, metrics } = await setup({ persistent: false });
    sink.start();
    const added = await feed(sink, 60, {
      20: async () => {
        await eventually(() => metrics.counter('push_acknowledged_total') >= 3, 5000, 'some pushes acknowledged');
        await server.kill9();
        await server.restart();
      },
    });
    await sink.flush({ timeoutMs: 20_000 });
    const totals = await readTotals(redis);
    expect(totals.accepted.bytes).toBeLessThan(sumEntries(added).bytes);
  });

  it('retries a push whose reply came too late with the same seq, and Redis applies it once', async () => {
    const { redis, sink, metrics, server } = await setup({}, { pushTimeoutMs: 100 });
    const admin = createRedisClient(server.url);
    cleanups.push(async () => {
      admin.disconnect();
    });
    await eventually(() => admin.status === 'ready', 5000, 'admin connection');
    await eventually(() => redis.status === 'ready', 5000, 'sink connection');
    // Writes wait 400 ms: the first attempt times out, is retried, and both copies run.
    await admin.call('CLIENT', 'PAUSE', '400', 'WRITE');
    const added = roundEntries(1);
    sink.add(added);
    await sink.flush({ timeoutMs: 10_000 });
    expect(metrics.counter('push_retries_total')).toBeGreaterThan(0);
    // The timed-out first copy was applied when the pause ended; the retry found it applied.
    expect(metrics.counter('push_duplicates_total')).toBe(1);
    const totals = await readTotals(redis);
    expect(totals.usage).toEqual(sumEntries(added));
    expect(totals.accepted).toEqual(sumEntries(added));
  });

  it('while Redis is down: keeps merging, refuses and reports new keys past the bound, signals backpressure, then delivers the rest', async () => {
    const refused: UsageEntry[] = [];
    const reasons = new Set<RefusalReason>();
    const pressure: boolean[] = [];
    const { server, redis, sink, metrics } = await setup(
      {},
      {
        maxPendingKeys: 50,
        onRefused: (entries, reason) => {
          refused.push(...entries);
          reasons.add(reason);
        },
        onBackpressure: (active) => pressure.push(active),
      },
    );
    await eventually(() => redis.status === 'ready', 5000, 'sink connection');
    await server.stop();
    const added: UsageEntry[] = [];
    for (let k = 0; k < 80; k++) {
      const one = entry({ subscriberId: `s${k}` });
      sink.add([one]);
      added.push(one);
    }
    // s0..s39 were sealed into a push at pushMaxKeys; s40..s49 are in the open push, where
    // an existing key still merges while full: no new memory, nothing refused.
    const merge = entry({ subscriberId: 's45', bytes: 5n, packets: 0n, flows: 0n });
    expect(sink.add([merge])).toBe(0);
    added.push(merge);
    expect(sink.pendingKeys).toBe(50);
    expect(sink.backpressure).toBe(true);
    expect(refused).toHaveLength(30);
    expect([...reasons]).toEqual(['queue-full']);
    expect(metrics.counter('sink_refused_entries_total')).toBe(30);
    expect(metrics.gauge('sink_backpressure')).toBe(1);

    await server.restart();
    await sink.flush({ timeoutMs: 20_000 });
    expect(pressure).toEqual([true, false]);
    const refusedKeys = new Set(refused.map((e) => e.subscriberId));
    const landed = added.filter((e) => !refusedKeys.has(e.subscriberId));
    expect((await readTotals(redis)).accepted).toEqual(sumEntries(landed));
  });

  it('stop with a timeout while Redis is down reports what it could not push', async () => {
    const refused: Array<[number, RefusalReason]> = [];
    const { server, redis, sink } = await setup({}, { onRefused: (entries, reason) => refused.push([entries.length, reason]) });
    await eventually(() => redis.status === 'ready', 5000, 'sink connection');
    await server.stop();
    sink.add(roundEntries(0));
    expect(await sink.stop({ timeoutMs: 300 })).toEqual({ unpushedKeys: 12 });
    expect(refused).toEqual([[12, 'unpushed-at-stop']]);
  });
});
