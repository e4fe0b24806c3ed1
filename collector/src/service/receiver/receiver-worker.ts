/**
 * The receive thread (a worker_threads worker started by threaded-udp-listener.ts).
 *
 * Why a thread: the main thread decodes, attributes, aggregates and talks to Redis and
 * PostgreSQL; whenever it pauses longer than the kernel's socket buffer lasts (4 MiB is
 * ~90 ms at 40k datagrams/s: a major GC, a big hand-over of aggregates), datagrams were
 * lost. Like nfcapd's receive thread, this one does nothing but receive: it binds the
 * sockets (the same rules as UdpListener, through openUdpSocket), checks the exporter
 * allowlist, and copies each allowed datagram with its receive time into the shared ring
 * (datagram-ring.ts), which absorbs the main thread's pauses. Its heap holds almost
 * nothing, so its own GC pauses are short.
 *
 * Two ways to read the sockets (ReceiverWorkerData.receiver): "native", the batched
 * receiver (native-udp.ts: recvmmsg, up to 64 datagrams per system call, laid out as ring
 * records, then one copy each), or "node", node:dgram's callback per datagram. With the
 * native one this thread blocks in poll() for at most NATIVE_POLL_MS at a time, and gives
 * its event loop a turn every NATIVE_SLICE_MS (the stop message, the senders timer).
 *
 * Counts (datagrams and bytes received, not allowed) live in a SharedArrayBuffer the main
 * thread reads; ring-full drops are counted by the ring. The not-allowed senders (bounded)
 * are posted when they change. On {type:'stop'} it closes the sockets (the native receiver
 * first reads what is already queued on them), posts 'stopped' (everything received is in
 * the ring by then) and exits.
 */
import type dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { ExporterAllowlist } from '../exporter-allowlist.js';
import { type BoundSocket, MAX_TRACKED_SENDERS, openUdpSocket } from '../udp-listener.js';
import { formatSenderAddress, senderAddressOf, type SenderAddress } from './address-text.js';
import { DatagramRing, RECORD_HEADER_BYTES } from './datagram-ring.js';
import { NativeUdpSockets } from './native-udp.js';
import {
  COUNTER_NOT_ALLOWED,
  COUNTER_RECEIVE_ERRORS,
  COUNTER_RECEIVED,
  COUNTER_RECEIVED_BYTES,
  COUNTER_TRUNCATED,
  type MainToWorker,
  type ReceiverWorkerData,
  type WorkerToMain,
} from './protocol.js';

if (parentPort === null) throw new Error('receiver-worker.ts runs as a worker thread started by ThreadedUdpListener');
const main = parentPort;
const data = workerData as ReceiverWorkerData;
const ring = new DatagramRing(data.ring);
const counters = new Float64Array(data.counters);
const allowlist = new ExporterAllowlist(data.exporters);

/** Per sender text: its address bytes, or null when it is not allowed. Bounded (spoofing). */
const SENDER_CACHE_LIMIT = 4096;
const senderCache = new Map<string, SenderAddress | null>();

/** Not-allowed senders and their counts (the first MAX_TRACKED_SENDERS seen). */
const notAllowedSenders = new Map<string, number>();
let sendersChanged = false;
const SENDERS_POST_MS = 200;

const sockets: dgram.Socket[] = [];
let sendersTimer: NodeJS.Timeout | undefined;

function post(message: WorkerToMain): void {
  main.postMessage(message);
}

function senderOf(address: string): SenderAddress | null {
  let sender: SenderAddress | null = null;
  if (allowlist.allows(address)) {
    try {
      sender = senderAddressOf(address);
    } catch {
      // Text the allowlist accepted but that is no plain address (cannot happen with
      // node:dgram's text): treat as not allowed rather than guess.
      sender = null;
    }
  }
  if (senderCache.size >= SENDER_CACHE_LIMIT) senderCache.clear();
  senderCache.set(address, sender);
  return sender;
}

function onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
  counters[COUNTER_RECEIVED]++;
  counters[COUNTER_RECEIVED_BYTES] += msg.length;
  let sender = senderCache.get(rinfo.address);
  if (sender === undefined) sender = senderOf(rinfo.address);
  if (sender === null) {
    notAllowed(rinfo.address);
    return;
  }
  // A refused write (ring full) is counted by the ring: the main thread reads it as a drop.
  ring.tryWrite(msg, rinfo.port, sender.family, sender.bytes, Date.now());
}

function notAllowed(address: string): void {
  counters[COUNTER_NOT_ALLOWED]++;
  const count = notAllowedSenders.get(address);
  if (count !== undefined) {
    notAllowedSenders.set(address, count + 1);
    sendersChanged = true;
  } else if (notAllowedSenders.size < MAX_TRACKED_SENDERS) {
    notAllowedSenders.set(address, 1);
    // A new knocker is worth telling at once (at most MAX_TRACKED_SENDERS times).
    postSenders();
  }
}

function postSenders(): void {
  sendersChanged = false;
  post({ type: 'senders', senders: [...notAllowedSenders] });
}

// ---------------------------------------------------------------------------------
// The native receiver: batches of records, checked and copied into the ring.

/** Longest wait in poll() per call: bounds how late a stop message is seen while idle. */
const NATIVE_POLL_MS = 20;
/** The event loop gets a turn at least this often while datagrams keep coming. */
const NATIVE_SLICE_MS = 50;
/**
 * Once a datagram is there, how long to let more gather before reading (udp_batch.c says
 * why). Overridable for benchmarks (FLOWBILL_NATIVE_GATHER_US); 1 ms of traffic at 100k
 * datagrams/s is about 250 KiB of socket buffer.
 */
const NATIVE_GATHER_US = gatherMicroseconds(process.env.FLOWBILL_NATIVE_GATHER_US);
/** A stop reads what is queued on the sockets for at most this long (senders may not stop). */
const NATIVE_STOP_DRAIN_MS = 200;

function gatherMicroseconds(text: string | undefined): number {
  if (text === undefined) return 1000;
  const us = Number(text);
  if (!Number.isInteger(us) || us < 0 || us > 100_000) throw new Error(`FLOWBILL_NATIVE_GATHER_US must be an integer from 0 to 100000, got "${text}"`);
  return us;
}

let native: NativeUdpSockets | null = null;
let nativeStopping = false;
/**
 * Per sender: its text when it is not allowed, '' when it is. IPv4 keyed by the address as
 * a number, IPv6 by its text. Bounded (spoofing). Routers send in bursts, so the last
 * sender's address and verdict are kept too: most datagrams need neither map nor string.
 */
const nativeSenders4 = new Map<number, string>();
const nativeSenders6 = new Map<string, string>();
const lastSender = new Uint8Array(16);
let lastFamily = 0;
let lastVerdict = '';

function ipv4Key(batch: Uint8Array, addressAt: number): number {
  return ((batch[addressAt] << 24) | (batch[addressAt + 1] << 16) | (batch[addressAt + 2] << 8) | batch[addressAt + 3]) >>> 0;
}

/** '' when the sender at `addressAt` may send, else its text (for the not-allowed list). */
function nativeSenderVerdict(batch: Uint8Array, addressAt: number, family: 4 | 6): string {
  if (family === lastFamily) {
    let same = true;
    for (let i = 0; i < 16; i++) {
      if (batch[addressAt + i] !== lastSender[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastVerdict;
  }
  let verdict = family === 4 ? nativeSenders4.get(ipv4Key(batch, addressAt)) : nativeSenders6.get(formatSenderAddress(6, batch, addressAt));
  if (verdict === undefined) {
    const text = formatSenderAddress(family, batch, addressAt);
    verdict = allowlist.allows(text) ? '' : text;
    if (family === 4) {
      if (nativeSenders4.size >= SENDER_CACHE_LIMIT) nativeSenders4.clear();
      nativeSenders4.set(ipv4Key(batch, addressAt), verdict);
    } else {
      if (nativeSenders6.size >= SENDER_CACHE_LIMIT) nativeSenders6.clear();
      nativeSenders6.set(text, verdict);
    }
  }
  lastSender.set(batch.subarray(addressAt, addressAt + 16));
  lastFamily = family;
  lastVerdict = verdict;
  return verdict;
}

/** Check and copy the records of one batch into the ring. */
function deliverBatch(batch: Uint8Array, used: number): void {
  for (let at = 0; at < used; ) {
    const length = batch[at] | (batch[at + 1] << 8) | (batch[at + 2] << 16) | (batch[at + 3] << 24);
    const family = batch[at + 6] as 4 | 6;
    counters[COUNTER_RECEIVED]++;
    counters[COUNTER_RECEIVED_BYTES] += length;
    const verdict = nativeSenderVerdict(batch, at + 8, family);
    // A refused write (ring full) is counted by the ring: the main thread reads it as a drop.
    if (verdict === '') ring.tryWriteRecord(batch, at);
    else notAllowed(verdict);
    at += RECORD_HEADER_BYTES + ((length + 7) & ~7);
  }
}

/** Receive for a slice of time, then let the event loop run, then again (until stop). */
function pumpNative(): void {
  const sockets = native;
  if (sockets === null || nativeStopping) return;
  const sliceEnd = Date.now() + NATIVE_SLICE_MS;
  do {
    const used = sockets.receive(NATIVE_POLL_MS, NATIVE_GATHER_US);
    if (used > 0) deliverBatch(sockets.batch, used);
  } while (Date.now() < sliceEnd);
  counters[COUNTER_TRUNCATED] = sockets.stats[0];
  counters[COUNTER_RECEIVE_ERRORS] = sockets.stats[1];
  setImmediate(pumpNative);
}

/** Stop: take what is already queued on the sockets, then close them. */
function closeNative(): void {
  const sockets = native;
  if (sockets === null) return;
  nativeStopping = true;
  native = null;
  const until = Date.now() + NATIVE_STOP_DRAIN_MS;
  for (let used = sockets.receive(0); used > 0; used = Date.now() < until ? sockets.receive(0) : 0) deliverBatch(sockets.batch, used);
  counters[COUNTER_TRUNCATED] = sockets.stats[0];
  counters[COUNTER_RECEIVE_ERRORS] = sockets.stats[1];
  sockets.close();
}

async function closeSockets(): Promise<void> {
  closeNative();
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

async function openSockets(): Promise<BoundSocket[]> {
  if (data.receiver === 'native') {
    native = NativeUdpSockets.open(data.listen, data.receiveBufferBytes);
    return native.bound;
  }
  const bound = [];
  for (const addr of data.listen) {
    const opened = await openUdpSocket(addr, data.receiveBufferBytes, onDatagram);
    sockets.push(opened.socket);
    bound.push(opened.bound);
  }
  return bound;
}

async function start(): Promise<void> {
  let bound: BoundSocket[];
  try {
    bound = await openSockets();
  } catch (e) {
    await closeSockets();
    const error = e as NodeJS.ErrnoException;
    post({ type: 'bind-failed', message: error.message, ...(error.code ? { code: error.code } : {}) });
    main.close();
    return;
  }
  sendersTimer = setInterval(() => {
    if (sendersChanged) postSenders();
  }, SENDERS_POST_MS);
  post({ type: 'bound', bound });
  if (native !== null) setImmediate(pumpNative);
}

async function stop(): Promise<void> {
  await closeSockets();
  clearInterval(sendersTimer);
  if (sendersChanged) postSenders();
  post({ type: 'stopped' });
  // Nothing is left to keep this thread alive: it exits.
  main.close();
}

main.on('message', (message: MainToWorker) => {
  if (message.type === 'stop') {
    void stop();
    return;
  }
  // A protocol error is a bug: fail loudly (the listener reports a failed receive thread).
  throw new Error(`receive thread: unknown message ${JSON.stringify(message)}`);
});

void start();
