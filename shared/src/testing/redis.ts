/**
 * Redis for tests and the local stack.
 *
 * - `withRedisPrefix` / `createRedisPrefix`: a random key prefix on the shared server
 *   (REDIS_URL, default 127.0.0.1:6379), with its keys deleted afterwards, so test runs
 *   and files sharing one server never see each other's keys.
 * - `startRedisServer`: a PRIVATE redis-server child process (free port, own data dir,
 *   AOF with fsync on every write) for tests that kill or restart Redis, which must never
 *   touch the shared server; also used by the local-stack script with a project-local dir.
 *
 * Redis is a required service of the test suite, so an unreachable server is a failure
 * whose message says how to start one, never a skip.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';

export const TEST_REDIS_URL_ENV = 'REDIS_URL';
export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';

/** The shared server tests use: REDIS_URL, or the local default. */
export function testRedisUrl(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[TEST_REDIS_URL_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_TEST_REDIS_URL;
}

export interface RedisPrefix {
  /** `flowbill-test:<random>:`, valid as REDIS_PREFIX. */
  readonly prefix: string;
  /** A client on the server the prefix lives on (closed by cleanup). */
  readonly redis: Redis;
  readonly url: string;
  /** Delete every key under the prefix and close the client. */
  cleanup(): Promise<void>;
}

/** A random prefix on `url` (default: the shared test server) and a client for it. */
export async function createRedisPrefix(options: { url?: string } = {}): Promise<RedisPrefix> {
  const url = options.url ?? testRedisUrl();
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw new Error(
      `Redis at ${url} is not reachable (${(error as Error).message}); start one (redis-server --port 6379 --save '' --appendonly no) or set ${TEST_REDIS_URL_ENV}`,
    );
  }
  const prefix = `flowbill-test:${randomBytes(6).toString('hex')}:`;
  let cleaned = false;
  return {
    prefix,
    redis,
    url,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      try {
        await deleteKeysWithPrefix(redis, prefix);
      } finally {
        redis.disconnect();
      }
    },
  };
}

/** Run `fn` with a fresh prefix and delete its keys afterwards, whatever `fn` did. */
export async function withRedisPrefix<T>(fn: (context: RedisPrefix) => Promise<T>, options: { url?: string } = {}): Promise<T> {
  const context = await createRedisPrefix(options);
  try {
    return await fn(context);
  } finally {
    await context.cleanup();
  }
}

/** SCAN + UNLINK every key starting with `prefix` (the prefix is matched literally). */
export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

export interface RedisServerOptions {
  /** Data directory (created if missing). Default: a new temp dir, removed by close(). */
  readonly dir?: string;
  /** Port on 127.0.0.1. Default: a free one picked now (kept across restart()). */
  readonly port?: number;
  /**
   * AOF with `appendfsync always` (default true): every acknowledged write is on disk
   * before the reply, so kill9() loses nothing acknowledged. false: nothing on disk.
   */
  readonly persistent?: boolean;
  /** redis-server binary (default: REDIS_SERVER_BIN or `redis-server` on PATH). */
  readonly binary?: string;
  /** How long start/restart wait for the server to answer PING (default 20 s). */
  readonly startTimeoutMs?: number;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  /** Whether the child process is running. */
  readonly running: boolean;
  /** Graceful SHUTDOWN (AOF flushed); waits for the process to exit. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would; waits for the process to exit. */
  kill9(): Promise<void>;
  /** Start again on the same port and dir (stops first if running); resolves when it answers PING. */
  restart(): Promise<void>;
  /** Stop and, if the harness created the data dir, remove it. */
  close(): Promise<void>;
}

/** Start a private redis-server; resolves once it answers PING (its AOF loaded). */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'flowbill-redis-'));
  mkdirSync(dir, { recursive: true });
  const port = options.port ?? (await freePort());
  const persistent = options.persistent ?? true;
  const binary = options.binary ?? process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const args = [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--dir', dir,
    '--save', '',
    '--appendonly', persistent ? 'yes' : 'no',
    '--appendfsync', 'always',
    '--daemonize', 'no',
    '--logfile', path.join(dir, 'redis.log'),
  ];

  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const launch = async () => {
    const proc = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child = proc;
    let stderr = '';
    proc.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const spawnError = new Promise<never>((_, reject) => proc.once('error', (error) => reject(new Error(`cannot run ${binary}: ${error.message}`))));
    exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    liveChildren.add(proc);
    proc.once('exit', () => {
      liveChildren.delete(proc);
      if (child === proc) child = null;
    });
    const earlyExit = exited.then(() => {
      throw new Error(`redis-server on port ${port} exited during start-up: ${stderr.trim() || `see ${path.join(dir, 'redis.log')}`}`);
    });
    await Promise.race([waitForPong(port, startTimeoutMs), spawnError, earlyExit]);
  };

  const stopWith = async (signal: 'SIGTERM' | 'SIGKILL') => {
    const proc = child;
    if (proc === null) return;
    // SIGTERM makes redis-server shut down cleanly (flushing the AOF).
    proc.kill(signal);
    await exited;
  };

  await launch();
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    get running() {
      return child !== null;
    },
    stop: () => stopWith('SIGTERM'),
    kill9: () => stopWith('SIGKILL'),
    async restart() {
      await stopWith('SIGTERM');
      await launch();
    },
    async close() {
      await stopWith('SIGTERM');
      if (ownDir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Children still running when the test process exits are killed, never leaked. */
const liveChildren = new Set<ChildProcess>();
process.once('exit', () => {
  for (const proc of liveChildren) proc.kill('SIGKILL');
});

/** A TCP port that was free a moment ago (bind to 0, read it, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Poll with a raw PING until the server answers +PONG (not -LOADING while the AOF loads). */
async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    last = await pingOnce(port);
    if (last.startsWith('+PONG')) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms (last: ${last.trim()})`);
}

function pingOnce(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let answer = '';
    const done = (value: string) => {
      socket.destroy();
      resolve(value);
    };
    socket.setTimeout(1000, () => done('timeout'));
    socket.once('error', (error) => done(error.message));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString();
      if (answer.includes('\r\n')) done(answer);
    });
  });
}
