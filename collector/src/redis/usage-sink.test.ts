import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import type { UsageEntry } from '../aggregation/index.js';
import { readAcceptedTotals } from './accepted.js';
import { RedisKeys, usageLine } from './keys.js';
import { MemoryMetrics } from './pipeline-metrics.js';
import { eventually, entry, minuteLines, sumEntries, sumOpenMinutes, TEST_MINUTE } from './testing.js';
import { type RefusalReason, RedisUsageSink } from './usage-sink.js';

let context: RedisPrefix;
let keys: RedisKeys;
const sinks: RedisUsageSink[] = [];

beforeEach(async () => {
  context = await createRedisPrefix();
  keys = new RedisKeys(context.prefix);
});
afterEach(async () => {
  for (const sink of sinks.splice(0)) await sink.stop({ timeoutMs: 1000 });
  await context.cleanup();
});

function newSink(options: Partial<ConstructorParameters<typeof RedisUsageSink>[1]> = {}): RedisUsageSink {
  const sink = new RedisUsageSink(context.redis, { prefix: context.prefix, collectorId: 'c1', ...options });
  sinks.push(sink);
  return sink;
}

const minuteKeys = (count: number) => Array.from({ length: count }, (_, k) => keys.minute(TEST_MINUTE + 60 * k));

describe('RedisUsageSink', () => {
  it('lands every entry once, summing entries of the same key', async () => {
    const metrics = new MemoryMetrics();
    const sink = newSink({ metrics });
    sink.add([entry(), entry({ direction: 'upload', bytes: 1n, packets: 1n, flows: 0n })]);
    sink.add([entry({ bytes: 2n ** 50n, packets: 5n, flows: 2n })]);
    expect(sink.pendingKeys).toBe(2);
    await sink.flush();
    expect(sink.pendingKeys).toBe(0);
    // Merged in the sink: one line per key of the push.
    expect(await minuteLines(context.redis, keys.minute(TEST_MINUTE))).toEqual([
      usageLine('alice', '100.64.0.7', 'download', 'internet', 2n ** 50n + 1000n, 15n, 3n),
      usageLine('alice', '100.64.0.7', 'upload', 'internet', 1n, 1n, 0n),
    ]);
    expect(await readAcceptedTotals(context.redis, keys)).toEqual({ bytes: 2n ** 50n + 1001n, packets: 16n, flows: 3n });
    expect(metrics.counter('push_acknowledged_total')).toBe(1);
    expect(metrics.counter('push_entries_total')).toBe(2);
    expect(metrics.gauge('sink_pending_entries')).toBe(0);
  });

  it('splits at pushMaxKeys into pushes with their own seqs, all applied', async () => {
    const metrics = new MemoryMetrics();
    const sink = newSink({ metrics, pushMaxKeys: 3 });
    const added = Array.from({ length: 10 }, (_, k) => entry({ subscriberId: `s${k}`, minute: TEST_MINUTE + 60 * (k % 2) }));
    sink.add(added);
    await sink.flush();
    expect(metrics.counter('push_acknowledged_total')).toBe(4);
    expect(await context.redis.get(keys.pushSeq('c1', sink.runId))).toBe('4');
    expect(await sumOpenMinutes(context.redis, minuteKeys(2))).toEqual(sumEntries(added));
  });

  it('pushes on its own timer', async () => {
    const sink = newSink({ pushIntervalMs: 20 });
    sink.start();
    sink.add([entry()]);
    await eventually(() => sink.pendingKeys === 0, 5000, 'timer push');
    expect(await readAcceptedTotals(context.redis, keys)).toEqual({ bytes: 1000n, packets: 10n, flows: 1n });
  });

  it('refuses and reports implausible counters instead of sending them', async () => {
    const metrics = new MemoryMetrics();
    const refused: Array<[number, RefusalReason]> = [];
    const sink = newSink({ metrics, onRefused: (entries, reason) => refused.push([entries.length, reason]) });
    expect(sink.add([entry({ bytes: 2n ** 53n }), entry({ subscriberId: 'ok' }), entry({ packets: -1n })])).toBe(2);
    // A merge that would pass the limit is refused too; the first part stays.
    expect(sink.add([entry({ subscriberId: 'ok', bytes: 2n ** 53n - 1000n })])).toBe(1);
    await sink.flush();
    expect(refused).toEqual([
      [2, 'implausible-counter'],
      [1, 'implausible-counter'],
    ]);
    expect(metrics.counter('sink_refused_entries_total')).toBe(3);
    expect(await readAcceptedTotals(context.redis, keys)).toEqual({ bytes: 1000n, packets: 10n, flows: 1n });
  });

  it('counts nothing twice when two collectors share one Redis', async () => {
    const first = newSink({ collectorId: 'collector-a', pushIntervalMs: 5, pushMaxKeys: 7 });
    const second = newSink({ collectorId: 'collector-b', pushIntervalMs: 5, pushMaxKeys: 7 });
    first.start();
    second.start();
    const added: UsageEntry[] = [];
    for (let round = 0; round < 40; round++) {
      for (const [sink, exporter] of [
        [first, '192.0.2.1'],
        [second, '192.0.2.2'],
      ] as const) {
        // Overlapping usage keys (same subscribers and minutes) from both collectors.
        const batch = Array.from({ length: 5 }, (_, k) =>
          entry({ exporter, subscriberId: `s${(round + k) % 6}`, minute: TEST_MINUTE + 60 * (k % 3), bytes: BigInt(round * 100 + k), packets: BigInt(k + 1) }),
        );
        sink.add(batch);
        added.push(...batch);
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all([first.flush(), second.flush()]);
    expect(await sumOpenMinutes(context.redis, minuteKeys(3))).toEqual(sumEntries(added));
    expect(await readAcceptedTotals(context.redis, keys)).toEqual(sumEntries(added));
    expect(await readAcceptedTotals(context.redis, keys, (exporter) => exporter === '192.0.2.2')).toEqual(sumEntries(added.filter((e) => e.exporter === '192.0.2.2')));
  });

  it('gives a restarted collector (same id, new run) fresh seqs, so its first pushes are not taken for retries', async () => {
    const before = newSink();
    before.add([entry()]);
    await before.flush();
    await before.stop();
    const after = newSink();
    expect(after.runId).not.toBe(before.runId);
    after.add([entry()]);
    await after.flush();
    expect((await readAcceptedTotals(context.redis, keys)).bytes).toBe(2000n);
  });

  it('defaults to one push a second of at most 50 000 keys', async () => {
    const metrics = new MemoryMetrics();
    const sink = newSink({ metrics });
    sink.add(Array.from({ length: 50_001 }, (_, k) => entry({ subscriberId: `s${k}` })));
    // The 50 000th key sealed a push at once; the last one waits for the timer.
    await eventually(() => sink.pendingKeys === 1, 5000, 'the full push');
    const started = Date.now();
    sink.start();
    await eventually(() => sink.pendingKeys === 0, 3000, 'the timer push');
    expect(Date.now() - started).toBeGreaterThanOrEqual(990);
    expect(metrics.counter('push_acknowledged_total')).toBe(2);
    expect(await minuteLines(context.redis, keys.minute(TEST_MINUTE))).toHaveLength(50_001);
  });

  it('rejects adds after stop', async () => {
    const sink = newSink();
    await sink.stop();
    expect(() => sink.add([entry()])).toThrow('stopped');
  });
});
