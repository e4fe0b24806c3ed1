/**
 * Flusher: moves closed minutes from Redis to the UsageStore (ClickHouse) exactly once.
 * The protocol, and what happens at each crash point, is in README.md; in short, a cycle:
 *
 * 1. recovers batches whose lease expired (their flusher died), then
 * 2. claims closed minutes into new batches (claim script), and for each batch
 * 3. reads its rows, cuts them into parts with stable ids, and per part: renews the lease
 *    (the fence: a flusher that lost its batch stops here), skips the part if the store
 *    has it, else inserts it;
 * 4. deletes the batch from Redis (cleanup script).
 *
 * Store and Redis failures inside a batch are retried with capped exponential backoff,
 * renewing the lease each time, so a ClickHouse outage just makes data wait in Redis.
 * `hooks` exist for fault-injection tests: a hook that throws aborts the cycle exactly like
 * a crash at that point (nothing is released or cleaned up).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { backoffDelay, type BackoffOptions, checkId, NO_METRICS, type PipelineMetrics, RedisKeys, sleep, withTimeout } from '../redis/index.js';
import { DEFAULT_READ_PAGE_BYTES, MalformedBatchError, readBatchRows, splitIntoParts } from './batch-reader.js';
import { type BatchInfo, claimBatch, cleanupBatch, recoverBatch, renewLease } from './batch-scripts.js';
import type { UsageRow, UsageStore } from './usage-store.js';

export interface FlusherHooks {
  /** Before inserting a part the store does not have yet. */
  beforeInsert?(partId: string): void | Promise<void>;
  /** After a part was inserted, before anything else. */
  afterInsert?(partId: string): void | Promise<void>;
  /** After every part is in the store, before the cleanup script. */
  beforeCleanup?(batchId: string): void | Promise<void>;
}

export interface FlusherOptions {
  readonly prefix: string;
  /** Lease owner name (letters, digits, _ . -); default random, unique per instance. */
  readonly flusherId?: string;
  /** A minute is claimable this long after it ended (default 90 s): late records still merge into it. */
  readonly closeDelayMs?: number;
  /** Pause between cycles when started (default 5 s): one batch gathers what closed meanwhile. */
  readonly claimIntervalMs?: number;
  /** Lease on a claimed batch (default 120 s). Must exceed insertTimeoutMs + insertSettleMs. */
  readonly leaseMs?: number;
  /**
   * An insert not done within this is treated as failed (default 30 s). The store must
   * give up by itself within it too (the ClickHouse client's request timeout).
   */
  readonly insertTimeoutMs?: number;
  /**
   * After a failed insert, wait at least this long before checking the store again: an
   * insert the client gave up on may still be finishing on the server (default 5 s).
   */
  readonly insertSettleMs?: number;
  /** Rows per insert (default 50 000). */
  readonly maxInsertRows?: number;
  /**
   * A claim stops adding minutes once their strings would pass this many bytes (default
   * 64 MiB, about a million usage lines; one minute is always claimed however big).
   */
  readonly maxBatchBytes?: number;
  /** Claimed strings up to this size are read with GET, larger ones in GETRANGE pages of it (default 4 MiB). */
  readonly readPageBytes?: number;
  /** Candidate minutes passed to one claim (default 240). */
  readonly maxMinutesPerClaim?: number;
  /** Backoff of retried store/Redis operations (default 500 ms doubling to 30 s). */
  readonly retry?: BackoffOptions;
  readonly metrics?: PipelineMetrics;
  readonly hooks?: FlusherHooks;
  /** Every failure that will be retried, for logging. */
  readonly onError?: (error: unknown, context: string) => void;
  /** For the lag metric (default Date.now). */
  readonly now?: () => number;
}

export interface CycleSummary {
  claimed: number;
  recovered: number;
  /** Batches fully stored and deleted from Redis. */
  done: number;
  /** Batches another flusher took over meanwhile. */
  lost: number;
  /** Batches left in Redis because their data is malformed (reported through onError). */
  malformed: number;
  partsInserted: number;
  /** Parts found already stored (an earlier attempt inserted them, then crashed). */
  partsPresent: number;
  rows: number;
}

type BatchOutcome = 'done' | 'lost' | 'stopped' | 'malformed';

export class Flusher {
  readonly flusherId: string;
  private readonly keys: RedisKeys;
  private readonly closeDelayMs: number;
  private readonly claimIntervalMs: number;
  private readonly leaseMs: number;
  private readonly insertTimeoutMs: number;
  private readonly insertSettleMs: number;
  private readonly maxInsertRows: number;
  private readonly maxBatchBytes: number;
  private readonly readPageBytes: number;
  private readonly maxMinutesPerClaim: number;
  private readonly retry: BackoffOptions;
  private readonly metrics: PipelineMetrics;
  private readonly hooks: FlusherHooks;
  private readonly now: () => number;
  private readonly stopping = new AbortController();
  private loop: Promise<void> | null = null;
  private cycle: Promise<CycleSummary> | null = null;

  constructor(
    private readonly redis: Redis,
    private readonly store: UsageStore,
    private readonly options: FlusherOptions,
  ) {
    this.keys = new RedisKeys(options.prefix);
    this.flusherId = checkId('flusherId', options.flusherId ?? `flusher-${randomBytes(6).toString('hex')}`);
    this.closeDelayMs = nonNegative('closeDelayMs', options.closeDelayMs ?? 90_000);
    this.claimIntervalMs = nonNegative('claimIntervalMs', options.claimIntervalMs ?? 5_000);
    this.leaseMs = nonNegative('leaseMs', options.leaseMs ?? 120_000);
    this.insertTimeoutMs = nonNegative('insertTimeoutMs', options.insertTimeoutMs ?? 30_000);
    this.insertSettleMs = nonNegative('insertSettleMs', options.insertSettleMs ?? 5_000);
    this.maxInsertRows = nonNegative('maxInsertRows', options.maxInsertRows ?? 50_000);
    this.maxBatchBytes = nonNegative('maxBatchBytes', options.maxBatchBytes ?? 64 * 1024 * 1024);
    this.readPageBytes = nonNegative('readPageBytes', options.readPageBytes ?? DEFAULT_READ_PAGE_BYTES);
    this.maxMinutesPerClaim = nonNegative('maxMinutesPerClaim', options.maxMinutesPerClaim ?? 240);
    this.retry = options.retry ?? { initialMs: 500, maxMs: 30_000 };
    this.metrics = options.metrics ?? NO_METRICS;
    this.hooks = options.hooks ?? {};
    this.now = options.now ?? Date.now;
    if (this.leaseMs <= this.insertTimeoutMs + this.insertSettleMs) {
      throw new RangeError(`leaseMs (${this.leaseMs}) must exceed insertTimeoutMs + insertSettleMs (${this.insertTimeoutMs + this.insertSettleMs})`);
    }
    if (this.maxInsertRows < 1 || this.maxBatchBytes < 1 || this.maxMinutesPerClaim < 1 || !Number.isInteger(this.readPageBytes) || this.readPageBytes < 1) {
      throw new RangeError('maxInsertRows, maxBatchBytes, maxMinutesPerClaim and readPageBytes must be at least 1 (readPageBytes an integer)');
    }
  }

  /** Run cycles every claimIntervalMs until stop(). A failed cycle is reported and retried after backoff. */
  start(): void {
    if (this.loop !== null) return;
    if (this.stopping.signal.aborted) throw new Error('Flusher was stopped');
    this.loop = (async () => {
      let failures = 0;
      while (!this.stopping.signal.aborted) {
        try {
          await this.runOnce();
          failures = 0;
          await sleep(this.claimIntervalMs, this.stopping.signal);
        } catch (error) {
          failures++;
          this.options.onError?.(error, 'cycle');
          await sleep(backoffDelay(failures, this.retry), this.stopping.signal);
        }
      }
    })();
  }

  /**
   * Finish the batch in hand up to a safe point (an insert under way completes), release
   * its lease so another flusher can take it at once, and stop the loop.
   */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.loop;
    await this.cycle?.catch(() => undefined);
  }

  /** One cycle: recover expired batches, then claim and flush everything claimable. */
  runOnce(): Promise<CycleSummary> {
    if (this.cycle !== null) return this.cycle;
    this.cycle = this.runCycle().finally(() => {
      this.cycle = null;
    });
    return this.cycle;
  }

  private async runCycle(): Promise<CycleSummary> {
    const summary: CycleSummary = { claimed: 0, recovered: 0, done: 0, lost: 0, malformed: 0, partsInserted: 0, partsPresent: 0, rows: 0 };
    const redisNow = await this.redisTimeMs();

    const expired = await this.redis.zrangebyscore(this.keys.flushing, '-inf', String(redisNow), 'LIMIT', 0, 100);
    // Batches still leased to our own id: orphans of a claim whose reply was lost, or of a
    // previous process under the same FLUSHER_ID. No need to wait for their lease.
    const leased = await this.redis.zrangebyscore(this.keys.flushing, `(${redisNow}`, '+inf', 'LIMIT', 0, 1000);
    for (const batchId of leased) {
      if ((await this.redis.hget(this.keys.batch(batchId), 'owner')) === this.flusherId) expired.push(batchId);
    }
    for (const batchId of expired) {
      if (this.stopping.signal.aborted) break;
      const batch = await recoverBatch(this.redis, this.keys, batchId, this.flusherId, this.leaseMs);
      if (batch === null) continue;
      summary.recovered++;
      this.metrics.increment('flush_batches_recovered_total');
      await this.flushBatch(batch, summary);
    }

    while (!this.stopping.signal.aborted) {
      const cutoff = Math.floor((redisNow - this.closeDelayMs) / 1000) - 60;
      const candidates = await this.redis.zrangebyscore(this.keys.minutes, '-inf', String(cutoff), 'LIMIT', 0, this.maxMinutesPerClaim);
      if (candidates.length === 0) break;
      const minutes = candidates.map(Number);
      const batch = await claimBatch(this.redis, this.keys, {
        batchId: `${minutes[0]}-${randomBytes(6).toString('hex')}`,
        owner: this.flusherId,
        leaseMs: this.leaseMs,
        maxBytes: this.maxBatchBytes,
        chunkRows: this.maxInsertRows,
        minutes,
      });
      // null: the candidates were emptied or claimed by another flusher meanwhile; look again.
      if (batch === null) continue;
      summary.claimed++;
      this.metrics.increment('flush_batches_claimed_total');
      await this.flushBatch(batch, summary);
    }

    await this.updateGauges();
    return summary;
  }

  private async flushBatch(batch: BatchInfo, summary: CycleSummary): Promise<void> {
    const outcome = await this.storeBatch(batch, summary);
    if (outcome === 'lost') {
      summary.lost++;
      this.metrics.increment('flush_leases_lost_total');
    } else if (outcome === 'done') {
      summary.done++;
      this.metrics.increment('flush_batches_done_total');
    } else if (outcome === 'malformed') {
      // Keeps its lease: retried (and reported again) when the lease expires, while the
      // other batches go on. Fixing it takes a person: see README.md.
      summary.malformed++;
      this.metrics.increment('flush_batches_malformed_total');
    } else {
      // Stopping mid-batch: hand the batch to whoever runs next without waiting for the lease.
      await this.retrying('release lease', () => renewLease(this.redis, this.keys, batch.batchId, this.flusherId, 0), 3).catch(() => undefined);
    }
  }

  private async storeBatch(batch: BatchInfo, summary: CycleSummary): Promise<BatchOutcome> {
    let rows: UsageRow[] | undefined;
    try {
      rows = await this.retrying('read batch', () => readBatchRows(this.redis, this.keys, batch, { pageBytes: this.readPageBytes }), Number.POSITIVE_INFINITY, (error) => !(error instanceof MalformedBatchError));
    } catch (error) {
      this.options.onError?.(error, `read batch ${batch.batchId}`);
      return 'malformed';
    }
    if (rows === undefined) return 'stopped';
    for (const part of splitIntoParts(batch.batchId, rows, batch.chunkRows)) {
      const outcome = await this.storePart(batch, part.partId, part.rows);
      if (outcome === 'lost' || outcome === 'stopped') return outcome;
      if (outcome === 'present') {
        summary.partsPresent++;
        this.metrics.increment('flush_parts_present_total');
      } else {
        summary.partsInserted++;
        summary.rows += part.rows.length;
        this.metrics.increment('flush_parts_inserted_total');
        this.metrics.increment('flush_rows_total', part.rows.length);
      }
    }
    await this.hooks.beforeCleanup?.(batch.batchId);
    const cleaned = await this.retrying('cleanup', () => cleanupBatch(this.redis, this.keys, batch, this.flusherId));
    if (cleaned === undefined) return 'stopped';
    return cleaned ? 'done' : 'lost';
  }

  /**
   * One part, until it is in the store. Each attempt renews the lease first and checks the
   * store, so after a crash or a failed insert of unknown outcome nothing is inserted twice.
   */
  private async storePart(batch: BatchInfo, partId: string, rows: readonly UsageRow[]): Promise<'inserted' | 'present' | 'lost' | 'stopped'> {
    for (let failures = 0; ; ) {
      if (this.stopping.signal.aborted) return 'stopped';
      let deadline: number;
      try {
        const renewStarted = performance.now();
        if (!(await renewLease(this.redis, this.keys, batch.batchId, this.flusherId, this.leaseMs))) return 'lost';
        // Measured from before the renew call: never later than the lease Redis granted.
        deadline = renewStarted + this.leaseMs;
        if (await this.store.hasBatch(partId)) return 'present';
      } catch (error) {
        failures++;
        await this.afterFailure(error, `check ${partId}`, failures, 0);
        continue;
      }
      await this.hooks.beforeInsert?.(partId);
      // The insert must be over (done or given up, plus settle time) before the lease can
      // expire: only then can a flusher taking the batch over trust hasBatch. Checked right
      // before the call, in the same tick, so a stall after the renew (GC, a slow hasBatch)
      // sends us round again to renew, where a lost lease is noticed.
      if (performance.now() + this.insertTimeoutMs + this.insertSettleMs > deadline) {
        failures++;
        await this.afterFailure(new Error(`lease of ${batch.batchId} too short to start an insert (renew and check took too long)`), `insert ${partId}`, failures, 0);
        continue;
      }
      const started = performance.now();
      try {
        await withTimeout(this.store.insertBatch(partId, rows), this.insertTimeoutMs, `insert ${partId}`);
      } catch (error) {
        failures++;
        await this.afterFailure(error, `insert ${partId}`, failures, this.insertSettleMs);
        continue;
      }
      this.metrics.observe('flush_insert_seconds', (performance.now() - started) / 1000);
      await this.hooks.afterInsert?.(partId);
      return 'inserted';
    }
  }

  /**
   * Run a Redis step until it succeeds; undefined when stopping (or after `maxAttempts`).
   * Errors `retryable` rejects are thrown at once.
   */
  private async retrying<T>(
    what: string,
    step: () => Promise<T>,
    maxAttempts = Number.POSITIVE_INFINITY,
    retryable: (error: unknown) => boolean = () => true,
  ): Promise<T | undefined> {
    for (let failures = 0; failures < maxAttempts; ) {
      if (this.stopping.signal.aborted && maxAttempts === Number.POSITIVE_INFINITY) return undefined;
      try {
        return await step();
      } catch (error) {
        if (!retryable(error)) throw error;
        failures++;
        await this.afterFailure(error, what, failures, 0);
      }
    }
    return undefined;
  }

  private async afterFailure(error: unknown, what: string, failures: number, minimumDelayMs: number): Promise<void> {
    this.metrics.increment('flush_retries_total');
    this.options.onError?.(error, what);
    await sleep(Math.max(minimumDelayMs, backoffDelay(failures, this.retry)), this.stopping.signal);
  }

  private async redisTimeMs(): Promise<number> {
    const [seconds, micros] = await this.redis.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  }

  /** flush_lag_seconds: now - the oldest minute not yet flushed (open or claimed). */
  private async updateGauges(): Promise<void> {
    let oldest = Number.POSITIVE_INFINITY;
    const first = await this.redis.zrange(this.keys.minutes, 0, 0);
    if (first.length > 0) oldest = Number(first[0]);
    const inFlight = await this.redis.zrange(this.keys.flushing, 0, -1);
    for (const batchId of inFlight) {
      const minutes = await this.redis.hget(this.keys.batch(batchId), 'minutes');
      if (minutes !== null) oldest = Math.min(oldest, Number(minutes.split(',')[0]));
    }
    this.metrics.set('flush_batches_in_flight', inFlight.length);
    this.metrics.set('flush_lag_seconds', Number.isFinite(oldest) ? Math.max(0, this.now() / 1000 - oldest) : 0);
  }
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  return value;
}
