/**
 * What the main thread (threaded-udp-listener.ts) and the receive thread
 * (receiver-worker.ts) say to each other, in one place so both sides agree. Datagrams go
 * through the ring (datagram-ring.ts), never through messages: messages are for the rare
 * things (bound sockets, stop, the not-allowed senders list).
 */
import type { HolderLookupTables } from '../../attribution/holder-lookup.js';
import type { ExporterStats } from '../../decoder/index.js';
import type { BoundSocket, ListenAddress } from '../udp-listener.js';

/**
 * "flows" mode (receive-pipeline.ts): the receive thread also decodes and attributes, and
 * the ring carries attributed-record chunks instead of datagrams.
 */
export interface PipelineConfig {
  /** Generation of `tables` (the main thread's index of the same number). */
  generation: number;
  tables: HolderLookupTables;
  classes: Record<string, readonly string[]>;
  defaultClass: string;
  samplingOverrides: Record<string, number>;
  templateIdleTimeoutMs: number;
  /** COLLECTOR_STATE_FILE, '' for none. */
  stateFile: string;
}

/** The receive thread's pipeline counters (cumulative), posted for /metrics. */
export interface PipelineSnapshot {
  decoder: ExporterStats[];
  pendingSets: number;
  /** [exporter "address:port", records, bytes, packets] (bigints as decimal text). */
  unattributed: [string, number, string, string][];
  /** Attributions written to the ring, and lost because it was full. */
  records: number;
  droppedRecords: number;
}

/** "native": recvmmsg batches (collector/native); "node": node:dgram. */
export type ReceiverKind = 'native' | 'node';

export interface ReceiverWorkerData {
  /** DatagramRing.buffer. */
  ring: SharedArrayBuffer;
  /** RECEIVER_COUNTERS Float64 slots, written by the worker only. */
  counters: SharedArrayBuffer;
  listen: ListenAddress[];
  receiveBufferBytes: number;
  /** How the sockets are read: the batched native receiver (native-udp.ts) or node:dgram. */
  receiver: ReceiverKind;
  /** Allowlist prefixes (the worker builds its own ExporterAllowlist). */
  exporters: string[];
  /** Set: "flows" mode (pipeline-worker.ts decodes and attributes); absent: the ring carries datagrams. */
  pipeline?: PipelineConfig;
  /** Flows mode: size of the datagram ring between the receive thread and the pipeline thread. */
  datagramRingBytes?: number;
}

/** Float64 slots of `counters` (the worker writes, the main thread reads at any time). */
export const COUNTER_RECEIVED = 0;
export const COUNTER_RECEIVED_BYTES = 1;
export const COUNTER_NOT_ALLOWED = 2;
/** Flows mode: allowed datagrams (and their bytes) handed to the decoder. */
export const COUNTER_DECODED = 3;
export const COUNTER_DECODED_BYTES = 4;
/** Flows mode: datagrams the receive thread could not put in the datagram ring (full). */
export const COUNTER_DATAGRAM_RING_DROPS = 5;
/** Native receiver: datagrams cut short (cannot happen: a slot holds 64 KiB) and receive errors. */
export const COUNTER_TRUNCATED = 6;
export const COUNTER_RECEIVE_ERRORS = 7;
export const COUNTER_SLOTS = 8;

export type MainToWorker =
  | { type: 'stop' }
  /** Flows mode: attribute with these tables (index `generation`) from the next datagram on. */
  | { type: 'index'; generation: number; tables: HolderLookupTables };

export type WorkerToMain =
  /** Every socket is bound and receiving. */
  | { type: 'bound'; bound: BoundSocket[] }
  /** A socket could not be bound; the worker closed the others and exits. */
  | { type: 'bind-failed'; message: string; code?: string }
  /** The not-allowed senders (bounded), when it changed: new senders at once, counts at most every 200 ms. */
  | { type: 'senders'; senders: [string, number][] }
  /** Flows mode: counters, every PIPELINE_SNAPSHOT_MS and right before 'stopped'. */
  | { type: 'pipeline'; snapshot: PipelineSnapshot }
  /** A line for the collector's log. */
  | { type: 'log'; message: string }
  /** Sockets closed: everything received is in the ring; the worker exits next. */
  | { type: 'stopped' };

export const PIPELINE_SNAPSHOT_MS = 500;
