/**
 * The collectors under test in the ingestion benchmark, each started fresh for every rate
 * step, and how each one's "accounted" count is read:
 *
 * - ours (`collector/src/service/collector-main.ts`, one process or several shards): records
 *   = the `flows` counters of the Redis accepted totals (readAcceptedTotals) after the
 *   process stopped (its stop pushes everything decoded): what the collector committed to
 *   Redis, acknowledged by the push script. Every benchmark record has exactly one
 *   subscriber end, so one record = one accepted flow; bytes are checked too.
 * - nfcapd (nfdump): flows and bytes of the measured exporter in the files it wrote
 *   (`nfdump -r FILE -s router/flows`), after SIGTERM (it closes its file on exit).
 * - nfacctd (pmacct): print plugin, aggregate peer_src_ip, CSV appended every second. pmacct
 *   counts packets and bytes, not records, so records = bytes accounted / bytes sent x
 *   records sent (messages are lost whole, so this is the record loss up to the size mix).
 *   Its core process hands records to the plugin in buffers that are only passed on when
 *   full, so after a step a flush burst from another exporter address (FLUSH_ADDRESS, not
 *   counted) pushes the last buffer through.
 * Only records from MEASURED_ADDRESS are counted, so a warm-up from another address can
 * run first (a JIT-compiled collector is measured warm, as it runs in production).
 * - node-netflowv9: its own listener, records counted in its callback
 *   (netflowv9-collector.ts).
 */
import dgram from 'node:dgram';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { createRedisClient, readAcceptedTotals, RedisKeys } from '@flowbill/collector/redis/index';
import { deleteKeysWithPrefix, freePort } from '@flowbill/shared/testing/redis';
import {
  type Child,
  onLines,
  onPath,
  processTreeCpuSeconds,
  REPO_ROOT,
  sleep,
  startChild,
  stopChild,
  tsxNodeArgs,
  udpSockets,
  waitForLine,
  waitForUdpPorts,
} from './processes.js';

/**
 * Source address of the measured senders; only its records are counted. The warm-up
 * sender uses WARMUP_ADDRESS and nfacctd's flush burst FLUSH_ADDRESS (all on loopback).
 */
export const MEASURED_ADDRESS = '127.0.0.1';
export const WARMUP_ADDRESS = '127.0.0.3';
export const FLUSH_ADDRESS = '127.0.0.2';

export interface Count {
  /** Records accounted; for nfacctd derived from bytes (see the file comment). */
  records: number;
  bytes: number;
  /** How `records` was obtained. */
  basis: 'records' | 'bytes';
}

export interface StepContext {
  /** Unique per step: names Redis prefixes, directories, collector ids. */
  readonly stepId: string;
  /** taskset CPU list for collectors measured "on one core" (null: no pinning). */
  readonly oneCoreCpus: string | null;
  readonly receiveBufferBytes: number;
  /** Scratch directory of this step (created). */
  readonly workDir: string;
  /** Bytes and records sent so far (nfacctd's records are derived from bytes). */
  readonly sent: () => { records: number; bytes: number };
  /** Run a short sender burst from `bind` (nfacctd's flush). */
  readonly burst: (port: number, bind: string, messages: number) => Promise<void>;
  readonly log: (message: string) => void;
}

export interface RunningCollector {
  /** One port per shard; exporters are split over them. */
  readonly ports: readonly number[];
  /** Root pids (descendants are included in CPU accounting). */
  readonly pids: readonly number[];
  /** Accounted so far, for the progress line (null: only known at the end). */
  live(): Promise<Count | null>;
  /** After the senders finished: wait until the collector has taken in what was queued. */
  settle(timeoutMs: number): Promise<void>;
  /** After the warm-up: wait until its traffic is out of the socket queues. */
  quiesce(timeoutMs: number): Promise<void>;
  /** Stop and return the final count. */
  stop(): Promise<Count>;
}

export interface CollectorSpec {
  readonly id: string;
  readonly label: string;
  readonly processes: number;
  /** Listening ports (shards); senders are spread over them. */
  readonly shards: number;
  /** "one": pinned to the one-core CPU set; "both": free to use every core. */
  readonly cores: 'one' | 'both';
  /** Why it cannot run here, or null. */
  unavailable(): string | null;
  start(ctx: StepContext): Promise<RunningCollector>;
}

/** A UDP port nothing is bound to right now. */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const socket = dgram.createSocket('udp4');
    const port = await new Promise<number>((resolve) => socket.bind(0, '127.0.0.1', () => resolve(socket.address().port)));
    await new Promise<void>((resolve) => socket.close(() => resolve()));
    // Keep clear of ports a previous step's collector may still release.
    if (!udpSockets().has(port)) return port;
  }
}

/** Poll until every port's receive queue is empty and `idle()` held for `quietMs`. */
async function waitQuiet(ports: readonly number[], timeoutMs: number, quietMs: number, idle: () => Promise<boolean> = async () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let quietSince = 0;
  while (Date.now() < deadline) {
    const sockets = udpSockets();
    const empty = ports.every((p) => (sockets.get(p)?.rxQueue ?? 0) === 0);
    const now = Date.now();
    if (empty && (await idle())) {
      if (quietSince === 0) quietSince = now;
      if (now - quietSince >= quietMs) return;
    } else quietSince = 0;
    await sleep(100);
  }
}

function stopped(child: Child): boolean {
  return child.proc.exitCode !== null || child.proc.signalCode !== null;
}

// ---------------------------------------------------------------------------------------
// ours

export interface OursEnvironment {
  readonly redisUrl: string;
  readonly databaseUrl: string;
  readonly pushIntervalMs: number;
  /** `node --cpu-prof` into this directory (one profile per collector process). */
  readonly profileDir?: string;
  /** Extra node flags for the collector processes (e.g. --max-semi-space-size=64). */
  readonly nodeFlags?: readonly string[];
}

export function oursSpec(env: OursEnvironment, options: { shards: number; cores: 'one' | 'both'; env?: Record<string, string> }): CollectorSpec {
  const { shards, cores } = options;
  return {
    id: shards === 1 ? (cores === 'one' ? 'ours' : 'ours-2core') : `ours-x${shards}`,
    label: shards === 1 ? 'flowbill collector' : `flowbill collector x${shards} (sharded by exporter)`,
    processes: shards,
    shards,
    cores,
    unavailable: () => null,
    async start(ctx) {
      const prefix = `flowbill-bench:${ctx.stepId}:`;
      const redis = createRedisClient(env.redisUrl, { enableOfflineQueue: true, maxRetriesPerRequest: 3 });
      const keys = new RedisKeys(prefix);
      const ports: number[] = [];
      const children: Child[] = [];
      try {
        for (let shard = 0; shard < shards; shard++) {
          const port = await freeUdpPort();
          const metricsPort = await freePort();
          ports.push(port);
          const nodeArgs = [...tsxNodeArgs(), ...(env.nodeFlags ?? [])];
          // One directory per process: node writes a profile per thread (the main one is the largest).
          if (env.profileDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.join(env.profileDir, `collector-${ctx.stepId}-${shard}`)}`);
          const child = startChild(`collector ${shard}`, process.execPath, [...nodeArgs, path.join(REPO_ROOT, 'collector/src/service/collector-main.ts')], {
            cwd: REPO_ROOT,
            cpus: cores === 'one' ? ctx.oneCoreCpus : null,
            env: {
              ...process.env,
              REDIS_URL: env.redisUrl,
              REDIS_PREFIX: prefix,
              DATABASE_URL: env.databaseUrl,
              COLLECTOR_ID: `bench-${shard}`,
              COLLECTOR_LISTEN: `127.0.0.1:${port}`,
              COLLECTOR_EXPORTERS: '127.0.0.0/8',
              COLLECTOR_RECEIVE_BUFFER_BYTES: String(ctx.receiveBufferBytes),
              COLLECTOR_PUSH_INTERVAL_MS: String(env.pushIntervalMs),
              COLLECTOR_METRICS_LISTEN: `127.0.0.1:${metricsPort}`,
              COLLECTOR_STATE_FILE: '',
              ...options.env,
            },
          });
          children.push(child);
        }
        await Promise.all(children.map((c) => waitForLine(c, 'stderr', /listening on udp/, 90_000)));
        await waitForUdpPorts(ports, 5_000);
      } catch (error) {
        await Promise.all(children.map((c) => stopChild(c, 'SIGKILL')));
        redis.disconnect();
        throw error;
      }
      // Only the measured exporters (the warm-up sender is another address).
      const accepted = async (): Promise<Count> => {
        const t = await readAcceptedTotals(redis, keys, (exporter) => exporter.startsWith(`${MEASURED_ADDRESS}:`));
        return { records: Number(t.flows), bytes: Number(t.bytes), basis: 'records' };
      };
      let last = -1;
      return {
        ports,
        pids: children.map((c) => c.pid),
        live: accepted,
        quiesce: (timeoutMs) => waitQuiet(ports, timeoutMs, Math.max(500, 2 * env.pushIntervalMs)),
        async settle(timeoutMs) {
          // Quiet = queues empty and the accepted totals unchanged over three push intervals.
          await waitQuiet(ports, timeoutMs, Math.max(600, 3 * env.pushIntervalMs), async () => {
            const now = (await accepted()).records;
            const same = now === last;
            last = now;
            return same;
          });
        },
        async stop() {
          const exits = await Promise.all(children.map((c) => stopChild(c, 'SIGTERM', 60_000)));
          exits.forEach((e, k) => {
            if (e.code !== 0) ctx.log(`collector ${k} exited with ${e.code ?? e.signal}: ${children[k].tail().slice(-500)}`);
          });
          try {
            return await accepted();
          } finally {
            await deleteKeysWithPrefix(redis, prefix).catch(() => 0);
            redis.disconnect();
          }
        },
      };
    },
  };
}

// ---------------------------------------------------------------------------------------
// nfcapd

/** Flows and bytes nfcapd stored for exporter `router` (IP) in `file`: `nfdump -s router/flows`. */
function nfdumpRouterStats(file: string, router: string): { flows: number; bytes: number } {
  const text = execFileSync('nfdump', ['-r', file, '-q', '-n', '0', '-s', 'router/flows', '-o', 'csv'], { encoding: 'utf8' });
  // csv: ts,te,td,pr,val,fl,flP,ipkt,ipktP,ibyt,ibytP,...
  for (const line of text.split('\n')) {
    const f = line.split(',');
    if (f[4] === router) return { flows: Number(f[5]), bytes: Number(f[9]) };
  }
  return { flows: 0, bytes: 0 };
}

export function nfcapdSpec(cores: 'one' | 'both'): CollectorSpec {
  return {
    id: cores === 'one' ? 'nfcapd' : 'nfcapd-2core',
    label: `nfcapd (nfdump ${nfdumpVersion()})`,
    processes: 1,
    shards: 1,
    cores,
    unavailable: () => (onPath('nfcapd') && onPath('nfdump') ? null : 'nfcapd/nfdump not installed (apt-get install nfdump)'),
    async start(ctx) {
      const port = await freeUdpPort();
      const dir = path.join(ctx.workDir, 'nfcapd');
      mkdirSync(dir, { recursive: true });
      // -t 3600: one file for the step (rotation is aligned to the clock; a step crossing a
      // boundary just makes two files, all of them are counted).
      const child = startChild('nfcapd', 'nfcapd', ['-p', String(port), '-b', '127.0.0.1', '-w', dir, '-B', String(ctx.receiveBufferBytes), '-t', '3600'], {
        cpus: cores === 'one' ? ctx.oneCoreCpus : null,
      });
      await waitForUdpPorts([port], 10_000, child);
      await sleep(200);
      return {
        ports: [port],
        pids: [child.pid],
        live: async () => null,
        quiesce: (timeoutMs) => waitQuiet([port], timeoutMs, 300),
        settle: (timeoutMs) => waitQuiet([port], timeoutMs, 500),
        async stop() {
          await stopChild(child, 'SIGTERM');
          let records = 0;
          let bytes = 0;
          for (const f of readdirSync(dir)) {
            if (!f.startsWith('nfcapd.')) continue;
            const s = nfdumpRouterStats(path.join(dir, f), MEASURED_ADDRESS);
            records += s.flows;
            bytes += s.bytes;
          }
          return { records, bytes, basis: 'records' };
        },
      };
    },
  };
}

let nfdumpVersionText: string | null = null;
function nfdumpVersion(): string {
  if (nfdumpVersionText === null) {
    try {
      nfdumpVersionText = /Version:\s*(\S+)/.exec(execFileSync('nfcapd', ['-V'], { encoding: 'utf8' }))?.[1] ?? '?';
    } catch {
      nfdumpVersionText = '?';
    }
  }
  return nfdumpVersionText;
}

// ---------------------------------------------------------------------------------------
// nfacctd

export function nfacctdSpec(cores: 'one' | 'both'): CollectorSpec {
  return {
    id: cores === 'one' ? 'nfacctd' : 'nfacctd-2core',
    label: 'nfacctd (pmacct, print plugin)',
    processes: 2,
    shards: 1,
    cores,
    unavailable: () => (onPath('nfacctd') || onPath('/usr/sbin/nfacctd') ? null : 'nfacctd not installed (apt-get install pmacct)'),
    async start(ctx) {
      const port = await freeUdpPort();
      const dir = path.join(ctx.workDir, 'nfacctd');
      mkdirSync(dir, { recursive: true });
      const out = path.join(dir, 'out.csv');
      const config = path.join(dir, 'nfacctd.conf');
      writeFileSync(
        config,
        [
          'daemonize: false',
          'nfacctd_ip: 127.0.0.1',
          `nfacctd_port: ${port}`,
          `nfacctd_pipe_size: ${ctx.receiveBufferBytes}`,
          'plugins: print[out]',
          'aggregate[out]: peer_src_ip',
          'print_output[out]: csv',
          `print_output_file[out]: ${out}`,
          'print_output_file_append[out]: true',
          'print_refresh_time[out]: 1',
          '',
        ].join('\n'),
      );
      const binary = onPath('nfacctd') ? 'nfacctd' : '/usr/sbin/nfacctd';
      const child = startChild('nfacctd', binary, ['-f', config], { cpus: cores === 'one' ? ctx.oneCoreCpus : null });
      await waitForUdpPorts([port], 10_000, child);
      await sleep(300);
      const read = (): Count => {
        let bytes = 0;
        try {
          for (const line of readFileSync(out, 'utf8').split('\n')) {
            const [peer, , b] = line.split(',');
            if (peer === MEASURED_ADDRESS) bytes += Number(b);
          }
        } catch {
          // no dump yet
        }
        const sent = ctx.sent();
        return { records: sent.bytes > 0 ? Math.round((bytes / sent.bytes) * sent.records) : 0, bytes, basis: 'bytes' };
      };
      return {
        ports: [port],
        pids: [child.pid],
        live: async () => read(),
        quiesce: (timeoutMs) => waitQuiet([port], timeoutMs, 300),
        async settle(timeoutMs) {
          await waitQuiet([port], timeoutMs, 300);
          // Push the core process's last buffer to the plugin with traffic from another exporter.
          await ctx.burst(port, FLUSH_ADDRESS, 4000);
          await waitQuiet([port], timeoutMs, 300);
          await sleep(2500); // two print refreshes
        },
        async stop() {
          const count = read();
          const pids = descendants(child.pid);
          await stopChild(child, 'SIGTERM', 3000);
          for (const pid of pids) {
            try {
              process.kill(pid, 'SIGKILL');
            } catch {
              // already gone
            }
          }
          return count;
        },
      };
    },
  };
}

/** Pids of the processes descending from `root` (not `root` itself). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  for (const pid of parents.keys()) {
    for (let p = parents.get(pid), depth = 0; p !== undefined && p > 1 && depth < 16; p = parents.get(p), depth++) {
      if (p === root) {
        out.push(pid);
        break;
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// node-netflowv9

export function netflowv9Spec(cores: 'one' | 'both'): CollectorSpec {
  return {
    id: cores === 'one' ? 'node-netflowv9' : 'node-netflowv9-2core',
    label: 'node-netflowv9 0.2.16 (its listener)',
    processes: 1,
    shards: 1,
    cores,
    unavailable: () => null,
    async start(ctx) {
      const port = await freeUdpPort();
      const child = startChild('node-netflowv9', process.execPath, [...tsxNodeArgs(), path.join(REPO_ROOT, 'bench/src/ingest/netflowv9-collector.ts'), '--port', String(port), '--receive-buffer', String(ctx.receiveBufferBytes), '--count-from', MEASURED_ADDRESS], {
        cwd: REPO_ROOT,
        cpus: cores === 'one' ? ctx.oneCoreCpus : null,
      });
      let latest: Count = { records: 0, bytes: 0, basis: 'records' };
      let ready = false;
      const stdoutEnded = new Promise<void>((resolve) => child.proc.stdout?.once('end', () => resolve()));
      const readyPromise = new Promise<void>((resolve, reject) => {
        onLines(child, (line) => {
          try {
            const m = JSON.parse(line) as { type: string; records: number; bytes: number };
            if (m.type === 'ready' && !ready) {
              ready = true;
              resolve();
            }
            if (m.type === 'count') latest = { records: m.records, bytes: m.bytes, basis: 'records' };
          } catch {
            // not ours
          }
        });
        void child.exited.then(() => reject(new Error(`node-netflowv9 collector exited: ${child.tail()}`)));
      });
      await Promise.race([readyPromise, sleep(60_000).then(() => Promise.reject(new Error('node-netflowv9 collector did not start')))]);
      await waitForUdpPorts([port], 5_000, child);
      let last = -1;
      return {
        ports: [port],
        pids: [child.pid],
        live: async () => latest,
        quiesce: (timeoutMs) => waitQuiet([port], timeoutMs, 300),
        async settle(timeoutMs) {
          await waitQuiet([port], timeoutMs, 2200, async () => {
            const same = latest.records === last;
            last = latest.records;
            return same;
          });
        },
        async stop() {
          if (!stopped(child)) await stopChild(child, 'SIGTERM');
          // The last count line is written on SIGTERM: read stdout to its end.
          await Promise.race([stdoutEnded, sleep(2000)]);
          return latest;
        },
      };
    },
  };
}

export { processTreeCpuSeconds };
