/**
 * RedisUsageSink: takes aggregated usage entries and gets them into Redis, each exactly
 * once, through the push script.
 *
 * - Entries merge into an open push (same key -> summed). The open push is sealed every
 *   `pushIntervalMs` when nothing is waiting, or as soon as it holds `pushMaxKeys` entries.
 *   While Redis is unreachable the open push keeps merging, so an outage costs memory per
 *   distinct key, not per record.
 * - Sealed pushes are delivered one at a time in seq order; the head push is resent
 *   unchanged (same seq) after any failure or timeout, with capped exponential backoff,
 *   until Redis acknowledges it. That ordering is what the script's idempotence relies on.
 * - Pending entries (open + sealed) are bounded by `maxPendingKeys`. New keys past the
 *   bound are refused, counted, and handed to `onRefused`: never dropped silently.
 *   `onBackpressure(true)` fires at `backpressureRatio` of the bound.
 *
 * "Accepted" means acknowledged by the script. Whatever is pending when the process dies
 * was never accepted (the window is about `pushIntervalMs` in normal operation).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { type UsageEntry, usageKeyString } from '../aggregation/index.js';
import { backoffDelay, type BackoffOptions, sleep, withTimeout } from './backoff.js';
import { checkId, RedisKeys } from './keys.js';
import { NO_METRICS, type PipelineMetrics } from './pipeline-metrics.js';
import { buildPush, type Push } from './push.js';
import { applyPush } from './push-script.js';

/**
 * Why entries were refused:
 * - queue-full: the pending bound was reached (Redis down or too slow for too long);
 * - implausible-counter: a counter outside 0..2^53-1 for one key and minute (over a
 *   petabit per second: a corrupt record, which would also push the exporter's accepted
 *   totals towards HINCRBY's 2^63-1 limit);
 * - overflow: Redis refused the push because an accepted total would pass 2^63-1 (or a
 *   minute string would pass Redis's string size limit; see push-script.ts);
 * - unpushed-at-stop: stop() gave up waiting for Redis.
 */
export type RefusalReason = 'queue-full' | 'implausible-counter' | 'overflow' | 'unpushed-at-stop';

export interface RedisUsageSinkOptions {
  /** Key prefix (REDIS_PREFIX). */
  readonly prefix: string;
  /** Stable name of this collector (letters, digits, _ . -). */
  readonly collectorId: string;
  /**
   * Seal and send the open push this often (default 1 000 ms). Every push appends its own
   * line per key to the minute strings (summed only by the flusher), so Redis memory grows
   * with pushes x keys: see README.md before lowering it.
   */
  readonly pushIntervalMs?: number;
  /** Seal the open push at this many entries (default 50 000). */
  readonly pushMaxKeys?: number;
  /** Bound on entries not yet acknowledged (default 500 000). */
  readonly maxPendingKeys?: number;
  /** onBackpressure(true) at this fraction of maxPendingKeys (default 0.8). */
  readonly backpressureRatio?: number;
  /** One push attempt longer than this counts as failed and is retried (default 5 000 ms). */
  readonly pushTimeoutMs?: number;
  /** Backoff between attempts of one push (default 50 ms doubling to 2 000 ms). */
  readonly retry?: BackoffOptions;
  /** TTL of the run's applied-seq key, refreshed on every push (default 86 400 s). */
  readonly seqTtlSeconds?: number;
  readonly metrics?: PipelineMetrics;
  readonly onBackpressure?: (active: boolean) => void;
  /** Refused entries, for the service to log; they are not in Redis and not accepted. */
  readonly onRefused?: (entries: readonly UsageEntry[], reason: RefusalReason) => void;
  /** A failed push attempt (it will be retried), for logging. */
  readonly onPushError?: (error: unknown, attempt: number) => void;
  /** Default: random. Only tests set it (to replay a run). */
  readonly runId?: string;
}

const MAX_PLAUSIBLE = 2n ** 53n - 1n;

export class RedisUsageSink {
  readonly runId: string;
  readonly collectorId: string;
  private readonly keys: RedisKeys;
  private readonly pushIntervalMs: number;
  private readonly pushMaxKeys: number;
  private readonly maxPendingKeys: number;
  private readonly backpressureMark: number;
  private readonly pushTimeoutMs: number;
  private readonly retry: BackoffOptions;
  private readonly seqTtlSeconds: number;
  private readonly metrics: PipelineMetrics;

  private open = new Map<string, UsageEntry>();
  private readonly queue: Push[] = [];
  private pending = 0;
  private seq = 0;
  private backpressured = false;
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private stopped = false;
  /** Aborted by stop() on timeout: the delivery loop gives up. */
  private readonly abandon = new AbortController();

  constructor(
    private readonly redis: Redis,
    private readonly options: RedisUsageSinkOptions,
  ) {
    this.keys = new RedisKeys(options.prefix);
    this.collectorId = checkId('collectorId', options.collectorId);
    this.runId = checkId('runId', options.runId ?? randomBytes(8).toString('hex'));
    this.pushIntervalMs = positive('pushIntervalMs', options.pushIntervalMs ?? 1_000);
    this.pushMaxKeys = positive('pushMaxKeys', options.pushMaxKeys ?? 50_000);
    this.maxPendingKeys = positive('maxPendingKeys', options.maxPendingKeys ?? 500_000);
    this.backpressureMark = Math.ceil(this.maxPendingKeys * (options.backpressureRatio ?? 0.8));
    this.pushTimeoutMs = positive('pushTimeoutMs', options.pushTimeoutMs ?? 5_000);
    this.retry = options.retry ?? { initialMs: 50, maxMs: 2_000 };
    this.seqTtlSeconds = positive('seqTtlSeconds', options.seqTtlSeconds ?? 86_400);
    this.metrics = options.metrics ?? NO_METRICS;
  }

  /** Entries added but not yet acknowledged by Redis. */
  get pendingKeys(): number {
    return this.pending;
  }

  get backpressure(): boolean {
    return this.backpressured;
  }

  /** Start the push timer (add/flush work without it; the timer only seals and kicks). */
  start(): void {
    if (this.stopped) throw new Error('RedisUsageSink was stopped');
    if (this.timer !== null) return;
    const tick = () => {
      // Seal only when nothing is waiting: during an outage the open push keeps merging.
      if (this.queue.length === 0) this.seal();
      this.kick();
      this.timer = setTimeout(tick, this.pushIntervalMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, this.pushIntervalMs);
    this.timer.unref();
  }

  /**
   * Take entries (copied; the caller may reuse them). Returns how many were refused
   * (also counted and passed to onRefused).
   */
  add(entries: Iterable<Readonly<UsageEntry>>): number {
    if (this.stopped) throw new Error('RedisUsageSink was stopped');
    const implausible: UsageEntry[] = [];
    const full: UsageEntry[] = [];
    for (const entry of entries) {
      if (!plausible(entry.bytes) || !plausible(entry.packets) || !plausible(entry.flows)) {
        implausible.push({ ...entry });
        continue;
      }
      const key = usageKeyString(entry);
      const existing = this.open.get(key);
      if (existing !== undefined) {
        const bytes = existing.bytes + entry.bytes;
        const packets = existing.packets + entry.packets;
        const flows = existing.flows + entry.flows;
        if (!plausible(bytes) || !plausible(packets) || !plausible(flows)) {
          implausible.push({ ...entry });
          continue;
        }
        existing.bytes = bytes;
        existing.packets = packets;
        existing.flows = flows;
        continue;
      }
      if (this.pending >= this.maxPendingKeys) {
        full.push({ ...entry });
        continue;
      }
      this.open.set(key, { ...entry });
      this.pending++;
      if (this.open.size >= this.pushMaxKeys) {
        this.seal();
        this.kick();
      }
    }
    this.refuse(implausible, 'implausible-counter');
    this.refuse(full, 'queue-full');
    this.updateGauges();
    return implausible.length + full.length;
  }

  /**
   * Seal the open push and wait until everything added so far is acknowledged. Waits as
   * long as Redis is down unless `timeoutMs` is given (then rejects; nothing is lost, the
   * pushes stay queued).
   */
  async flush(options: { timeoutMs?: number } = {}): Promise<void> {
    this.seal();
    const drained = this.drainQueue();
    if (options.timeoutMs === undefined) return drained;
    return withTimeout(drained, options.timeoutMs, 'RedisUsageSink.flush');
  }

  /**
   * Stop the timer, refuse further adds, push everything. With `timeoutMs`, gives up
   * after it: what is still pending is reported through onRefused('unpushed-at-stop') and
   * returned. Does not close the Redis client (the caller owns it).
   */
  async stop(options: { timeoutMs?: number } = {}): Promise<{ unpushedKeys: number }> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    try {
      await this.flush(options);
      return { unpushedKeys: 0 };
    } catch {
      this.abandon.abort();
      await this.pumping;
      const left = [...this.queue.flatMap((push) => push.entries), ...this.open.values()];
      this.queue.length = 0;
      this.open = new Map();
      this.pending = 0;
      this.refuse(left, 'unpushed-at-stop');
      this.updateGauges();
      return { unpushedKeys: left.length };
    }
  }

  private seal(): void {
    if (this.open.size === 0) return;
    const entries = [...this.open.values()];
    this.open = new Map();
    this.seq++;
    this.queue.push(buildPush({ collectorId: this.collectorId, runId: this.runId, seq: this.seq }, entries));
  }

  private kick(): Promise<void> {
    if (this.pumping === null) {
      this.pumping = this.deliverAll().finally(() => {
        this.pumping = null;
      });
    }
    return this.pumping;
  }

  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0 && !this.abandon.signal.aborted) await this.kick();
  }

  /** Deliver queued pushes in order; each until acknowledged (or the sink is abandoned). */
  private async deliverAll(): Promise<void> {
    while (this.queue.length > 0) {
      const push = this.queue[0];
      const delivered = await this.deliver(push);
      if (!delivered) return;
      this.queue.shift();
      this.pending -= push.entries.length;
      this.updateGauges();
    }
  }

  private async deliver(push: Push): Promise<boolean> {
    for (let failures = 0; ; ) {
      if (this.abandon.signal.aborted) return false;
      const started = performance.now();
      try {
        const outcome = await withTimeout(applyPush(this.redis, this.keys, push, this.seqTtlSeconds), this.pushTimeoutMs, 'push');
        this.metrics.observe('push_seconds', (performance.now() - started) / 1000);
        if (outcome.kind === 'overflow') {
          // Nothing was written; the seq stays unused (later seqs are still larger).
          this.refuse(push.entries, 'overflow');
          return true;
        }
        this.metrics.increment('push_acknowledged_total');
        if (outcome.kind === 'duplicate') this.metrics.increment('push_duplicates_total');
        this.metrics.increment('push_entries_total', push.entries.length);
        return true;
      } catch (error) {
        failures++;
        this.metrics.increment('push_retries_total');
        this.options.onPushError?.(error, failures);
        await sleep(backoffDelay(failures, this.retry), this.abandon.signal);
      }
    }
  }

  private refuse(entries: readonly UsageEntry[], reason: RefusalReason): void {
    if (entries.length === 0) return;
    this.metrics.increment('sink_refused_entries_total', entries.length);
    this.options.onRefused?.(entries, reason);
  }

  private updateGauges(): void {
    this.metrics.set('sink_pending_entries', this.pending);
    const active = this.pending >= this.backpressureMark;
    if (active !== this.backpressured) {
      this.backpressured = active;
      this.metrics.set('sink_backpressure', active ? 1 : 0);
      this.options.onBackpressure?.(active);
    }
  }
}

function plausible(value: bigint): boolean {
  return value >= 0n && value <= MAX_PLAUSIBLE;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}
