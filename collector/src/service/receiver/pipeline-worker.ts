/**
 * The pipeline thread: ThreadedUdpListener's worker in "flows" mode (the collector's
 * default). Three threads then share the work of one collector process:
 *
 *   receive thread (receiver-worker.ts, started from here by an inner ThreadedUdpListener):
 *     sockets -> allowlist -> datagram ring; does nothing else, so it is always quick to
 *     read the sockets (a pause of the thread that reads them longer than the kernel's
 *     buffer lasts, 4 MiB = ~75 ms at 40k datagrams/s, loses datagrams);
 *   this thread: datagram ring -> decode -> attribute (receive-pipeline.ts) -> chunk ring;
 *   the main thread: chunk ring -> aggregation -> Redis (collector-service.ts).
 *
 * Why: one thread decoding, attributing, aggregating and talking to Redis was the limit of
 * a collector process (bench/RESULTS.md, "Ingestion"); decoding and attribution in the
 * receive thread itself made that thread slow to read the sockets (kernel drops), hence a
 * thread of its own between two rings.
 *
 * It speaks the receive thread's protocol to the main thread (protocol.ts): 'bound',
 * 'bind-failed', 'senders', 'stopped', plus 'pipeline' snapshots and 'log' lines; the
 * receive thread's counts are copied into the shared counters every COPY_MS and at stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ExporterAllowlist } from '../exporter-allowlist.js';
import { DatagramRing } from './datagram-ring.js';
import {
  COUNTER_DATAGRAM_RING_DROPS,
  COUNTER_DECODED,
  COUNTER_DECODED_BYTES,
  COUNTER_NOT_ALLOWED,
  COUNTER_RECEIVE_ERRORS,
  COUNTER_RECEIVED,
  COUNTER_TRUNCATED,
  type MainToWorker,
  PIPELINE_SNAPSHOT_MS,
  type ReceiverWorkerData,
  type WorkerToMain,
} from './protocol.js';
import { ReceivePipeline } from './receive-pipeline.js';
import { ThreadedUdpListener } from './threaded-udp-listener.js';

if (parentPort === null) throw new Error('pipeline-worker.ts runs as a worker thread started by ThreadedUdpListener');
const main = parentPort;
const data = workerData as ReceiverWorkerData;
if (data.pipeline === undefined) throw new Error('pipeline-worker.ts needs workerData.pipeline');
const counters = new Float64Array(data.counters);
const COPY_MS = 100;

function post(message: WorkerToMain): void {
  main.postMessage(message);
}

const pipeline = new ReceivePipeline(data.pipeline, new DatagramRing(data.ring), (message) => post({ type: 'log', message }));
const receiver = new ThreadedUdpListener({
  listen: data.listen,
  receiveBufferBytes: data.receiveBufferBytes,
  receiver: data.receiver,
  allowlist: new ExporterAllowlist(data.exporters),
  ringBytes: data.datagramRingBytes ?? data.ring.byteLength,
  onMessage: (message, address, port, receivedAt) => {
    counters[COUNTER_DECODED]++;
    counters[COUNTER_DECODED_BYTES] += message.length;
    pipeline.onDatagram(message, address, port, receivedAt);
  },
  // No onError: a failed receive thread is thrown here, which fails this thread, which the
  // main thread's listener reports (the collector exits for its supervisor to restart it).
});

let sendersPosted = '';
function copyCounts(): void {
  const ring = receiver.ringStats();
  if (ring !== null) {
    counters[COUNTER_RECEIVED] = ring.received;
    counters[COUNTER_DATAGRAM_RING_DROPS] = ring.drops;
    counters[COUNTER_TRUNCATED] = ring.truncated;
    counters[COUNTER_RECEIVE_ERRORS] = ring.receiveErrors;
  }
  counters[COUNTER_NOT_ALLOWED] = receiver.stats.notAllowed;
  const senders = [...receiver.stats.notAllowedSenders];
  const text = JSON.stringify(senders);
  if (text !== sendersPosted) {
    sendersPosted = text;
    post({ type: 'senders', senders });
  }
}

let timers: NodeJS.Timeout[] = [];

async function start(): Promise<void> {
  let bound;
  try {
    bound = await receiver.start();
  } catch (e) {
    const error = e as NodeJS.ErrnoException;
    post({ type: 'bind-failed', message: error.message, ...(error.code ? { code: error.code } : {}) });
    main.close();
    return;
  }
  pipeline.start();
  timers = [setInterval(copyCounts, COPY_MS), setInterval(() => post({ type: 'pipeline', snapshot: pipeline.snapshot() }), PIPELINE_SNAPSHOT_MS)];
  post({ type: 'bound', bound });
}

async function stop(): Promise<void> {
  // The inner listener closes the sockets and delivers everything received before resolving.
  await receiver.stop();
  for (const t of timers) clearInterval(t);
  pipeline.stop();
  copyCounts();
  post({ type: 'pipeline', snapshot: pipeline.snapshot() });
  post({ type: 'stopped' });
  main.close();
}

main.on('message', (message: MainToWorker) => {
  if (message.type === 'stop') {
    void stop();
    return;
  }
  if (message.type === 'index') {
    pipeline.replaceIndex(message.generation, message.tables);
    return;
  }
  throw new Error(`pipeline thread: unknown message ${JSON.stringify(message)}`);
});

void start();
