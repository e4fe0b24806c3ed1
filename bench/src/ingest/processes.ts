/**
 * Child processes for the ingestion benchmark: spawning (optionally pinned to CPUs with
 * taskset), waiting for a line, stopping by pid, and what Linux tells about them and
 * about UDP sockets (/proc/net/udp: receive queue and drops per port; /proc/PID/stat: CPU).
 */
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);

/** Repository root (bench/src/ingest -> ../../..). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** `node --import <tsx loader>` arguments to run a .ts file (works from vitest too). */
export function tsxNodeArgs(): string[] {
  return ['--import', pathToFileURL(require.resolve('tsx')).href];
}

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Resolves when the process has exited (with its code or signal). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Last lines of stderr (and stdout when not consumed), for error messages. */
  tail(): string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

/**
 * Start `command args`, pinned to `cpus` (taskset -c, e.g. "0" or "0,1") when given.
 * taskset execs the command, so the pid is the command's.
 */
export function startChild(name: string, command: string, args: readonly string[], options: SpawnOptions & { cpus?: string | null } = {}): Child {
  const { cpus, ...spawnOptions } = options;
  const [cmd, argv] = cpus ? ['taskset', ['-c', cpus, command, ...args]] : [command, [...args]];
  const proc = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], ...spawnOptions });
  live.add(proc);
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  // Always read both streams (a child blocks once a pipe nobody reads is full).
  proc.stderr?.on('data', keep);
  proc.stdout?.on('data', keep);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      live.delete(proc);
      resolve({ code, signal });
    });
    proc.once('error', (error) => {
      live.delete(proc);
      tail += `\n${error.message}`;
      resolve({ code: -1, signal: null });
    });
  });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${cmd}`);
  return { name, proc, pid: proc.pid, exited, tail: () => tail };
}

/** Wait for a line of `stream` matching `pattern`; rejects on exit or timeout. */
export function waitForLine(child: Child, stream: 'stdout' | 'stderr', pattern: RegExp, timeoutMs: number): Promise<string> {
  const source = child.proc[stream];
  if (!source) return Promise.reject(new Error(`${child.name}: no ${stream}`));
  return new Promise((resolve, reject) => {
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (pattern.test(line)) {
          cleanup();
          resolve(line);
          return;
        }
      }
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${child.name}: no line matching ${pattern} on ${stream} within ${timeoutMs} ms; last output:\n${child.tail()}`));
    }, timeoutMs);
    const onExit = () => {
      cleanup();
      reject(new Error(`${child.name} exited before printing ${pattern}; last output:\n${child.tail()}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      source.off('data', onData);
      child.proc.off('exit', onExit);
    };
    source.on('data', onData);
    child.proc.once('exit', onExit);
  });
}

/** Call `onLine` for every line of the child's stdout. */
export function onLines(child: Child, onLine: (line: string) => void): void {
  let buffer = '';
  child.proc.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      onLine(buffer.slice(0, nl));
      buffer = buffer.slice(nl + 1);
    }
  });
}

/** Signal the child (by its pid) and wait for it to exit; SIGKILL after `graceMs`. */
export async function stopChild(child: Child, signal: NodeJS.Signals = 'SIGTERM', graceMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return child.exited;
  child.proc.kill(signal);
  const timer = setTimeout(() => child.proc.kill('SIGKILL'), graceMs);
  try {
    return await child.exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface UdpSocketState {
  port: number;
  /** Bytes waiting in the receive queue. */
  rxQueue: number;
  /** Datagrams the kernel dropped because the receive buffer was full. */
  drops: number;
}

/** Bound IPv4 UDP sockets by local port, from /proc/net/udp (several sockets per port are summed). */
export function udpSockets(): Map<number, UdpSocketState> {
  const out = new Map<number, UdpSocketState>();
  let text = '';
  try {
    text = readFileSync('/proc/net/udp', 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 13) continue;
    const port = parseInt(f[1].split(':')[1], 16);
    const rxQueue = parseInt(f[4].split(':')[1], 16);
    const drops = Number(f[12]);
    const prev = out.get(port);
    out.set(port, { port, rxQueue: (prev?.rxQueue ?? 0) + rxQueue, drops: (prev?.drops ?? 0) + drops });
  }
  return out;
}

/** Wait until something listens on each UDP port (IPv4). */
export async function waitForUdpPorts(ports: readonly number[], timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const bound = udpSockets();
    if (ports.every((p) => bound.has(p))) return;
    if (child && (child.proc.exitCode !== null || child.proc.signalCode !== null)) throw new Error(`${child.name} exited during start-up:\n${child.tail()}`);
    if (Date.now() > deadline) throw new Error(`nothing listens on udp ${ports.join(', ')} after ${timeoutMs} ms${child ? `:\n${child.tail()}` : ''}`);
    await sleep(50);
  }
}

/** CPU seconds (user + system) of a process and all its descendants, from /proc. */
export function processTreeCpuSeconds(rootPids: readonly number[]): number {
  const ticks = 100; // USER_HZ on Linux
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // rest[0] = state (field 3); ppid = field 4; utime = 14; stime = 15.
      parents.set(Number(entry), Number(rest[1]));
      cpu.set(Number(entry), (Number(rest[11]) + Number(rest[12])) / ticks);
    } catch {
      // gone meanwhile
    }
  }
  const roots = new Set(rootPids);
  let total = 0;
  for (const [pid, seconds] of cpu) {
    for (let p: number | undefined = pid, depth = 0; p !== undefined && p > 1 && depth < 16; p = parents.get(p), depth++) {
      if (roots.has(p)) {
        total += seconds;
        break;
      }
    }
  }
  return total;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether a command is on PATH. */
export function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(path.join(dir, command)));
}
