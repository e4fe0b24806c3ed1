/**
 * What the main thread (threaded-udp-listener.ts) and the receive thread
 * (receiver-worker.ts) say to each other, in one place so both sides agree. Datagrams go
 * through the ring (datagram-ring.ts), never through messages: messages are for the rare
 * things (bound sockets, stop, the not-allowed senders list).
 */
import type { BoundSocket, ListenAddress } from '../udp-listener.js';

export interface ReceiverWorkerData {
  /** DatagramRing.buffer. */
  ring: SharedArrayBuffer;
  /** RECEIVER_COUNTERS Float64 slots, written by the worker only. */
  counters: SharedArrayBuffer;
  listen: ListenAddress[];
  receiveBufferBytes: number;
  /** Allowlist prefixes (the worker builds its own ExporterAllowlist). */
  exporters: string[];
}

/** Float64 slots of `counters` (the worker writes, the main thread reads at any time). */
export const COUNTER_RECEIVED = 0;
export const COUNTER_RECEIVED_BYTES = 1;
export const COUNTER_NOT_ALLOWED = 2;
export const COUNTER_SLOTS = 8;

export type MainToWorker = { type: 'stop' };

export type WorkerToMain =
  /** Every socket is bound and receiving. */
  | { type: 'bound'; bound: BoundSocket[] }
  /** A socket could not be bound; the worker closed the others and exits. */
  | { type: 'bind-failed'; message: string; code?: string }
  /** The not-allowed senders (bounded), when it changed: new senders at once, counts at most every 200 ms. */
  | { type: 'senders'; senders: [string, number][] }
  /** Sockets closed: everything received is in the ring; the worker exits next. */
  | { type: 'stopped' };
