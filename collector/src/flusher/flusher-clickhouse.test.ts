/**
 * Redis -> flusher -> a real ClickHouse (private server, migrated database per test):
 * totals in usage_1m, usage_1h and usage_1d equal exactly what was pushed, through
 * crashes, a ClickHouse outage, concurrent flushers and late data.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type ClickHouse, createClickHouse } from '@flowbill/shared/clickhouse/index';
import { withClickHouse } from '@flowbill/shared/testing/clickhouse';
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import { MinuteAggregator, type UsageEntry } from '../aggregation/index.js';
import { readAcceptedTotals, RedisKeys, RedisUsageSink } from '../redis/index.js';
import { dumpPrefix, entry, eventually, sumEntries, TEST_MINUTE } from '../redis/testing.js';
import { ClickHouseUsageStore } from './clickhouse-store.js';
import { Flusher, type FlusherOptions } from './flusher.js';
import { SimulatedCrash, sumByKey } from './testing.js';

const clickhouse = withClickHouse({ migrate: true });

let redisContext: RedisPrefix;
let keys: RedisKeys;
let ch: ClickHouse;
const flushers: Flusher[] = [];

beforeEach(async () => {
  redisContext = await createRedisPrefix();
  keys = new RedisKeys(redisContext.prefix);
  // The store's client gives up after 1 s, within the flusher's insertTimeoutMs below.
  ch = createClickHouse({ url: clickhouse.server.url, database: clickhouse.database, requestTimeoutMs: 1000 });
});
afterEach(async () => {
  for (const flusher of flushers.splice(0)) await flusher.stop();
  await ch.close();
  await redisContext.cleanup();
});

const FAST: Partial<FlusherOptions> = { closeDelayMs: 0, leaseMs: 1500, insertTimeoutMs: 1000, insertSettleMs: 100, retry: { initialMs: 20, maxMs: 200 }, claimIntervalMs: 20 };

function newFlusher(options: Partial<FlusherOptions> = {}): Flusher {
  const flusher = new Flusher(redisContext.redis, new ClickHouseUsageStore(ch), { prefix: redisContext.prefix, ...FAST, ...options });
  flushers.push(flusher);
  return flusher;
}

async function push(entries: readonly UsageEntry[], collectorId = 'c1'): Promise<void> {
  const sink = new RedisUsageSink(redisContext.redis, { prefix: redisContext.prefix, collectorId, pushMaxKeys: 50 });
  sink.add(entries);
  await sink.stop();
}

const STEP = { usage_1m: ['minute', 60], usage_1h: ['hour', 3600], usage_1d: ['day', 86400] } as const;
type Table = keyof typeof STEP;

/** Sums per bucket and key in a table, as "<b>/<p>/<f>", optionally for subscribers starting with `subscriberPrefix`. */
async function tableSums(table: Table, subscriberPrefix = ''): Promise<Record<string, string>> {
  const [column] = STEP[table];
  const rows = await ch.query<{ t: number; subscriber_id: string; address: string; direction: 'download' | 'upload'; traffic_class: string; b: string; p: string; f: string }>(
    `SELECT toUInt32(${column}) AS t, subscriber_id, address, direction, traffic_class, sum(bytes) AS b, sum(packets) AS p, sum(flows) AS f
     FROM ${table} WHERE subscriber_id LIKE '${subscriberPrefix}%'
     GROUP BY t, subscriber_id, address, direction, traffic_class`,
  );
  return sumByKey(rows.map((r) => ({ minute: Number(r.t), subscriberId: r.subscriber_id, address: r.address, direction: r.direction, trafficClass: r.traffic_class, bytes: BigInt(r.b), packets: BigInt(r.p), flows: BigInt(r.f) })));
}

/** What `table` must hold for these entries: sums per bucket of its step. */
function expectedSums(table: Table, entries: readonly UsageEntry[]): Record<string, string> {
  const [, seconds] = STEP[table];
  return sumByKey(entries.map((e) => ({ ...e, minute: e.minute - (e.minute % seconds) })));
}

async function expectClickHouseHolds(entries: readonly UsageEntry[], subscriberPrefix = ''): Promise<void> {
  for (const table of Object.keys(STEP) as Table[]) expect(await tableSums(table, subscriberPrefix), table).toEqual(expectedSums(table, entries));
}

async function chTotals(subscriberPrefix = ''): Promise<{ bytes: bigint; packets: bigint; flows: bigint }> {
  const [row] = await ch.query<{ b: string; p: string; f: string }>(`SELECT sum(bytes) AS b, sum(packets) AS p, sum(flows) AS f FROM usage_1m WHERE subscriber_id LIKE '${subscriberPrefix}%'`);
  return { bytes: BigInt(row.b), packets: BigInt(row.p), flows: BigInt(row.f) };
}

/** Batch ids inserted more than once: must always be none. */
async function duplicatedBatches(): Promise<string[]> {
  const rows = await ch.query<{ batch_id: string }>('SELECT batch_id FROM flush_batches GROUP BY batch_id HAVING count() > 1');
  return rows.map((r) => r.batch_id);
}

async function redisHoldsOnlyBookkeeping(): Promise<boolean> {
  const left = Object.keys(await dumpPrefix(redisContext.redis, redisContext.prefix)).filter((key) => !key.endsWith(':accepted') && !key.includes(':push:'));
  return left.length === 0;
}

const H = 3600;
/** Entries over an hour boundary and a day boundary, two subscribers, both directions. */
function boundaryEntries(tag = ''): UsageEntry[] {
  const nearMidnight = TEST_MINUTE - (TEST_MINUTE % 86400) + 86400 - 120; // 23:58 UTC
  return [
    entry({ subscriberId: `${tag}alice`, minute: TEST_MINUTE + H - 60, bytes: 10_000n, packets: 10n, flows: 1n }),
    entry({ subscriberId: `${tag}alice`, minute: TEST_MINUTE + H, bytes: 20_000n, packets: 20n, flows: 0n }),
    entry({ subscriberId: `${tag}alice`, minute: TEST_MINUTE + H, direction: 'upload', bytes: 7n, packets: 1n, flows: 1n }),
    entry({ subscriberId: `${tag}bob`, address: '2001:db8::7', minute: nearMidnight, trafficClass: 'local', bytes: 2n ** 52n + 3n, packets: 3n, flows: 1n }),
    entry({ subscriberId: `${tag}bob`, address: '2001:db8::7', minute: nearMidnight + 180, trafficClass: 'local', bytes: 5n, packets: 1n, flows: 0n }),
  ];
}

describe('Flusher into ClickHouse', () => {
  it('end to end: flows aggregated by two collectors, pushed, flushed; 1m/1h/1d sums equal what was pushed and what Redis accepted', async () => {
    const collectors = ['collector-a', 'collector-b'].map((collectorId, k) => {
      const aggregator = new MinuteAggregator();
      const sink = new RedisUsageSink(redisContext.redis, { prefix: redisContext.prefix, collectorId, pushMaxKeys: 20 });
      return { aggregator, sink, exporter: `192.0.2.${k + 1}` };
    });
    const T = TEST_MINUTE * 1000;
    const pushed: UsageEntry[] = [];
    for (let k = 0; k < 200; k++) {
      const collector = collectors[k % 2];
      collector.aggregator.addRecord({
        exporter: collector.exporter,
        subscriberId: `s${k % 9}`,
        address: `100.64.0.${k % 9}`,
        direction: k % 3 === 0 ? 'upload' : 'download',
        trafficClass: k % 5 === 0 ? 'local' : 'internet',
        // Flows of up to 3 minutes spread from 10 minutes before an hour boundary.
        start: T + 50 * 60_000 + k * 7_919,
        end: T + 50 * 60_000 + k * 7_919 + (k % 4) * 61_000,
        bytes: BigInt(1_000 + k * 37),
        packets: BigInt(1 + (k % 11)),
      });
      if (k % 25 === 24) {
        for (const c of collectors) {
          const drained = c.aggregator.drain();
          pushed.push(...drained);
          c.sink.add(drained);
        }
      }
    }
    for (const c of collectors) {
      const drained = c.aggregator.drain();
      pushed.push(...drained);
      c.sink.add(drained);
      await c.sink.stop();
    }
    const summary = await newFlusher({ maxInsertRows: 40 }).runOnce();
    expect(summary.partsInserted).toBeGreaterThan(1);
    await expectClickHouseHolds(pushed);
    expect(await chTotals()).toEqual(await readAcceptedTotals(redisContext.redis, keys));
    expect(await chTotals()).toEqual(sumEntries(pushed));
    expect(await redisHoldsOnlyBookkeeping()).toBe(true);
  });

  it('a flusher killed between insert and cleanup, restarted: nothing counted twice', async () => {
    const added = boundaryEntries();
    await push(added);
    const crashing = newFlusher({
      hooks: {
        beforeCleanup: () => {
          throw new SimulatedCrash('killed between insert and cleanup');
        },
      },
    });
    await expect(crashing.runOnce()).rejects.toThrow(SimulatedCrash);
    await expectClickHouseHolds(added);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect(await newFlusher().runOnce()).toMatchObject({ recovered: 1, done: 1, partsPresent: 1, partsInserted: 0 });
    await expectClickHouseHolds(added);
    expect(await duplicatedBatches()).toEqual([]);
    expect(await redisHoldsOnlyBookkeeping()).toBe(true);
  });

  it('ClickHouse down for a while: data waits in Redis, and the totals are exact after it returns', async () => {
    const flusher = newFlusher();
    flusher.start();
    await clickhouse.server.kill9();
    const added = boundaryEntries();
    await push(added);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await redisContext.redis.zcard(keys.flushing)).toBeGreaterThan(0);
    await clickhouse.server.restart();
    await eventually(redisHoldsOnlyBookkeeping, 30_000, 'Redis drained after ClickHouse came back');
    await expectClickHouseHolds(added);
    expect(await duplicatedBatches()).toEqual([]);
  });

  it('two flushers at once: no double count', async () => {
    const first = newFlusher();
    const second = newFlusher();
    first.start();
    second.start();
    const added: UsageEntry[] = [];
    for (let round = 0; round < 12; round++) {
      const batch = boundaryEntries().map((e) => ({ ...e, bytes: e.bytes + BigInt(round) }));
      await push(batch, `c${round % 3}`);
      added.push(...batch);
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await eventually(redisHoldsOnlyBookkeeping, 30_000, 'Redis drained');
    await expectClickHouseHolds(added);
    expect(await duplicatedBatches()).toEqual([]);
  });

  it('late data for a flushed minute is flushed as a second batch and summed', async () => {
    const flusher = newFlusher();
    const first = [entry({ bytes: 100n, packets: 1n, flows: 1n })];
    await push(first);
    await flusher.runOnce();
    const late = [entry({ bytes: 23n, packets: 2n, flows: 0n }), entry({ minute: TEST_MINUTE + 60, bytes: 5n })];
    await push(late);
    expect(await flusher.runOnce()).toMatchObject({ claimed: 1, done: 1 });
    await expectClickHouseHolds([...first, ...late]);
    const batches = await ch.query<{ n: string }>(`SELECT count() AS n FROM flush_batches`);
    expect(Number(batches[0].n)).toBe(2);
  });

  it('random pushes and random flusher crashes: ClickHouse totals equal the Redis accepted totals', async () => {
    let run = 0;
    let crashes = 0;
    await fc.assert(
      fc.asyncProperty(
        // Each step pushes some rows (from collector a or b), then runs a flusher that may
        // crash at one of the protocol's points, on its first or a later part or batch.
        fc.array(
          fc.record({
            collector: fc.constantFrom('a', 'b'),
            rows: fc.array(fc.record({ subscriber: fc.integer({ min: 0, max: 4 }), minute: fc.integer({ min: 0, max: 90 }), bytes: fc.bigInt({ min: 0n, max: 2n ** 40n }), packets: fc.bigInt({ min: 0n, max: 1000n }) }), { minLength: 1, maxLength: 8 }),
            crashAt: fc.constantFrom('none', 'beforeInsert', 'afterInsert', 'afterInsert', 'beforeCleanup', 'beforeCleanup'),
            crashOnPart: fc.integer({ min: 0, max: 1 }),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        async (steps) => {
          run++;
          const tag = `run${run}-`;
          const pushed: UsageEntry[] = [];
          for (const step of steps) {
            const entries = step.rows.map((r) => entry({ exporter: `x-${step.collector}`, subscriberId: `${tag}s${r.subscriber}`, minute: TEST_MINUTE + 60 * r.minute, bytes: r.bytes, packets: r.packets, flows: 1n }));
            await push(entries, `collector-${step.collector}`);
            pushed.push(...entries);
            let reached = 0;
            const crash = (point: string) => () => {
              if (step.crashAt === point && reached++ >= step.crashOnPart) throw new SimulatedCrash(point);
            };
            await newFlusher({ maxInsertRows: 3, hooks: { beforeInsert: crash('beforeInsert'), afterInsert: crash('afterInsert'), beforeCleanup: crash('beforeCleanup') } })
              .runOnce()
              .catch((error: unknown) => {
                if (!(error instanceof SimulatedCrash)) throw error;
                crashes++;
              });
          }
          // Let the crashed flushers' leases run out, then one clean flusher finishes.
          await new Promise((resolve) => setTimeout(resolve, 1600));
          await newFlusher({ maxInsertRows: 3 }).runOnce();
          expect(await redisHoldsOnlyBookkeeping()).toBe(true);
          const accepted = await readAcceptedTotals(redisContext.redis, keys, (exporter) => exporter.startsWith('x-'));
          expect(accepted).toEqual(sumEntries(pushed));
          expect(await chTotals(tag)).toEqual(accepted);
          await expectClickHouseHolds(pushed, tag);
          // Each run has its own subscribers but shares the accepted hash: reset it.
          await redisContext.redis.del(keys.accepted);
        },
      ),
      { numRuns: 8 },
    );
    // The property is about crashes: make sure the runs had plenty.
    expect(crashes).toBeGreaterThanOrEqual(5);
    expect(await duplicatedBatches()).toEqual([]);
  });
});
