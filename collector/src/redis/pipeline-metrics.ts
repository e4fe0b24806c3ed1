/**
 * Metrics hooks of the Redis push and the flusher. The service connects them to
 * prom-client (names map to `flowbill_<name>`); the default does nothing, and tests use
 * MemoryMetrics to assert on what happened.
 */

export type PipelineCounter =
  /** Pushes acknowledged by Redis (applied, or found already applied). */
  | 'push_acknowledged_total'
  /** Acknowledged pushes the script found already applied (a retry after a lost reply). */
  | 'push_duplicates_total'
  /** Usage entries in acknowledged pushes. */
  | 'push_entries_total'
  /** Failed push attempts that were retried. */
  | 'push_retries_total'
  /** Entries refused by the sink (queue full, implausible counter, overflow); see RefusalReason. */
  | 'sink_refused_entries_total'
  /** Batches claimed from Redis (new) or taken over (expired lease). */
  | 'flush_batches_claimed_total'
  | 'flush_batches_recovered_total'
  /** Batches fully in ClickHouse and deleted from Redis. */
  | 'flush_batches_done_total'
  /** Batches whose minute strings hold a line the push script never writes (left in Redis, reported). */
  | 'flush_batches_malformed_total'
  /** Batches given up because another flusher took the lease over. */
  | 'flush_leases_lost_total'
  /** Insert parts written, and parts found already in ClickHouse (a crash before cleanup). */
  | 'flush_parts_inserted_total'
  | 'flush_parts_present_total'
  | 'flush_rows_total'
  /** Failed store or Redis operations of the flusher that were retried. */
  | 'flush_retries_total';

export type PipelineHistogram =
  /** Seconds per push attempt that succeeded. */
  | 'push_seconds'
  /** Seconds per ClickHouse insert that succeeded. */
  | 'flush_insert_seconds';

export type PipelineGauge =
  /** Entries in the sink not yet acknowledged (open + queued pushes). */
  | 'sink_pending_entries'
  /** 1 while pending entries are above the backpressure mark. */
  | 'sink_backpressure'
  /** now - oldest minute still in Redis (open or being flushed), seconds; 0 when none. */
  | 'flush_lag_seconds'
  /** Batches in the flushing set. */
  | 'flush_batches_in_flight';

export interface PipelineMetrics {
  increment(name: PipelineCounter, value?: number): void;
  observe(name: PipelineHistogram, value: number): void;
  set(name: PipelineGauge, value: number): void;
}

export const NO_METRICS: PipelineMetrics = {
  increment() {},
  observe() {},
  set() {},
};

/** Keeps every value in memory (tests, debugging). */
export class MemoryMetrics implements PipelineMetrics {
  readonly counters = new Map<PipelineCounter, number>();
  readonly histograms = new Map<PipelineHistogram, number[]>();
  readonly gauges = new Map<PipelineGauge, number>();

  increment(name: PipelineCounter, value = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + value);
  }

  observe(name: PipelineHistogram, value: number): void {
    const values = this.histograms.get(name) ?? [];
    values.push(value);
    this.histograms.set(name, values);
  }

  set(name: PipelineGauge, value: number): void {
    this.gauges.set(name, value);
  }

  counter(name: PipelineCounter): number {
    return this.counters.get(name) ?? 0;
  }

  gauge(name: PipelineGauge): number | undefined {
    return this.gauges.get(name);
  }
}
