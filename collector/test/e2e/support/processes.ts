/**
 * The collector and flusher as real child processes: `node --import tsx <entry>`, with
 * their configuration in the environment, exactly as an operator runs them. One node
 * process per service (no tsx CLI wrapper in between), so SIGKILL hits the process that
 * holds the sockets and nothing is left running.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { withDeadline } from './wait.js';

export const REPOSITORY_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const COLLECTOR_ENTRY = fileURLToPath(new URL('../../../src/service/collector-main.ts', import.meta.url));
export const FLUSHER_ENTRY = fileURLToPath(new URL('../../../src/service/flusher-main.ts', import.meta.url));

/** tsx's ESM loader, as a file URL for `node --import`. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;

/** Children still running when the test process exits are killed, never leaked. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
});

const MAX_LOG_CHARS = 400_000;

export interface ServiceProcessOptions {
  /** For messages, e.g. "collector c1". */
  readonly name: string;
  readonly entry: string;
  readonly env: Readonly<Record<string, string>>;
  /** A line of output (stderr or stdout) that means "ready". */
  readonly ready: RegExp;
  /** How long start() waits for `ready` (default 30 s). */
  readonly startTimeoutMs?: number;
}

/** One service process; start() may be called again after it exited (a restart). */
export class ServiceProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  /** Number of times the process was started. */
  starts = 0;

  constructor(readonly options: ServiceProcessOptions) {}

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Everything the process (every run of it) wrote, stdout and stderr interleaved. */
  get log(): string {
    return this.output;
  }

  /** Spawn and wait for the ready line; fails with the output if it exits or times out first. */
  async start(): Promise<void> {
    if (this.child !== undefined) throw new Error(`${this.options.name} is already running`);
    this.starts++;
    const marker = `--- ${this.options.name} start #${this.starts} ---\n`;
    this.append(marker);
    const logFrom = this.output.length;
    const child = spawn(process.execPath, ['--import', TSX_LOADER, this.options.entry], {
      cwd: REPOSITORY_ROOT,
      env: this.options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    liveChildren.add(child);
    let resolveReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => (resolveReady = resolve));
    let pending = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      this.append(text);
      pending += text;
      if (this.options.ready.test(pending)) resolveReady();
      if (pending.length > 10_000) pending = pending.slice(-2_000);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    let exitInfo = '';
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `killed by ${signal}` : `exited with status ${code}`;
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('error', (error) => {
        exitInfo = `could not be spawned: ${error.message}`;
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const timeoutMs = this.options.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      ready.then(() => 'ready' as const),
      this.exited.then(() => 'exited' as const),
      new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs))),
    ]);
    clearTimeout(timer);
    if (outcome === 'ready') return;
    if (outcome === 'timeout') await this.kill9();
    const why = outcome === 'timeout' ? `did not print ${this.options.ready} within ${timeoutMs} ms` : exitInfo;
    throw new Error(`${this.options.name} ${why}; its output:\n${this.output.slice(logFrom).slice(-4_000)}`);
  }

  /** SIGKILL, as a crash would; resolves when the process is gone. */
  async kill9(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGKILL');
    await withDeadline(`${this.options.name} to exit after SIGKILL`, this.exited, 10_000);
  }

  /** SIGTERM (the service's graceful stop), SIGKILL after `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      await withDeadline(`${this.options.name} to exit after SIGTERM`, this.exited, graceMs + 10_000);
    } finally {
      clearTimeout(timer);
    }
  }

  private append(text: string): void {
    this.output += text;
    if (this.output.length > MAX_LOG_CHARS) this.output = this.output.slice(-MAX_LOG_CHARS / 2);
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A UDP port on 127.0.0.1 that was free a moment ago (COLLECTOR_LISTEN cannot say
 * "port 0"). Another process can take it before the collector binds; callers retry then.
 */
export function freeUdpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      const port = socket.address().port;
      socket.close(() => resolve(port));
    });
  });
}
