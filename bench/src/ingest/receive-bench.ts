/**
 * Bare receive benchmark: UdpListener (sockets read on the main thread) against
 * ThreadedUdpListener (a receive thread and a shared ring, collector/src/service/receiver/)
 * while the main thread stalls, as it does in the collector (major GCs, hand-overs of
 * aggregates, building Redis pushes). Why: the ingestion benchmark lost datagrams to such
 * stalls with the CPU not saturated (bench/RESULTS.md, "Ingestion").
 *
 *   npx tsx bench/src/ingest/receive-bench.ts [--rate 40000] [--seconds 10] [--pause-ms 150]
 *       [--pause-every-ms 1000] [--pause wait|busy|alloc] [--listeners main,threaded,native] [--runs 3]
 *       [--ring-bytes 67108864] [--poll-ms 1] [--receive-buffer 33554432] [--receiver-cpus 0] [--sender-cpus 1] [--no-pin]
 *
 * Per run and listener: a fresh receiver process (this file, `--role receiver`) listens on
 * 127.0.0.1 and only counts what it is handed (datagrams, bytes); a sender process
 * (sender.ts: NetFlow v9 messages of 1,549 bytes, paced every 1 ms) sends `--rate`
 * datagrams/s for `--seconds`. From the sender's start the receiver's main thread pauses
 * `--pause-ms` every `--pause-every-ms`: `wait` blocks it without using CPU (Atomics.wait;
 * the default, so the CPU figures are the receiving alone), `busy` spins (a stall that also
 * takes a core), `alloc` allocates and keeps small objects (the heap grows, V8 collects,
 * major GCs included: the stall of a big hand-over or Redis push). When the sender is done, the receiver waits until nothing new
 * arrived for 1 s, then reports. Lost = datagrams sent (data + templates) - received;
 * kernel drops (/proc/net/udp, the socket's drops) and ring drops say where. CPU: the
 * receiver process's user+system time (process.cpuUsage(), every thread) from the start of
 * sending to the report, per million datagrams received; "main" is the main thread's share
 * (/proc/self/task/PID/stat), the rest is the receive thread, V8's helpers and libuv.
 *
 * CPUs: the receiver (all its threads) is pinned to `--receiver-cpus` and the sender to
 * `--sender-cpus` (taskset), so both listeners get the same single core; `--no-pin` pins
 * nothing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ExporterAllowlist } from '@flowbill/collector/service/exporter-allowlist';
import { ThreadedUdpListener } from '@flowbill/collector/service/receiver/threaded-udp-listener';
import { UdpListener } from '@flowbill/collector/service/udp-listener';
import { onLines, REPO_ROOT, startChild, stopChild, tsxNodeArgs, udpSockets, waitForLine } from './processes.js';
import type { SenderReport } from './sender.js';

const THIS_FILE = fileURLToPath(import.meta.url);
const SENDER_SCRIPT = path.join(REPO_ROOT, 'bench/src/ingest/sender.ts');

/** main: UdpListener; threaded: ThreadedUdpListener with node:dgram; native: with the native batched receiver. */
type ListenerKind = 'main' | 'threaded' | 'native';

interface ReceiverResult {
  type: 'result';
  listener: ListenerKind;
  received: number;
  bytes: number;
  ringDrops: number;
  kernelDrops: number;
  cpuSeconds: number;
  /** Of which system (kernel) time. */
  systemCpuSeconds: number;
  mainThreadCpuSeconds: number;
  pauses: number;
  /** Sum of the pauses actually taken (ms). */
  pausedMs: number;
  seconds: number;
}

const { values } = parseArgs({
  options: {
    role: { type: 'string', default: 'bench' },
    listener: { type: 'string', default: 'threaded' },
    listeners: { type: 'string', default: 'main,threaded,native' },
    rate: { type: 'string', default: '40000' },
    seconds: { type: 'string', default: '10' },
    'pause-ms': { type: 'string', default: '150' },
    'pause-every-ms': { type: 'string', default: '1000' },
    pause: { type: 'string', default: 'wait' },
    runs: { type: 'string', default: '3' },
    'ring-bytes': { type: 'string', default: String(64 * 1024 * 1024) },
    'poll-ms': { type: 'string', default: '1' },
    'receive-buffer': { type: 'string', default: String(32 * 1024 * 1024) },
    'receiver-cpus': { type: 'string', default: '0' },
    'sender-cpus': { type: 'string', default: '1' },
    'no-pin': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

const num = (name: keyof typeof values): number => {
  const n = Number(values[name]);
  if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number`);
  return n;
};

/** utime + stime of one thread of this process, in seconds (clock ticks of 10 ms). */
function threadCpuSeconds(tid: number): number {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / 100;
  } catch {
    return NaN;
  }
}

function cpuSeconds(): { total: number; system: number } {
  const u = process.cpuUsage();
  return { total: (u.user + u.system) / 1e6, system: u.system / 1e6 };
}

async function receiver(): Promise<void> {
  const kind = values.listener as ListenerKind;
  if (kind !== 'main' && kind !== 'threaded' && kind !== 'native') throw new Error('--listener main|threaded|native');
  const pauseMs = num('pause-ms');
  const everyMs = num('pause-every-ms');
  const pauseKind = String(values.pause);
  if (!['wait', 'busy', 'alloc'].includes(pauseKind)) throw new Error('--pause wait|busy|alloc');
  let received = 0;
  let bytes = 0;
  const onMessage = (msg: Uint8Array) => {
    received++;
    bytes += msg.length;
  };
  const common = { listen: [{ host: '127.0.0.1', port: 0 }], receiveBufferBytes: num('receive-buffer'), allowlist: new ExporterAllowlist(['127.0.0.1/32']) };
  const listener =
    kind === 'main'
      ? new UdpListener({ ...common, onMessage })
      : new ThreadedUdpListener({
          ...common,
          ringBytes: num('ring-bytes'),
          receiver: kind === 'native' ? 'native' : 'node',
          pollMs: num('poll-ms'),
          onMessage,
          onError: (e) => {
            console.error(`receiver: ${e.message}`);
            process.exit(1);
          },
        });
  const [bound] = await listener.start();
  const out = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  out({ type: 'ready', port: bound.port, receiveBufferBytes: bound.receiveBufferBytes });

  const lines: string[] = [];
  let wake: () => void = () => undefined;
  process.stdin.setEncoding('utf8');
  let pending = '';
  process.stdin.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      lines.push(pending.slice(0, nl).trim());
      pending = pending.slice(nl + 1);
      wake();
    }
  });
  const command = async (name: string) => {
    while (!lines.includes(name)) await new Promise<void>((r) => (wake = r));
  };

  await command('go');
  const cpu0 = cpuSeconds();
  const main0 = threadCpuSeconds(process.pid);
  const t0 = performance.now();
  const blocker = new Int32Array(new SharedArrayBuffer(4));
  let pauses = 0;
  let pausedMs = 0;
  let kept: object[] = [];
  const pauseTimer = setInterval(() => {
    const started = performance.now();
    if (pauseKind === 'busy') while (performance.now() - started < pauseMs);
    else if (pauseKind === 'alloc') {
      // Allocate and keep small objects for the whole pause (a hand-over, a Redis push being
      // built): the heap grows, and V8's collections, major ones included, run meanwhile.
      kept = [];
      while (performance.now() - started < pauseMs) for (let k = 0; k < 1000; k++) kept.push({ k, s: `entry ${k}`, a: [k, k + 1] });
    } else Atomics.wait(blocker, 0, 0, pauseMs);
    pausedMs += performance.now() - started;
    pauses++;
  }, everyMs);

  await command('end');
  // Settle: until nothing new arrived for 1 s.
  for (let last = -1; last !== received; ) {
    last = received;
    await new Promise((r) => setTimeout(r, 1000));
  }
  clearInterval(pauseTimer);
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = cpuSeconds();
  const mainCpu = threadCpuSeconds(process.pid) - main0;
  const kernelDrops = udpSockets().get(bound.port)?.drops ?? 0;
  const ringDrops = listener instanceof ThreadedUdpListener ? listener.ringDrops : 0;
  await listener.stop();
  const result: ReceiverResult = {
    type: 'result',
    listener: kind,
    received,
    bytes,
    ringDrops,
    kernelDrops,
    cpuSeconds: cpu1.total - cpu0.total,
    systemCpuSeconds: cpu1.system - cpu0.system,
    mainThreadCpuSeconds: mainCpu,
    pauses,
    pausedMs,
    seconds,
  };
  out(result);
  process.exit(0);
}

interface RunResult extends ReceiverResult {
  run: number;
  sent: number;
  lost: number;
  senderLateTicks: number;
}

async function runOne(kind: ListenerKind, run: number, pin: { receiver: string | null; sender: string | null }): Promise<RunResult> {
  const passThrough = ['rate', 'seconds', 'pause-ms', 'pause-every-ms', 'pause', 'ring-bytes', 'poll-ms', 'receive-buffer'] as const;
  const args = [...tsxNodeArgs(), THIS_FILE, '--role', 'receiver', '--listener', kind, ...passThrough.flatMap((k) => [`--${k}`, String(values[k])])];
  const recv = startChild(`receiver ${kind}`, process.execPath, args, { cwd: REPO_ROOT, cpus: pin.receiver });
  try {
    const ready = JSON.parse(await waitForLine(recv, 'stdout', /"type":"ready"/, 60_000)) as { port: number };
    const sender = startChild('sender', process.execPath, [...tsxNodeArgs(), SENDER_SCRIPT, '--port', String(ready.port), '--rate', String(values.rate), '--seconds', String(values.seconds), '--wait-go'], {
      cwd: REPO_ROOT,
      cpus: pin.sender,
    });
    await waitForLine(sender, 'stdout', /"type":"ready"/, 60_000);
    let done: SenderReport | null = null;
    const finished = new Promise<void>((resolve) =>
      onLines(sender, (line) => {
        if (line.includes('"type":"done"')) {
          done = JSON.parse(line) as SenderReport;
          resolve();
        }
      }),
    );
    const result = waitForLine(recv, 'stdout', /"type":"result"/, Number(values.seconds) * 1000 + 120_000);
    recv.proc.stdin!.write('go\n');
    sender.proc.stdin!.write('go\n');
    await finished;
    await stopChild(sender);
    recv.proc.stdin!.write('end\n');
    const r = JSON.parse(await result) as ReceiverResult;
    const report = done as unknown as SenderReport;
    const sent = report.messages + report.templates;
    return { ...r, run, sent, lost: sent - r.received, senderLateTicks: report.lateTicks };
  } finally {
    await stopChild(recv, 'SIGKILL');
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function bench(): Promise<void> {
  if (values.help) {
    console.log(readFileSync(THIS_FILE, 'utf8').split('*/')[0]);
    return;
  }
  const kinds = String(values.listeners).split(',') as ListenerKind[];
  const runs = num('runs');
  const pin = values['no-pin'] ? { receiver: null, sender: null } : { receiver: String(values['receiver-cpus']), sender: String(values['sender-cpus']) };
  console.error(
    `receive-bench: ${values.rate} datagrams/s x ${values.seconds} s, pauses of ${values['pause-ms']} ms (${values.pause}) every ${values['pause-every-ms']} ms; ring ${values['ring-bytes']} B; receiver cpus ${pin.receiver ?? 'any'}, sender cpus ${pin.sender ?? 'any'}`,
  );
  const results: RunResult[] = [];
  for (let run = 1; run <= runs; run++) {
    // Interleaved, so load from other jobs falls on both alike.
    for (const kind of kinds) {
      const r = await runOne(kind, run, pin);
      results.push(r);
      console.error(
        `  run ${run} ${kind.padEnd(8)} sent ${r.sent} received ${r.received} lost ${r.lost} (kernel ${r.kernelDrops}, ring ${r.ringDrops}); CPU ${r.cpuSeconds.toFixed(2)} s (system ${r.systemCpuSeconds.toFixed(2)} s, main thread ${r.mainThreadCpuSeconds.toFixed(2)} s); ${r.pauses} pauses, ${Math.round(r.pausedMs)} ms; sender late ticks ${r.senderLateTicks}`,
      );
    }
  }
  console.log('\n| listener | runs | sent (median) | lost (median) | loss % (median) | lost per run | kernel drops | ring drops | CPU-s per 1M datagrams (median) | of which main thread |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const kind of kinds) {
    const rs = results.filter((r) => r.listener === kind);
    const per1M = rs.map((r) => (r.cpuSeconds / r.received) * 1e6);
    const main1M = rs.map((r) => (r.mainThreadCpuSeconds / r.received) * 1e6);
    console.log(
      `| ${kind === 'main' ? 'UdpListener' : kind === 'threaded' ? 'ThreadedUdpListener (node:dgram)' : 'ThreadedUdpListener (native)'} | ${rs.length} | ${median(rs.map((r) => r.sent))} | ${median(rs.map((r) => r.lost))} | ${median(rs.map((r) => (100 * r.lost) / r.sent)).toFixed(2)}% | ${rs.map((r) => r.lost).join(', ')} | ${rs.map((r) => r.kernelDrops).join(', ')} | ${rs.map((r) => r.ringDrops).join(', ')} | ${median(per1M).toFixed(2)} | ${median(main1M).toFixed(2)} |`,
    );
  }
}

(values.role === 'receiver' ? receiver() : bench()).catch((e) => {
  console.error(`receive-bench: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
