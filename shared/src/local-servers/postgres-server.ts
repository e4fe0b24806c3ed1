/**
 * Runs a private PostgreSQL server as a child process on its own data directory and port:
 * README command 1 starts one on `.data/postgres`, and fault tests can kill it.
 *
 * PostgreSQL refuses to run as root, so when we are root the data directory is given to
 * the `postgres` system user (created by Debian's package) and the server is spawned with
 * that user's uid/gid.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

export interface PostgresServerOptions {
  /** Persistent data directory (created and initialised if missing). Default: a temp dir deleted on stop(). */
  readonly dataDir?: string;
  readonly port: number;
  readonly startTimeoutMs?: number;
}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly adminUrl: string;
  readonly port: number;
  readonly dataDir: string;
  urlFor(database: string): string;
  isRunning(): boolean;
  stop(): Promise<void>;
  kill9(): Promise<void>;
  restart(): Promise<void>;
}

/** Directory of the newest installed PostgreSQL server binaries (Debian layout). */
export function findPostgresBinDir(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? join(root, versions[0], 'bin') : null;
}

const isRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

function postgresIds(): { uid: number; gid: number } {
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

/** spawn() options that run the child as the postgres user when we are root. */
function asPostgres(): { uid?: number; gid?: number } {
  return isRoot() ? postgresIds() : {};
}

function waitForPort(port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolvePromise, reject) => {
    const attempt = () => {
      if (child.exitCode !== null) {
        reject(new Error(`postgres exited with code ${child.exitCode} during start-up`));
        return;
      }
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        // Accepting TCP is not yet accepting queries; pg_isready answers that.
        resolvePromise();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`postgres did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export async function startPostgresServer(options: PostgresServerOptions): Promise<PostgresServer> {
  const bin = findPostgresBinDir();
  if (bin === null) throw new Error('PostgreSQL server binaries not found under /usr/lib/postgresql; install them: apt-get install postgresql');
  const temporary = options.dataDir === undefined;
  const dataDir = resolve(options.dataDir ?? mkdtempSync(join(tmpdir(), 'flowbill-pg-')));
  const socketDir = join(dataDir, 'socket');
  const pgdata = join(dataDir, 'pgdata');
  mkdirSync(dataDir, { recursive: true });
  if (isRoot()) {
    const { uid, gid } = postgresIds();
    // The postgres user must be able to reach the directory through every parent.
    for (let d = dirname(dataDir); d !== dirname(d); d = dirname(d)) {
      const mode = statSync(d).mode;
      if ((mode & 0o001) === 0) throw new Error(`${d} is not traversable by the postgres user; choose a data directory elsewhere`);
    }
    chownSync(dataDir, uid, gid);
  }
  if (!existsSync(join(pgdata, 'PG_VERSION'))) {
    execFileSync(join(bin, 'initdb'), ['-D', pgdata, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      cwd: dataDir,
      ...asPostgres(),
    });
  }
  mkdirSync(socketDir, { recursive: true });
  if (isRoot()) {
    const { uid, gid } = postgresIds();
    chownSync(socketDir, uid, gid);
  }

  let child: ChildProcess | null = null;
  const start = async () => {
    const args = ['-D', pgdata, '-p', String(options.port), '-k', socketDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'logging_collector=off'];
    const c = spawn(join(bin, 'postgres'), args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: dataDir, ...asPostgres() });
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    child = c;
    try {
      await waitForPort(options.port, options.startTimeoutMs ?? 30000, c);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${stderr}`);
    }
  };
  const waitExit = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
  const signal = async (sig: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    // postgres' fast shutdown is SIGINT: it rolls back open transactions and checkpoints.
    c.kill(sig);
    await waitExit(c);
    child = null;
  };
  await start();

  const adminUrl = `postgres://postgres@127.0.0.1:${options.port}/postgres`;
  return {
    adminUrl,
    port: options.port,
    dataDir,
    urlFor: (database) => `postgres://postgres@127.0.0.1:${options.port}/${encodeURIComponent(database)}`,
    isRunning: () => child !== null && child.exitCode === null,
    stop: async () => {
      await signal('SIGINT');
      if (temporary) rmSync(dataDir, { recursive: true, force: true });
    },
    kill9: async () => {
      await signal('SIGKILL');
    },
    restart: async () => {
      await signal('SIGINT');
      await start();
    },
  };
}
