/**
 * The collector process: UDP → decode → attribute (address → subscriber at the flow's
 * time) → minute aggregation → idempotent pushes into Redis.
 *
 * Start order matters for billing: the subscriber index is loaded BEFORE the UDP ports open,
 * since flows decoded without it would all be counted as unattributed.
 */
import type http from 'node:http';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { MinuteAggregator, type UsageEntry } from '../aggregation/index.js';
import { AttributedChunkReader, BatchAttributor, type ChunkContext, SubscriberIndex, TrafficClassifier, UnattributedTally } from '../attribution/index.js';
import { FlowDecoder, type ExporterStats, type FlowBatch } from '../decoder/index.js';
import { RedisUsageSink } from '../redis/index.js';
import { AssignmentWatcher } from '../subscribers/assignment-watcher.js';
import type { CollectorConfig } from './config.js';
import { ExporterAllowlist } from './exporter-allowlist.js';
import { ApiKeyVerifier } from '@flowbill/shared/postgres/api-key-verifier';
import { registerCollectorMetrics, serveMetrics } from './metrics.js';
import { PromPipelineMetrics } from './prom-pipeline-metrics.js';
import { resolveReceiver } from './receiver/native-udp.js';
import type { PipelineSnapshot } from './receiver/protocol.js';
import { ThreadedUdpListener } from './receiver/threaded-udp-listener.js';
import { socketBufferDrops } from './socket-drops.js';
import { restoreTemplateState, saveTemplateState } from './template-state-file.js';
import { UdpListener, type BoundSocket } from './udp-listener.js';

export interface CollectorServiceDeps {
  config: CollectorConfig;
  redis: Redis;
  redisPrefix: string;
  pool: pg.Pool;
  databaseUrl: string;
  registry: Registry;
  log?: (message: string) => void;
  /** Serve /metrics over HTTP (tests may turn it off). Default true. */
  serveMetricsHttp?: boolean;
  /** /metrics needs an API key (default true, like every API route but /healthz). */
  metricsRequireKey?: boolean;
  /**
   * The collector cannot go on (its UDP receive thread died): stop and exit non-zero so the
   * supervisor restarts it. Default: log and exit(1) at once.
   */
  onFatal?: (error: Error) => void;
}

/** How long start() waits for the first subscriber index before giving up. */
const FIRST_INDEX_TIMEOUT_MS = 60_000;

/** Entries added to the sink per event-loop turn during a hand-over (a few ms of work). */
const HANDOVER_CHUNK = 2000;

export class CollectorService {
  /**
   * The decoder, when it runs on this thread (the default); null with
   * COLLECTOR_PIPELINE_THREAD, when the pipeline thread decodes and attributes
   * (receiver/receive-pipeline.ts) and this thread reads attributed records from a ring.
   * decoderStats() works in both.
   */
  readonly decoder: FlowDecoder | null;
  readonly attributor: BatchAttributor;
  readonly aggregator: MinuteAggregator;
  readonly sink: RedisUsageSink;
  readonly unattributed = new UnattributedTally();
  /** COLLECTOR_RECEIVE_THREAD: sockets read by a thread of their own (default), or on this one. */
  readonly listener: UdpListener | ThreadedUdpListener;
  private readonly watcher: AssignmentWatcher;
  private timers: NodeJS.Timeout[] = [];
  private metricsServer: http.Server | null = null;
  private indexLoaded = false;
  private readonly log: (message: string) => void;
  /** Entries the sink refused (Redis unreachable for too long): never silent. */
  refusedEntries = 0;
  /**
   * Pipeline-thread mode: each subscriber index by generation, from the one whose tables the
   * pipeline thread was last sent down to the oldest whose records may still be in the ring.
   */
  private readonly generations = new Map<number, SubscriberIndex>();
  private latestGeneration = 0;
  private readingGeneration = -1;
  private readingIndex: SubscriberIndex = SubscriberIndex.EMPTY;
  /** Pipeline-thread mode: exporter "address:port" by the pipeline thread's exporter id. */
  private readonly exporterKeys: string[] = [];
  private pipelineSnapshot: PipelineSnapshot | null = null;
  private chunkReader: AttributedChunkReader | null = null;
  private readonly chunkContext: ChunkContext;
  /** Which receiver the receive thread uses, for the start-up log (null: no receive thread). */
  private readonly receiverNote: string | null;

  constructor(private readonly deps: CollectorServiceDeps) {
    const c = deps.config;
    this.log = deps.log ?? ((m) => console.error(`[collector ${c.COLLECTOR_ID}] ${m}`));
    const classifier = TrafficClassifier.build({ classes: c.COLLECTOR_CLASSES, defaultClass: c.COLLECTOR_DEFAULT_CLASS });
    this.attributor = new BatchAttributor({ subscribers: SubscriberIndex.EMPTY, classifier });
    const pipelineThread = c.COLLECTOR_RECEIVE_THREAD && c.COLLECTOR_PIPELINE_THREAD;
    this.decoder = pipelineThread
      ? null
      : new FlowDecoder({
          onBatch: (batch) => this.onBatch(batch),
          samplingOverrides: c.COLLECTOR_SAMPLING_OVERRIDES,
          templateIdleTimeoutMs: c.COLLECTOR_TEMPLATE_TIMEOUT_SECONDS * 1000,
        });
    this.aggregator = new MinuteAggregator({
      // Exporter ids are per process; Redis keeps the router's address.
      exporterLabel: (id) => this.exporterKey(id),
      onFull: () => this.pushAggregates(),
    });
    this.chunkContext = {
      classNames: classifier.classNames,
      exporter: (id, key) => {
        this.exporterKeys[id] = key;
      },
      indexOf: (generation) => this.indexOfGeneration(generation),
    };
    const metrics = new PromPipelineMetrics(deps.registry);
    this.sink = new RedisUsageSink(deps.redis, {
      prefix: deps.redisPrefix,
      collectorId: c.COLLECTOR_ID,
      pushIntervalMs: c.COLLECTOR_PUSH_INTERVAL_MS,
      metrics,
      onRefused: (entries, reason) => {
        this.refusedEntries += entries.length;
        this.log(`Redis sink refused ${entries.length} usage entries (${reason}); they are not accepted`);
      },
      onPushError: (error, attempt) => {
        if (attempt === 1 || attempt % 20 === 0) this.log(`push to Redis failed (attempt ${attempt}), retrying: ${(error as Error).message}`);
      },
    });
    this.watcher = new AssignmentWatcher({
      pool: deps.pool,
      databaseUrl: deps.databaseUrl,
      reloadIntervalMs: c.COLLECTOR_ASSIGNMENT_RELOAD_SECONDS * 1000,
      onIndex: (index, info) => {
        this.attributor.replaceSubscriberIndex(index);
        if (this.decoder === null && this.listener instanceof ThreadedUdpListener) {
          const generation = ++this.latestGeneration;
          this.generations.set(generation, index);
          // Before the thread runs, start() sends the latest generation itself (and the
          // tables, O(assignments) to make, are not made twice).
          this.listener.replaceIndex(generation, () => index.lookupTables());
        }
        if (!this.indexLoaded) this.log(`subscriber index loaded: ${info.assignments} assignments`);
        this.indexLoaded = true;
      },
      log: (m: string) => this.log(m),
    });
    // Throws for COLLECTOR_RECEIVER=native where the module cannot load: start-up stops.
    const receiver = c.COLLECTOR_RECEIVE_THREAD ? resolveReceiver(c.COLLECTOR_RECEIVER) : null;
    this.receiverNote = receiver?.note ?? null;
    const listen = { listen: c.COLLECTOR_LISTEN, receiveBufferBytes: c.COLLECTOR_RECEIVE_BUFFER_BYTES, allowlist: new ExporterAllowlist(c.COLLECTOR_EXPORTERS) };
    this.listener = pipelineThread
      ? new ThreadedUdpListener({
          ...listen,
          receiver: receiver!.kind,
          ringBytes: c.COLLECTOR_RING_BYTES,
          // The pipeline thread decodes and attributes; chunks of attributed records come here.
          pipeline: () => ({
            generation: this.latestGeneration,
            tables: (this.generations.get(this.latestGeneration) ?? SubscriberIndex.EMPTY).lookupTables(),
            classes: c.COLLECTOR_CLASSES,
            defaultClass: c.COLLECTOR_DEFAULT_CLASS,
            samplingOverrides: c.COLLECTOR_SAMPLING_OVERRIDES,
            templateIdleTimeoutMs: c.COLLECTOR_TEMPLATE_TIMEOUT_SECONDS * 1000,
            stateFile: c.COLLECTOR_STATE_FILE,
          }),
          onChunk: (chunk) => this.onChunk(chunk),
          onPipelineSnapshot: (snapshot) => {
            this.pipelineSnapshot = snapshot;
          },
          onLog: (message) => this.log(message),
          onError: (error) => this.fatal(error),
        })
      : c.COLLECTOR_RECEIVE_THREAD
      ? new ThreadedUdpListener({
          ...listen,
          receiver: receiver!.kind,
          ringBytes: c.COLLECTOR_RING_BYTES,
          // `msg` is a view into the ring, valid during the call: the decoder copies what it keeps.
          onMessage: (msg, address, port, receivedAt) => this.decoder!.decode(msg, address, port, receivedAt),
          onError: (error) => this.fatal(error),
        })
      : new UdpListener({ ...listen, onMessage: (msg, address, port) => this.decoder!.decode(msg, address, port, Date.now()) });
    const listener = this.listener;
    registerCollectorMetrics(deps.registry, {
      decoderStats: () => this.decoderStats(),
      listenerStats: () => this.listener.stats,
      receiveRing: () => (listener instanceof ThreadedUdpListener ? listener : null),
      socketDrops: () => socketBufferDrops(listener.bound),
      unattributed: () => this.unattributedByExporter(),
      pendingTemplateSets: () => (this.decoder !== null ? this.decoder.pendingSets() : (this.pipelineSnapshot?.pendingSets ?? 0)),
    });
  }

  /** The decoder's per-exporter counters, wherever it runs (in the pipeline thread: as of its last snapshot, at most 500 ms old). */
  decoderStats(): ExporterStats[] {
    return this.decoder !== null ? this.decoder.stats() : (this.pipelineSnapshot?.decoder ?? []);
  }

  /** Records with no subscriber at either end, per exporter (pipeline thread: as of its last snapshot). */
  unattributedByExporter(): { exporter: string; records: number; bytes: bigint; packets: bigint }[] {
    if (this.decoder === null) return (this.pipelineSnapshot?.unattributed ?? []).map(([exporter, records, bytes, packets]) => ({ exporter, records, bytes: BigInt(bytes), packets: BigInt(packets) }));
    return [...this.unattributed.entries()].map(([id, u]) => ({ exporter: this.exporterKey(id), records: u.records, bytes: u.bytes, packets: u.packets }));
  }

  private exporterKey(id: number): string {
    if (this.decoder !== null) return this.decoder.exporter(id).key;
    const key = this.exporterKeys[id];
    // The pipeline thread announces every exporter before its first record: a bug otherwise.
    if (key === undefined) throw new Error(`exporter ${id} was not announced by the pipeline thread`);
    return key;
  }

  /** One chunk from the pipeline thread: exporter announcements, or attributed records for the aggregator. */
  private onChunk(chunk: Uint8Array): void {
    if (this.chunkReader === null) this.chunkReader = new AttributedChunkReader(new Uint8Array(chunk.buffer as ArrayBuffer));
    this.chunkReader.read(chunk.byteOffset, chunk.byteLength, this.chunkContext, this.aggregator);
  }

  /**
   * The index whose holder ids a chunk of `generation` uses. Chunks come in order, so once
   * one of a generation is read, older generations can no longer appear: they are let go.
   */
  private indexOfGeneration(generation: number): SubscriberIndex {
    if (generation === this.readingGeneration) return this.readingIndex;
    const index = this.generations.get(generation);
    if (index === undefined) throw new Error(`the pipeline thread used subscriber index generation ${generation}, which this thread does not have`);
    for (const old of this.generations.keys()) if (old < generation) this.generations.delete(old);
    this.readingGeneration = generation;
    this.readingIndex = index;
    return index;
  }

  /** The collector cannot go on: log, then let the process stop and exit non-zero. */
  private fatal(error: Error): void {
    this.log(`fatal: ${error.message}`);
    if (this.deps.onFatal) this.deps.onFatal(error);
    else process.exit(1);
  }

  private onBatch(batch: FlowBatch): void {
    // Straight into the aggregator as numbers (no AttributedFlow per record).
    this.attributor.attributeTo(batch, this.aggregator, this.unattributed);
  }

  /** Hand what the aggregator holds to the Redis sink (which pushes on its own timer). */
  private pushAggregates(): void {
    const entries = this.aggregator.drain();
    if (entries.length > 0) this.sink.add(entries);
  }

  /** The last hand-over's pushes, until Redis acknowledged them all; null when none is out. */
  private handover: Promise<void> | null = null;
  private lastHandoverAt = 0;

  /**
   * Hand the aggregates over at most once per push interval, and only once Redis has
   * acknowledged the previous hand-over; then seal and send them at once (sink.flush).
   * While Redis is slower than the traffic (many subscribers, so many distinct keys per
   * interval), the aggregator keeps merging records into the keys it holds instead of the
   * sink queueing push after push: a push then carries one interval's distinct keys however
   * long the last one took, memory stays bounded by the keys, and the collector does not
   * drown in its own backlog (bench/RESULTS.md, "Ingestion"). In normal operation this is
   * one push per interval, as before, sealed at hand-over instead of on the sink's timer.
   */
  private handOver(now: number): void {
    if (this.handover !== null || now - this.lastHandoverAt < this.deps.config.COLLECTOR_PUSH_INTERVAL_MS - this.tickMs / 2) return;
    this.lastHandoverAt = now;
    const entries = this.aggregator.drain();
    if (entries.length === 0) return;
    const done = () => {
      this.handover = null;
    };
    this.handover = this.feedSink(entries)
      .then(() => this.sink.flush())
      .then(done, done);
  }

  /** Entries drained for the sink and not yet added to it (see feedSink), from index feedFrom. */
  private feeding: UsageEntry[] = [];
  private feedFrom = 0;

  /**
   * Add drained entries to the sink HANDOVER_CHUNK at a time, yielding to the event loop in
   * between: with thousands of subscribers a hand-over is tens of thousands of entries, and
   * adding them in one go (keys, copies, pushes built) would stop the UDP socket from being
   * read for longer than its buffer lasts. stop() adds whatever is left at once.
   */
  private async feedSink(entries: UsageEntry[]): Promise<void> {
    this.feeding = entries;
    this.feedFrom = 0;
    while (this.feeding === entries && this.feedFrom < entries.length) {
      const end = Math.min(this.feedFrom + HANDOVER_CHUNK, entries.length);
      const chunk = entries.slice(this.feedFrom, end);
      this.feedFrom = end;
      this.sink.add(chunk);
      if (end < entries.length) await new Promise<void>((resolve) => setImmediate(resolve));
    }
    if (this.feeding === entries) this.feeding = [];
  }

  /** Give the sink what a hand-over in progress has not given it yet (before stopping). */
  private finishFeeding(): void {
    const rest = this.feeding.slice(this.feedFrom);
    this.feeding = [];
    this.feedFrom = 0;
    if (rest.length > 0) this.sink.add(rest);
  }

  private get tickMs(): number {
    return Math.max(20, Math.floor(this.deps.config.COLLECTOR_PUSH_INTERVAL_MS / 2));
  }

  async start(): Promise<BoundSocket[]> {
    const c = this.deps.config;
    this.restoreTemplates();
    const deadline = Date.now() + FIRST_INDEX_TIMEOUT_MS;
    let loaded = await this.watcher.start();
    while (!loaded && !this.indexLoaded && Date.now() < deadline) {
      this.log('waiting for PostgreSQL to load the subscriber index');
      await new Promise((r) => setTimeout(r, 1000));
      loaded = await this.watcher.reload('manual');
    }
    if (!this.indexLoaded) throw new Error('could not load subscriber assignments from PostgreSQL; refusing to collect flows nobody can be billed for');
    this.sink.start();
    const tick = setInterval(() => {
      // Records wait in the decoder's batch until it fills: hand over what is there.
      this.decoder?.flush();
      this.handOver(Date.now());
    }, this.tickMs);
    this.timers = [tick];
    // In pipeline-thread mode that thread expires and saves templates itself (receive-pipeline.ts).
    const decoder = this.decoder;
    if (decoder !== null) {
      this.timers.push(setInterval(() => decoder.expire(Date.now()), 60_000));
      this.timers.push(setInterval(() => this.saveTemplates(), 60_000));
    }
    for (const t of this.timers) t.unref();
    if (this.deps.serveMetricsHttp !== false) {
      const m = c.COLLECTOR_METRICS_LISTEN;
      const keys = new ApiKeyVerifier({ pool: this.deps.pool, cacheTtlMs: 30_000 });
      const checkKey = this.deps.metricsRequireKey === false ? undefined : async (key: string) => (await keys.verify(key)) !== null;
      this.metricsServer = await serveMetrics(this.deps.registry, m.host, m.port, () => this.indexLoaded, checkKey);
    }
    const bound = await this.listener.start();
    for (const b of bound) this.log(`listening on udp ${b.host.includes(':') ? `[${b.host}]` : b.host}:${b.port} (receive buffer ${b.receiveBufferBytes} bytes)`);
    if (this.listener instanceof ThreadedUdpListener) {
      const mib = (this.listener.ringBytes / 1048576).toFixed(0);
      this.log(
        this.decoder === null
          ? `receiving in a thread of its own, decoding and attributing in another; rings of ${this.listener.ringBytes} bytes (${mib} MiB) between them and this one`
          : `receiving in a thread of its own; ring of ${this.listener.ringBytes} bytes (${mib} MiB) between it and the pipeline`,
      );
    }
    else this.log('receiving on the main thread (COLLECTOR_RECEIVE_THREAD=false)');
    if (this.receiverNote !== null) this.log(this.receiverNote);
    return bound;
  }

  /** Stop receiving, push everything decoded so far, save template state. */
  async stop(): Promise<{ unpushedKeys: number }> {
    await this.listener.stop();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.finishFeeding();
    this.decoder?.flush();
    this.pushAggregates();
    const result = await this.sink.stop({ timeoutMs: 30_000 });
    if (result.unpushedKeys > 0) this.log(`stopped with ${result.unpushedKeys} usage entries not acknowledged by Redis`);
    this.saveTemplates();
    await this.watcher.stop();
    if (this.metricsServer) await new Promise<void>((r) => this.metricsServer!.close(() => r()));
    return result;
  }

  private restoreTemplates(): void {
    if (this.decoder !== null) restoreTemplateState(this.decoder, this.deps.config.COLLECTOR_STATE_FILE, this.log);
  }

  private saveTemplates(): void {
    if (this.decoder !== null) saveTemplateState(this.decoder, this.deps.config.COLLECTOR_STATE_FILE, this.log);
  }
}
