/**
 * The whole pipeline for end-to-end tests, on private stores:
 *
 * - per test file (`useE2eServers`): a private clickhouse-server and a private
 *   redis-server (AOF, fsync always), both child processes on free ports in temp dirs,
 *   so tests may kill and restart them without touching anything shared;
 * - per pipeline (`Pipeline.create`): a fresh PostgreSQL database (migrated), a fresh
 *   ClickHouse database (migrated), a random Redis key prefix, subscribers and their
 *   assignments inserted through the repository; then collector and flusher processes
 *   started with `node --import tsx` and env pointing at those stores, and the API built
 *   in-process (`buildApp`, requests with `app.inject`) with an API key made in the
 *   database.
 *
 * Everything is named randomly and bound to free ports, so two test runs can go at once.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { afterAll, beforeAll } from 'vitest';
import { createClickHouse, ident, migrate, sql, str, type ClickHouse } from '@flowbill/shared/clickhouse/index';
import { startClickHouseServer, type ClickHouseServer } from '@flowbill/shared/testing/clickhouse';
import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import { deleteKeysWithPrefix, startRedisServer, type RedisServer } from '@flowbill/shared/testing/redis';
import { buildApp } from '../../../../api/src/app.js';
import { createRedisClient, readAcceptedTotals, RedisKeys } from '../../../src/redis/index.js';
import { createApiKey } from '../../../src/subscribers/api-keys.js';
import { assignPrefix, upsertSubscriber } from '../../../src/subscribers/repository.js';
import { COLLECTOR_ENTRY, FLUSHER_ENTRY, freeTcpPort, freeUdpPort, ServiceProcess } from './processes.js';
import { scrapeMetrics, type MetricsSnapshot } from './prometheus.js';
import type { Direction, Totals } from './replay.js';
import { stableJson, waitFor } from './wait.js';

// ---------------------------------------------------------------------------------------
// Servers (one set per test file)

export interface E2eServers {
  readonly clickhouse: ClickHouseServer;
  readonly redis: RedisServer;
}

/** Registers beforeAll/afterAll hooks starting and stopping this file's private servers. */
export function useE2eServers(): () => E2eServers {
  let servers: E2eServers | undefined;
  let clickhouse: ClickHouseServer | undefined;
  let redis: RedisServer | undefined;
  beforeAll(async () => {
    [clickhouse, redis] = await Promise.all([startClickHouseServer(), startRedisServer({ persistent: true })]);
    servers = { clickhouse, redis };
  });
  afterAll(async () => {
    await Promise.all([clickhouse?.stop(), redis?.close()]);
  });
  return () => {
    if (servers === undefined) throw new Error('useE2eServers(): the servers exist inside tests and hooks only');
    return servers;
  };
}

// ---------------------------------------------------------------------------------------
// Services

export interface CollectorSettings {
  readonly id: string;
  /** COLLECTOR_EXPORTERS (default 127.0.0.1/32: the tests' senders and softflowd). */
  readonly exporters?: string;
  /** COLLECTOR_CLASSES, e.g. "local=198.18.0.0/15". */
  readonly classes?: string;
  /** More variables (override everything else). */
  readonly env?: Readonly<Record<string, string>>;
}

/** A collector process, its UDP port and metrics endpoint. Restart with start(). */
export class CollectorProcess extends ServiceProcess {
  constructor(
    readonly id: string,
    readonly udpPort: number,
    readonly metricsPort: number,
    env: Record<string, string>,
    private readonly metricsKey: () => Promise<string>,
  ) {
    super({ name: `collector ${id}`, entry: COLLECTOR_ENTRY, env, ready: /\[collector\] metrics on http/ });
  }

  get target(): { host: string; port: number } {
    return { host: '127.0.0.1', port: this.udpPort };
  }

  async metrics(): Promise<MetricsSnapshot> {
    return scrapeMetrics('127.0.0.1', this.metricsPort, await this.metricsKey());
  }
}

export class FlusherProcess extends ServiceProcess {
  constructor(
    readonly id: string,
    readonly metricsPort: number,
    env: Record<string, string>,
    private readonly metricsKey: () => Promise<string>,
  ) {
    super({ name: `flusher ${id}`, entry: FLUSHER_ENTRY, env, ready: /\[flusher\] flushing closed minutes to/ });
  }

  async metrics(): Promise<MetricsSnapshot> {
    return scrapeMetrics('127.0.0.1', this.metricsPort, await this.metricsKey());
  }
}

// ---------------------------------------------------------------------------------------
// The pipeline

export interface AssignmentSpec {
  readonly prefix: string;
  /** Default 2020-01-01T00:00:00Z (before every flow of the tests). */
  readonly from?: Date;
  readonly to?: Date | null;
  readonly reassign?: boolean;
}

export interface SubscriberSpec {
  readonly id: string;
  readonly assignments?: readonly AssignmentSpec[];
}

export const LONG_AGO = new Date('2020-01-01T00:00:00Z');

export interface StoreState {
  readonly accepted: Totals;
  readonly clickhouse: Totals;
  /** Open minutes in Redis (`minutes` zset) and claimed batches not yet done (`flushing`). */
  readonly openMinutes: number;
  readonly flushing: number;
}

export class Pipeline {
  readonly collectors: CollectorProcess[] = [];
  readonly flushers: FlusherProcess[] = [];
  readonly keys: RedisKeys;
  private api: UsageApi | undefined;
  private closed = false;
  /** /metrics needs an API key, like every API route but /healthz. */
  private metricsKeyPromise: Promise<string> | undefined;
  private readonly metricsKey = (): Promise<string> =>
    (this.metricsKeyPromise ??= createApiKey(this.db.pool, `e2e-metrics-${randomBytes(4).toString('hex')}`).then((k) => k.key));

  private constructor(
    readonly servers: E2eServers,
    readonly db: TestDatabase,
    readonly chDatabase: string,
    readonly ch: ClickHouse,
    readonly prefix: string,
    /** A client for the tests' own reads (fails fast while Redis is down; waits retry). */
    readonly redis: Redis,
  ) {
    this.keys = new RedisKeys(prefix);
  }

  static async create(servers: E2eServers, subscribers: readonly SubscriberSpec[] = []): Promise<Pipeline> {
    const chDatabase = `e2e_${randomBytes(6).toString('hex')}`;
    const ch = createClickHouse({ url: servers.clickhouse.url, database: chDatabase });
    const [database, migrated] = await Promise.allSettled([createTestDatabase(), migrate(ch)]);
    if (database.status === 'rejected' || migrated.status === 'rejected') {
      if (database.status === 'fulfilled') await database.value.drop();
      await ch.command(sql`DROP DATABASE IF EXISTS ${ident(chDatabase)}`).catch(() => undefined);
      await ch.close();
      throw database.status === 'rejected' ? database.reason : (migrated as PromiseRejectedResult).reason;
    }
    const db = database.value;
    const redis = createRedisClient(servers.redis.url);
    const pipeline = new Pipeline(servers, db, chDatabase, ch, `flowbill-e2e:${randomBytes(5).toString('hex')}:`, redis);
    await pipeline.addSubscribers(subscribers);
    return pipeline;
  }

  /** Insert subscribers and their assignments through the repository. */
  async addSubscribers(subscribers: readonly SubscriberSpec[]): Promise<void> {
    for (const subscriber of subscribers) {
      await upsertSubscriber(this.db.pool, { id: subscriber.id, name: `E2E ${subscriber.id}`, timeZone: 'UTC' });
      for (const assignment of subscriber.assignments ?? []) {
        await assignPrefix(this.db.pool, {
          subscriberId: subscriber.id,
          prefix: assignment.prefix,
          from: assignment.from ?? LONG_AGO,
          to: assignment.to ?? null,
          reassign: assignment.reassign,
        });
      }
    }
  }

  /** Where the stores are, as every service reads it (shared/src/config/stores.ts). */
  storesEnv(): Record<string, string> {
    return {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: process.env.HOME ?? '/tmp',
      ...(process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}),
      REDIS_URL: this.servers.redis.url,
      REDIS_PREFIX: this.prefix,
      CLICKHOUSE_URL: this.servers.clickhouse.url,
      CLICKHOUSE_DATABASE: this.chDatabase,
      DATABASE_URL: this.db.url,
    };
  }

  /**
   * Start a collector on a free UDP port (127.0.0.1 only) with its metrics on a free TCP
   * port. A port taken by someone else between picking and binding is retried.
   */
  async startCollector(settings: CollectorSettings): Promise<CollectorProcess> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const udpPort = await freeUdpPort();
      const metricsPort = await freeTcpPort();
      const collector = new CollectorProcess(settings.id, udpPort, metricsPort, {
        ...this.storesEnv(),
        COLLECTOR_ID: settings.id,
        COLLECTOR_LISTEN: `127.0.0.1:${udpPort}`,
        COLLECTOR_EXPORTERS: settings.exporters ?? '127.0.0.1/32',
        COLLECTOR_CLASSES: settings.classes ?? '',
        COLLECTOR_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
        // 4 MiB is net.core.rmem_max here; the collector halves until the kernel accepts.
        COLLECTOR_RECEIVE_BUFFER_BYTES: String(4 * 1024 * 1024),
        ...settings.env,
      }, this.metricsKey);
      try {
        await collector.start();
        this.collectors.push(collector);
        return collector;
      } catch (error) {
        lastError = error;
        if (!/EADDRINUSE|address already in use/i.test((error as Error).message)) throw error;
      }
    }
    throw lastError;
  }

  /** Start a flusher: close delay 1 s and a 200 ms claim interval, so tests are fast. */
  async startFlusher(id: string, env: Readonly<Record<string, string>> = {}): Promise<FlusherProcess> {
    let lastError: unknown;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const metricsPort = await freeTcpPort();
      const flusher = new FlusherProcess(id, metricsPort, {
        ...this.storesEnv(),
        FLUSHER_ID: id,
        FLUSHER_CLOSE_DELAY_MS: '1000',
        FLUSHER_CLAIM_INTERVAL_MS: '200',
        FLUSHER_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
        ...env,
      }, this.metricsKey);
      try {
        await flusher.start();
        this.flushers.push(flusher);
        return flusher;
      } catch (error) {
        lastError = error;
        if (!/EADDRINUSE|address already in use/i.test((error as Error).message)) throw error;
      }
    }
    throw lastError;
  }

  /** The API on this pipeline's stores (built once, with its own API key). */
  async usageApi(): Promise<UsageApi> {
    this.api ??= await UsageApi.create(this.ch, this.db);
    return this.api;
  }

  // -------------------------------------------------------------------------------------
  // Reading the stores

  /** Redis accepted totals, optionally of one exporter label ("127.0.0.1:PORT"). */
  acceptedTotals(exporter?: (label: string) => boolean): Promise<Totals> {
    return readAcceptedTotals(this.redis, this.keys, exporter ? (label) => exporter(label) : undefined);
  }

  /** Sums over usage_1m, optionally of one subscriber. */
  async clickhouseTotals(subscriberId?: string): Promise<Totals> {
    const where = subscriberId === undefined ? sql`` : sql`WHERE subscriber_id = ${str(subscriberId)}`;
    const [row] = await this.ch.query<{ b: string; p: string; f: string }>(
      sql`SELECT toString(sum(bytes)) AS b, toString(sum(packets)) AS p, toString(sum(flows)) AS f FROM usage_1m ${where}`,
    );
    return { bytes: BigInt(row.b), packets: BigInt(row.p), flows: BigInt(row.f) };
  }

  /** Sums per subscriber and direction in usage_1m. */
  async clickhouseBySubscriber(): Promise<Map<string, Record<Direction, { bytes: bigint; packets: bigint }>>> {
    const rows = await this.ch.query<{ s: string; d: Direction; b: string; p: string }>(
      'SELECT subscriber_id AS s, direction AS d, toString(sum(bytes)) AS b, toString(sum(packets)) AS p FROM usage_1m GROUP BY s, d',
    );
    const out = new Map<string, Record<Direction, { bytes: bigint; packets: bigint }>>();
    for (const row of rows) {
      let entry = out.get(row.s);
      if (!entry) {
        entry = { download: { bytes: 0n, packets: 0n }, upload: { bytes: 0n, packets: 0n } };
        out.set(row.s, entry);
      }
      entry[row.d] = { bytes: BigInt(row.b), packets: BigInt(row.p) };
    }
    return out;
  }

  /** Batch parts inserted more than once (must always be none), and part counts both ways. */
  async batchAudit(): Promise<{ duplicated: string[]; flushBatchRows: number; distinctBatchIdsInUsage: number }> {
    const duplicated = await this.ch.query<{ batch_id: string }>('SELECT batch_id FROM flush_batches GROUP BY batch_id HAVING count() > 1');
    const [counts] = await this.ch.query<{ rows: string; ids: string }>(
      'SELECT toString((SELECT count() FROM flush_batches)) AS rows, toString((SELECT uniqExact(batch_id) FROM usage_1m)) AS ids',
    );
    return { duplicated: duplicated.map((row) => row.batch_id), flushBatchRows: Number(counts.rows), distinctBatchIdsInUsage: Number(counts.ids) };
  }

  async storeState(): Promise<StoreState> {
    const [accepted, clickhouse, openMinutes, flushing] = await Promise.all([
      this.acceptedTotals(),
      this.clickhouseTotals(),
      this.redis.zcard(this.keys.minutes),
      this.redis.zcard(this.keys.flushing),
    ]);
    return { accepted, clickhouse, openMinutes, flushing };
  }

  /**
   * Wait until the pipeline is at rest: the accepted and ClickHouse totals have not moved
   * for `quietMs` (collectors pushed everything they hold, the flushers inserted it), Redis
   * holds no open minute and no claimed batch, and ClickHouse's totals equal the accepted
   * ones. Callers make sure every
   * minute of their flows is closed (the tests' flows are over a minute old).
   */
  async waitUntilFlushed(timeoutMs = 60_000, quietMs = 1_200): Promise<StoreState> {
    let state: StoreState | undefined;
    let acceptedText = '';
    let since = Date.now();
    await waitFor(
      'the pipeline to flush everything accepted into ClickHouse',
      async () => {
        state = await this.storeState();
        // Both totals must have stopped moving: collectors pushed everything, the flusher
        // inserted everything (and nothing more arrives a cycle later).
        const text = stableJson({ accepted: state.accepted, clickhouse: state.clickhouse });
        if (text !== acceptedText) {
          acceptedText = text;
          since = Date.now();
        }
        return (
          Date.now() - since >= quietMs &&
          state.openMinutes === 0 &&
          state.flushing === 0 &&
          stableJson(state.clickhouse) === stableJson(state.accepted)
        );
      },
      { timeoutMs, intervalMs: 150, describe: async () => `${stableJson(state)}; claimed batches: ${stableJson(await this.claimedBatches())}\n${this.logTails()}` },
    );
    return state!;
  }

  /** Batches in `flushing`: lease expiry (ms, Redis clock) and the batch hash (owner, minutes, claimedAt...). */
  async claimedBatches(): Promise<{ batchId: string; leaseExpiresAt: number; batch: Record<string, string> }[]> {
    const entries = await this.redis.zrange(this.keys.flushing, 0, -1, 'WITHSCORES');
    const out: { batchId: string; leaseExpiresAt: number; batch: Record<string, string> }[] = [];
    for (let i = 0; i < entries.length; i += 2) {
      out.push({ batchId: entries[i], leaseExpiresAt: Number(entries[i + 1]), batch: await this.redis.hgetall(this.keys.batch(entries[i])) });
    }
    return out;
  }

  /** The last lines of every service's output, for failure messages. */
  logTails(chars = 1_500): string {
    return [...this.collectors, ...this.flushers].map((p) => `--- ${p.options.name}:\n${p.log.slice(-chars)}`).join('\n');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const errors: unknown[] = [];
    const attempt = async (step: () => Promise<unknown>) => {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    };
    await Promise.all([...this.collectors, ...this.flushers].map((p) => attempt(() => p.stop(5_000))));
    await attempt(async () => this.api?.close());
    await attempt(async () => {
      if (this.servers.redis.running) await deleteKeysWithPrefix(this.redis, this.prefix);
    });
    this.redis.disconnect();
    await attempt(async () => {
      if (this.servers.clickhouse.isRunning()) await this.ch.command(sql`DROP DATABASE IF EXISTS ${ident(this.chDatabase)}`);
    });
    await attempt(() => this.ch.close());
    await attempt(() => this.db.drop());
    if (errors.length > 0) throw errors[0];
  }
}

// ---------------------------------------------------------------------------------------
// The API

export interface DirectionUsage {
  bytes: bigint;
  packets: bigint;
}

export interface ApiUsage {
  readonly download: DirectionUsage;
  readonly upload: DirectionUsage;
  /** Per direction and traffic class. */
  readonly byClass: Record<Direction, Record<string, DirectionUsage>>;
  /** Bucket start (ms) -> per direction sums over the classes; buckets with traffic only. */
  readonly buckets: Map<number, Record<Direction, DirectionUsage>>;
}

interface UsageResponseJson {
  series: { start: string; download: Record<string, { bytes: string; packets: string }>; upload: Record<string, { bytes: string; packets: string }> }[];
  totals: { download: Record<string, { bytes: string; packets: string }>; upload: Record<string, { bytes: string; packets: string }>; bytes: string; packets: string };
}

/** The app type, without importing fastify (a dependency of api/, not of collector/). */
type ApiApp = Awaited<ReturnType<typeof buildApp>>;

const STEP_MS = { '1m': 60_000, '1h': 3_600_000, '1d': 86_400_000 } as const;

/** The API built in-process on the pipeline's stores; requests go through app.inject. */
export class UsageApi {
  private constructor(
    readonly app: ApiApp,
    private readonly key: string,
  ) {}

  static async create(ch: ClickHouse, db: TestDatabase): Promise<UsageApi> {
    const app = await buildApp({ clickhouse: ch, postgresPool: db.pool, metricsRegistry: new Registry() });
    await app.ready();
    const { key } = await createApiKey(db.pool, `e2e-${randomBytes(4).toString('hex')}`);
    return new UsageApi(app, key);
  }

  /**
   * GET /v1/subscribers/:id/usage over the smallest step-aligned range covering
   * [fromMs, toMs); answers summed over classes, per class, and per bucket.
   */
  async usage(subscriberId: string, range: { fromMs: number; toMs: number }, step: keyof typeof STEP_MS = '1m'): Promise<ApiUsage> {
    const stepMs = STEP_MS[step];
    const from = new Date(Math.floor(range.fromMs / stepMs) * stepMs).toISOString();
    const to = new Date(Math.ceil(range.toMs / stepMs) * stepMs).toISOString();
    const response = await this.app.inject({
      method: 'GET',
      url: `/v1/subscribers/${encodeURIComponent(subscriberId)}/usage?from=${from}&to=${to}&step=${step}`,
      headers: { 'x-api-key': this.key },
    });
    if (response.statusCode !== 200) throw new Error(`usage of ${subscriberId} ${from}..${to} step ${step}: HTTP ${response.statusCode} ${response.body}`);
    const body = response.json<UsageResponseJson>();
    const sum = (byClass: Record<string, { bytes: string; packets: string }>): DirectionUsage => {
      const total = { bytes: 0n, packets: 0n };
      for (const counters of Object.values(byClass)) {
        total.bytes += BigInt(counters.bytes);
        total.packets += BigInt(counters.packets);
      }
      return total;
    };
    const perClass = (byClass: Record<string, { bytes: string; packets: string }>) =>
      Object.fromEntries(Object.entries(byClass).map(([name, c]) => [name, { bytes: BigInt(c.bytes), packets: BigInt(c.packets) }]));
    const buckets = new Map<number, Record<Direction, DirectionUsage>>();
    for (const bucket of body.series) {
      const pair = { download: sum(bucket.download), upload: sum(bucket.upload) };
      if (pair.download.bytes + pair.upload.bytes + pair.download.packets + pair.upload.packets > 0n) buckets.set(Date.parse(bucket.start), pair);
    }
    const usage: ApiUsage = {
      download: sum(body.totals.download),
      upload: sum(body.totals.upload),
      byClass: { download: perClass(body.totals.download), upload: perClass(body.totals.upload) },
      buckets,
    };
    if (usage.download.bytes + usage.upload.bytes !== BigInt(body.totals.bytes)) throw new Error(`usage of ${subscriberId}: totals.bytes disagrees with its classes`);
    return usage;
  }

  async close(): Promise<void> {
    await this.app.close();
  }
}
