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
 * Counts (datagrams and bytes received, not allowed) live in a SharedArrayBuffer the main
 * thread reads; ring-full drops are counted by the ring. The not-allowed senders (bounded)
 * are posted when they change. On {type:'stop'} it closes the sockets, posts 'stopped'
 * (everything received is in the ring by then) and exits.
 */
import type dgram from 'node:dgram';
import { parentPort, workerData } from 'node:worker_threads';
import { ExporterAllowlist } from '../exporter-allowlist.js';
import { MAX_TRACKED_SENDERS, openUdpSocket } from '../udp-listener.js';
import { senderAddressOf, type SenderAddress } from './address-text.js';
import { DatagramRing } from './datagram-ring.js';
import {
  COUNTER_NOT_ALLOWED,
  COUNTER_RECEIVED,
  COUNTER_RECEIVED_BYTES,
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

async function closeSockets(): Promise<void> {
  await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
}

async function start(): Promise<void> {
  const bound = [];
  try {
    for (const addr of data.listen) {
      const opened = await openUdpSocket(addr, data.receiveBufferBytes, onDatagram);
      sockets.push(opened.socket);
      bound.push(opened.bound);
    }
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
