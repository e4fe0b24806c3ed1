/**
 * One exporter of the ingestion benchmark, run as a child process by ingest-bench.ts
 * (several with `--senders N`), or by hand:
 *
 *   npx tsx bench/src/ingest/sender.ts --port 2055 --rate 20000 --seconds 10 [--source-id 1]
 *
 * Replays pre-built NetFlow v9 messages of 25 records (traffic.ts) from one UDP socket (so
 * one source address:port, one source id: one exporter to every collector) at `--rate`
 * messages/s for `--seconds`. Pacing: every `--burst-ms` (1 ms) it sends the messages due
 * by then (rate x elapsed - sent), so the rate is exact over any second and the bursts are
 * what a router's export timer produces. The template goes first and again every
 * `--template-ms`; header sequence numbers count every export packet (templates included),
 * as RFC 3954 says; unixSecs is the wall clock at send time.
 *
 * Protocol with the parent (JSON lines on stdout): {"type":"ready"} once the messages are
 * built; the parent writes "go\n" on stdin (without `--wait-go` it starts at once); then
 * {"type":"progress",...} every 200 ms and {"type":"done",...} at the end. Counts are of
 * datagrams handed to the kernel (send errors are counted apart and not included).
 */
import dgram from 'node:dgram';
import { parseArgs } from 'node:util';
import { buildTraffic, RECORDS_PER_MESSAGE, V9_SEQUENCE_OFFSET, V9_UNIX_SECS_OFFSET } from './traffic.js';

export interface SenderReport {
  type: 'progress' | 'done';
  /** Data messages sent (templates not included). */
  messages: number;
  records: number;
  bytes: number;
  packets: number;
  templates: number;
  sendErrors: number;
  /** Seconds since the first send. */
  seconds: number;
  /** Ticks where more than 50 ms of messages were due at once (the sender could not keep up). */
  lateTicks: number;
  maxBurst: number;
}

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    bind: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string' },
    rate: { type: 'string', default: '10000' },
    seconds: { type: 'string', default: '10' },
    'source-id': { type: 'string', default: '1' },
    seed: { type: 'string', default: '1' },
    subscribers: { type: 'string', default: '10000' },
    'pool-size': { type: 'string', default: '1024' },
    'template-ms': { type: 'string', default: '1000' },
    'burst-ms': { type: 'string', default: '1' },
    'send-buffer': { type: 'string', default: String(4 * 1024 * 1024) },
    'wait-go': { type: 'boolean', default: false },
  },
});

const port = Number(values.port);
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const sourceId = Number(values['source-id']);
if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error('--port is required (1-65535)');
if (!(rate > 0) || !(seconds > 0)) throw new Error('--rate and --seconds must be positive');
const templateMs = Number(values['template-ms']);
const burstMs = Number(values['burst-ms']);

const traffic = buildTraffic({ messages: Number(values['pool-size']), subscribers: Number(values.subscribers), seed: Number(values.seed) * 7919 + sourceId, sourceId });
const pool = traffic.messages;

const socket = dgram.createSocket('udp4');
let sendErrors = 0;
socket.on('error', () => {
  sendErrors++;
});

function emit(report: SenderReport): void {
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

async function main(): Promise<void> {
  await new Promise<void>((resolve) => socket.bind(0, values.bind, resolve));
  try {
    socket.setSendBufferSize(Number(values['send-buffer']));
  } catch {
    // keep the default
  }
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, values.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  process.stdout.write(`${JSON.stringify({ type: 'ready', sourcePort: socket.address().port })}\n`);
  if (values['wait-go']) await waitForGo();
  run();
}

function waitForGo(): Promise<void> {
  return new Promise((resolve) => {
    let text = '';
    process.stdin.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      if (text.includes('go')) {
        process.stdin.pause();
        resolve();
      }
    });
  });
}

function run(): void {
  let sequence = 0;
  let sent = 0;
  let bytes = 0;
  let packets = 0;
  let templates = 0;
  let lateTicks = 0;
  let maxBurst = 0;
  let next = 0;
  const started = performance.now();
  const durationMs = seconds * 1000;
  const total = Math.round(rate * seconds);
  let nextTemplate = 0;
  let nextReport = 200;
  const lateLimit = Math.max(1, Math.ceil((rate * 50) / 1000));

  const report = (type: 'progress' | 'done', elapsedMs: number) =>
    emit({ type, messages: sent, records: sent * RECORDS_PER_MESSAGE, bytes, packets, templates, sendErrors, seconds: elapsedMs / 1000, lateTicks, maxBurst });

  const sendTemplate = (unixSecs: number) => {
    const t = traffic.template;
    t.writeUInt32BE(unixSecs, V9_UNIX_SECS_OFFSET);
    t.writeUInt32BE(sequence++ >>> 0, V9_SEQUENCE_OFFSET);
    socket.send(t);
    templates++;
  };

  const tick = () => {
    const elapsed = performance.now() - started;
    const unixSecs = Math.floor(Date.now() / 1000);
    if (elapsed >= nextTemplate) {
      sendTemplate(unixSecs);
      nextTemplate += templateMs;
    }
    const due = Math.min(total, Math.floor((rate * Math.min(elapsed, durationMs)) / 1000)) - sent;
    if (due > lateLimit) lateTicks++;
    if (due > maxBurst) maxBurst = due;
    for (let k = 0; k < due; k++) {
      const msg = pool[next];
      msg.writeUInt32BE(unixSecs, V9_UNIX_SECS_OFFSET);
      msg.writeUInt32BE(sequence++ >>> 0, V9_SEQUENCE_OFFSET);
      socket.send(msg);
      bytes += traffic.bytesPerMessage[next];
      packets += traffic.packetsPerMessage[next];
      sent++;
      next = next + 1 === pool.length ? 0 : next + 1;
    }
    if (elapsed >= nextReport) {
      report('progress', elapsed);
      nextReport += 200;
    }
    if (sent >= total || elapsed >= durationMs + 1000) {
      report('done', performance.now() - started);
      // Let the last datagrams leave before closing (they were handed to the kernel already).
      setTimeout(() => socket.close(() => process.exit(0)), 50);
      return;
    }
    setTimeout(tick, burstMs);
  };
  tick();
}

main().catch((e) => {
  process.stderr.write(`sender: ${(e as Error).message}\n`);
  process.exit(1);
});
