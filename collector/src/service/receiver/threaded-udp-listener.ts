/**
 * UdpListener's surface, with the sockets read by a thread of their own.
 *
 * Why: with the sockets on the main thread, every pause of it longer than the kernel's
 * socket buffer lasts (4 MiB = ~90 ms at 40k datagrams/s; net.core.rmem_max caps it) lost
 * datagrams: major GCs, hand-overs of aggregates, building Redis pushes — losses the
 * ingestion benchmark saw with the CPU not saturated (bench/RESULTS.md, "Ingestion").
 * Here a worker (receiver-worker.ts) only receives: it checks the allowlist and copies
 * datagrams into a shared ring (datagram-ring.ts, 64 MiB by default), and this side hands
 * them to `onMessage` on the main thread when it is free. A pause now costs ring space, not
 * datagrams; a full ring drops and counts (`ringDrops`), it never blocks the receiver.
 *
 * Delivery: drains in slices of at most `maxDatagramsPerTurn` datagrams or `maxMsPerTurn`
 * ms, yielding with setImmediate between slices so timers and Redis replies still run.
 * When the ring is empty it looks again after `pollMs` (1 ms) while traffic flows, and when
 * a look found nothing it sleeps in Atomics.waitAsync on the ring's write position (no
 * spinning, no timer while idle; the worker notifies only while this side waits). So a
 * steady stream costs a timer per millisecond, not a cross-thread wake-up per datagram. `message` is a view into the ring, valid
 * only during the call (the decoder copies what it keeps: `msg.slice()` on a Uint8Array).
 *
 * Flows mode (`pipeline` set; COLLECTOR_PIPELINE_THREAD): the worker is pipeline-worker.ts,
 * which receives through an inner listener of this class (datagram mode, so its own receive
 * thread), decodes and attributes, and the ring carries chunks of attributed records
 * (attribution/attributed-records.ts) to `onChunk` instead of datagrams to `onMessage`.
 *
 * Failure: if the worker dies or throws, `onError` is called (the collector turns it into a
 * logged fatal exit, so its supervisor restarts it); what is already in the ring is still
 * delivered. stop() closes the sockets, then delivers everything in the ring before it
 * resolves: nothing received is dropped at a clean stop.
 */
import type { Worker } from 'node:worker_threads';
import type { ExporterAllowlist } from '../exporter-allowlist.js';
import type { BoundSocket, ListenAddress, UdpListenerStats } from '../udp-listener.js';
import { AddressTextCache } from './address-text.js';
import { DatagramRing, type RingRecordHandler } from './datagram-ring.js';
import {
  COUNTER_DATAGRAM_RING_DROPS,
  COUNTER_DECODED,
  COUNTER_DECODED_BYTES,
  COUNTER_NOT_ALLOWED,
  COUNTER_RECEIVE_ERRORS,
  COUNTER_RECEIVED,
  COUNTER_SLOTS,
  COUNTER_TRUNCATED,
  type MainToWorker,
  type PipelineConfig,
  type PipelineSnapshot,
  type ReceiverKind,
  type ReceiverWorkerData,
  type WorkerToMain,
} from './protocol.js';
import type { HolderLookupTables } from '../../attribution/holder-lookup.js';
import { resolveReceiver } from './native-udp.js';
import { startWorker } from './ts-worker.js';

export interface ThreadedUdpListenerOptions {
  listen: readonly ListenAddress[];
  /** Receive buffer to ask for; the kernel caps it at net.core.rmem_max (unless root). */
  receiveBufferBytes: number;
  allowlist: ExporterAllowlist;
  /** Ring between the receive thread and this one, in bytes (records take 32 + payload rounded up to 8). */
  ringBytes: number;
  /** How the receive thread reads the sockets (native-udp.ts); default: native where it loads. */
  receiver?: ReceiverKind;
  /**
   * Datagrams mode: each datagram. `message` is valid only during the call: copy what must
   * outlive it. Not called in flows mode.
   */
  onMessage?(message: Uint8Array, address: string, port: number, receivedAt: number): void;
  /**
   * Flows mode (set `pipeline`): the receive thread decodes and attributes
   * (receive-pipeline.ts), and each chunk of attributed records
   * (attribution/attributed-records.ts) comes here: a view into the ring (whose buffer starts
   * at byte 0 of `chunk.buffer`), valid only during the call.
   */
  onChunk?(chunk: Uint8Array): void;
  /** Flows mode: what the receive thread decodes and attributes with (asked for at start). */
  pipeline?: () => PipelineConfig;
  /** Flows mode: the receive thread's counters, every PIPELINE_SNAPSHOT_MS and at stop. */
  onPipelineSnapshot?(snapshot: PipelineSnapshot): void;
  /** Lines the receive thread logs (template state restored or not saved). */
  onLog?(message: string): void;
  /**
   * The receive thread died or failed, or onMessage threw. Without this callback the error
   * is thrown as an uncaught exception: a listener never goes on silently without its thread.
   */
  onError?(error: Error): void;
  /** Most datagrams delivered per event-loop turn (default 2000). */
  maxDatagramsPerTurn?: number;
  /** Most milliseconds spent delivering per event-loop turn (default 4). */
  maxMsPerTurn?: number;
  /**
   * While datagrams keep coming, how long to let them gather before the next turn (default
   * 1 ms): the delay a datagram may wait in the ring beyond the main thread's own work.
   */
  pollMs?: number;
  /** Worker entry (tests); default receiver-worker.ts beside this file. */
  workerUrl?: URL;
}

export interface ReceiveRingStats {
  capacityBytes: number;
  usedBytes: number;
  /** Datagrams the receive thread could not put in the ring (full, or bigger than it). */
  drops: number;
  /** Datagrams the receive thread got, allowed or not. */
  received: number;
  /** Native receiver: datagrams cut short (dropped; cannot happen with its 64 KiB slots). */
  truncated: number;
  /** Native receiver: errors reported by a receive call (ICMP errors on the socket and the like; nothing is lost). */
  receiveErrors: number;
}

/** Stats with UdpListener's names: datagrams and bytes delivered, not-allowed from the thread. */
class ThreadedListenerStats implements UdpListenerStats {
  delivered = 0;
  deliveredBytes = 0;
  readonly notAllowedSenders = new Map<string, number>();
  counters: Float64Array | null = null;
  /** Flows mode: datagrams are handed to the decoder in the receive thread, which counts them. */
  flowsMode = false;

  get datagrams(): number {
    return this.flowsMode ? (this.counters?.[COUNTER_DECODED] ?? 0) : this.delivered;
  }

  get bytes(): number {
    return this.flowsMode ? (this.counters?.[COUNTER_DECODED_BYTES] ?? 0) : this.deliveredBytes;
  }

  get notAllowed(): number {
    return this.counters === null ? 0 : this.counters[COUNTER_NOT_ALLOWED];
  }
}

const DEFAULT_WORKER_URL = new URL('./receiver-worker.ts', import.meta.url);
/** Flows mode: the pipeline thread, which starts the receive thread itself. */
const PIPELINE_WORKER_URL = new URL('./pipeline-worker.ts', import.meta.url);
/** Records read per ring.read() call inside a turn (the time limit is checked between calls). */
const READ_CHUNK = 32;

export class ThreadedUdpListener {
  readonly stats = new ThreadedListenerStats();
  readonly bound: BoundSocket[] = [];
  private ring: DatagramRing | null = null;
  private ringBytesView: Uint8Array | null = null;
  private ringWordsView: Int32Array | null = null;
  private counters: Float64Array | null = null;
  private worker: Worker | null = null;
  private readonly addresses = new AddressTextCache();
  private readonly maxPerTurn: number;
  private readonly maxMs: number;
  private readonly pollMs: number;

  private starting: Promise<BoundSocket[]> | null = null;
  private stopping: Promise<void> | null = null;
  /** No more records will be written (the worker stopped or exited). */
  private producerDone = false;
  private workerExited: Promise<void> = Promise.resolve();
  private exited = true;
  private closed = false;
  private failure: Error | null = null;
  private turnScheduled = false;
  private waiting = false;
  private peakUsed = 0;
  private onDrained: (() => void) | null = null;
  private onStopped: (() => void) | null = null;

  /** How the receive thread reads the sockets. */
  readonly receiver: ReceiverKind;

  constructor(private readonly options: ThreadedUdpListenerOptions) {
    this.receiver = options.receiver ?? resolveReceiver('auto').kind;
    this.maxPerTurn = Math.max(1, options.maxDatagramsPerTurn ?? 2000);
    this.maxMs = Math.max(0.1, options.maxMsPerTurn ?? 4);
    this.pollMs = Math.max(0, options.pollMs ?? 1);
  }

  /**
   * Datagrams dropped because the ring was full (or a datagram was bigger than the ring).
   * Flows mode: chunks of attributed records (about one per datagram) the chunk ring
   * refused, plus datagrams the datagram ring before the pipeline thread refused.
   */
  get ringDrops(): number {
    if (this.ring === null) return 0;
    return this.ring.refused() + (this.options.pipeline !== undefined ? this.counters![COUNTER_DATAGRAM_RING_DROPS] : 0);
  }

  /** Ring size in bytes, once started. */
  get ringBytes(): number {
    return this.ring === null ? 0 : this.ring.capacity;
  }

  ringStats(): ReceiveRingStats | null {
    const ring = this.ring;
    if (ring === null) return null;
    const c = this.counters!;
    return { capacityBytes: ring.capacity, usedBytes: ring.usedBytes(), drops: this.ringDrops, received: c[COUNTER_RECEIVED], truncated: c[COUNTER_TRUNCATED], receiveErrors: c[COUNTER_RECEIVE_ERRORS] };
  }

  /**
   * Most bytes seen waiting in the ring since the previous call (sampled when a pause
   * ends, i.e. when this thread comes back to the ring): how close a pause came to dropping.
   */
  takePeakUsedBytes(): number {
    const ring = this.ring;
    if (ring === null) return 0;
    const peak = Math.max(this.peakUsed, ring.usedBytes());
    this.peakUsed = 0;
    return peak;
  }

  start(): Promise<BoundSocket[]> {
    if (this.starting !== null) throw new Error('ThreadedUdpListener.start() was already called');
    this.starting = this.startWorker();
    return this.starting;
  }

  private async startWorker(): Promise<BoundSocket[]> {
    const ring = DatagramRing.create(this.options.ringBytes);
    ring.prefault();
    this.ring = ring;
    this.ringBytesView = ring.bytes;
    this.ringWordsView = ring.words;
    const countersBuffer = new SharedArrayBuffer(COUNTER_SLOTS * 8);
    this.counters = new Float64Array(countersBuffer);
    this.stats.counters = this.counters;
    this.stats.flowsMode = this.options.pipeline !== undefined;
    const workerData: ReceiverWorkerData = {
      ring: ring.buffer,
      counters: countersBuffer,
      listen: this.options.listen.map((a) => ({ host: a.host, port: a.port })),
      receiveBufferBytes: this.options.receiveBufferBytes,
      receiver: this.receiver,
      exporters: [...this.options.allowlist.prefixes],
      ...(this.options.pipeline ? { pipeline: this.options.pipeline(), datagramRingBytes: this.options.ringBytes } : {}),
    };
    const flows = this.options.pipeline !== undefined;
    const worker = startWorker(this.options.workerUrl ?? (flows ? PIPELINE_WORKER_URL : DEFAULT_WORKER_URL), { workerData, name: flows ? 'flow-pipeline' : 'udp-receiver' });
    this.worker = worker;
    this.exited = false;
    this.workerExited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));

    let settle: { resolve: (b: BoundSocket[]) => void; reject: (e: Error) => void } | null = null;
    const bound = new Promise<BoundSocket[]>((resolve, reject) => (settle = { resolve, reject }));
    /** Until 'bound': a failure fails start(); after it, it is reported through onError. */
    let running = false;
    const startFailed = (error: Error) => {
      const s = settle;
      settle = null;
      s?.reject(error);
    };

    worker.on('message', (message: WorkerToMain) => {
      switch (message.type) {
        case 'bound': {
          this.bound.push(...message.bound);
          running = true;
          const s = settle;
          settle = null;
          s?.resolve(this.bound);
          break;
        }
        case 'bind-failed':
          startFailed(Object.assign(new Error(message.message), message.code ? { code: message.code } : {}));
          break;
        case 'senders': {
          const map = this.stats.notAllowedSenders;
          map.clear();
          for (const [address, count] of message.senders) map.set(address, count);
          break;
        }
        case 'pipeline':
          this.options.onPipelineSnapshot?.(message.snapshot);
          break;
        case 'log':
          this.options.onLog?.(message.message);
          break;
        case 'stopped':
          this.producerFinished();
          break;
      }
    });
    worker.on('error', (error: Error) => {
      if (!running) startFailed(new Error(`UDP receive thread failed to start: ${error.message}`, { cause: error }));
      else if (!this.closed) this.fail(new Error(`UDP receive thread failed: ${error.message}`, { cause: error }));
    });
    worker.on('exit', (code: number) => {
      this.exited = true;
      if (!running) startFailed(new Error(`UDP receive thread exited (code ${code}) before its sockets were bound`));
      else if (this.stopping === null && !this.closed) this.fail(new Error(`UDP receive thread exited unexpectedly (code ${code}); no datagram is received any more`));
      // Nothing more will be written: deliver what is left (and let stop() finish).
      this.producerFinished();
    });

    try {
      await bound;
    } catch (error) {
      // The worker exits by itself after a bind failure; make sure of it.
      this.closed = true;
      await worker.terminate();
      await this.workerExited;
      this.worker = null;
      throw error;
    }
    this.schedule();
    return this.bound;
  }

  /**
   * Close the sockets (in the receive thread), then deliver everything in the ring, then
   * let the thread go. Safe to call more than once, before start() resolved, or after a failure.
   */
  stop(): Promise<void> {
    if (this.stopping === null) this.stopping = this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<void> {
    if (this.starting !== null) await this.starting.catch(() => undefined);
    const worker = this.worker;
    if (worker === null || this.closed) return;
    if (!this.producerDone) {
      const stopped = new Promise<void>((resolve) => (this.onStopped = resolve));
      worker.postMessage({ type: 'stop' } satisfies MainToWorker);
      await stopped;
    }
    if (!this.ring!.isEmpty() || this.turnScheduled) {
      await new Promise<void>((resolve) => {
        this.onDrained = resolve;
        this.schedule();
      });
    }
    await Promise.race([this.workerExited, new Promise((r) => setTimeout(r, 5000).unref())]);
    if (!this.exited) await worker.terminate();
    this.closed = true;
    // Release a wait still pending on the ring (its callback sees `closed`).
    this.ring!.wake();
    this.worker = null;
  }

  /**
   * Flows mode: have the pipeline thread attribute with `tables()` (of index `generation`)
   * from its next datagram on. `tables` is only called when there is a thread to send them
   * to (before start, the `pipeline` option's config carries the latest index instead).
   * Chunks of the old generation may still be in the ring: keep that index until a chunk of
   * the new one is read.
   */
  replaceIndex(generation: number, tables: () => HolderLookupTables): void {
    if (this.worker === null || this.closed) return;
    this.worker.postMessage({ type: 'index', generation, tables: tables() } satisfies MainToWorker);
  }

  /** @internal For tests: the worker, to simulate its failure. */
  get workerForTests(): Worker | null {
    return this.worker;
  }

  private producerFinished(): void {
    if (this.producerDone) return;
    this.producerDone = true;
    const s = this.onStopped;
    this.onStopped = null;
    s?.();
    this.schedule();
  }

  private fail(error: Error): void {
    if (this.failure !== null) return;
    this.failure = error;
    const rethrow = (e: unknown) =>
      setImmediate(() => {
        throw e;
      });
    if (this.options.onError === undefined) rethrow(error);
    else {
      try {
        this.options.onError(error);
      } catch (e) {
        rethrow(e);
      }
    }
  }

  private schedule(): void {
    if (this.turnScheduled || this.closed) return;
    this.turnScheduled = true;
    setImmediate(this.turn);
  }

  private readonly deliver: RingRecordHandler = (payload, port, family, addressOffset, receivedAt) => {
    if (this.options.pipeline !== undefined) {
      this.options.onChunk?.(payload);
      return;
    }
    const address = this.addresses.text(this.ringBytesView!, this.ringWordsView!, addressOffset, family);
    const s = this.stats;
    s.delivered++;
    s.deliveredBytes += payload.length;
    this.options.onMessage?.(payload, address, port, receivedAt);
  };

  /** One slice of delivery; then another turn, or a wait for the worker, or the end of a stop. */
  private readonly turn = (): void => {
    this.turnScheduled = false;
    const ring = this.ring;
    if (ring === null || this.closed) return;
    const used = ring.usedBytes();
    if (used > this.peakUsed) this.peakUsed = used;
    const started = performance.now();
    let delivered = 0;
    while (delivered < this.maxPerTurn) {
      let n: number;
      try {
        n = ring.read(Math.min(READ_CHUNK, this.maxPerTurn - delivered), this.deliver);
      } catch (error) {
        // onMessage threw (the decoder never does; this is a bug): report it, go on.
        this.fail(error instanceof Error ? error : new Error(String(error)));
        n = 1;
      }
      if (n === 0) break;
      delivered += n;
      if (performance.now() - started >= this.maxMs) break;
    }
    if (!ring.isEmpty()) {
      this.schedule();
      return;
    }
    if (this.producerDone) {
      const done = this.onDrained;
      this.onDrained = null;
      done?.();
      return;
    }
    // Traffic is flowing: look again in a moment without asking to be woken, so a steady
    // stream costs one timer per `pollMs` instead of a wake-up (notify, task, context
    // switch) per datagram. Nothing came since the last look: wait to be woken.
    if (delivered > 0) this.scheduleLater();
    else this.sleep();
  };

  /** The next turn in `pollMs` (datagrams gather in the ring meanwhile). */
  private scheduleLater(): void {
    if (this.turnScheduled || this.closed) return;
    this.turnScheduled = true;
    setTimeout(this.turn, this.pollMs).unref();
  }

  private sleep(): void {
    if (this.waiting || this.closed) return;
    const wait = this.ring!.waitForData();
    if (wait === null) {
      this.schedule();
      return;
    }
    this.waiting = true;
    void wait.then(() => {
      this.waiting = false;
      // Woken by the first datagram of a burst: let the burst gather for `pollMs`.
      this.scheduleLater();
    });
  }
}
