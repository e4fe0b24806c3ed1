/**
 * Runs a private clickhouse-server as a child process: its own directory, config, ports
 * and data. Used by the test harness (temp dir, free ports, deleted afterwards) and by the
 * local stack script (a project-local persistent dir on a fixed port).
 *
 * Findings that shaped it (Debian's clickhouse-server 18.16):
 * - It runs as root without any flag or override; it needs only --config-file.
 * - Without <interserver_http_port> it opens no interserver port; without <listen_host>
 *   it listens on every address, so 127.0.0.1 is set explicitly.
 * - A kill -9 leaves its `status` file behind; the next start logs an unclean restart and
 *   proceeds, keeping every committed part.
 * Current servers read the same config (the <yandex> root element is still accepted);
 * elements 18.16 does not know (max_server_memory_usage, access_control_path) it ignores.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';

export interface ClickHouseServerOptions {
  /**
   * Persistent mode: config, data and logs live here, the directory is created if missing,
   * reused by later starts and never deleted. Default: a fresh temp dir that stop() deletes.
   */
  readonly dataDir?: string;
  /** Default: a free port (chosen by binding port 0). */
  readonly httpPort?: number;
  /** The native protocol port (clickhouse-client). Default: a free port. */
  readonly tcpPort?: number;
  /** Server time zone (default UTC). The schema and queries must not depend on it. */
  readonly timezone?: string;
  /** Extra users with passwords, besides `default` (no password, loopback only); `readonly` gives them readonly=1. */
  readonly users?: readonly { readonly name: string; readonly password: string; readonly readonly?: boolean }[];
  /** How long each start may take to answer (default 30 s). */
  readonly startTimeoutMs?: number;
  /** Default: $CLICKHOUSE_SERVER_BIN, /usr/sbin/clickhouse-server, /usr/bin/clickhouse-server, PATH. */
  readonly binary?: string;
}

export interface ClickHouseServer {
  /** http://127.0.0.1:<httpPort> */
  readonly url: string;
  readonly httpPort: number;
  readonly tcpPort: number;
  /** The server's directory (config.xml, data/, logs/). */
  readonly dataDir: string;
  readonly pid: number | undefined;
  isRunning(): boolean;
  /** Stop gracefully if running, stay down for `downMs`, start again on the same ports and data. */
  restart(options?: { readonly downMs?: number }): Promise<void>;
  /** SIGKILL and wait for the exit; data stays for restart(). */
  kill9(): Promise<void>;
  /** Stop gracefully (SIGKILL after 30 s); a temp dir is then deleted. Final. */
  stop(): Promise<void>;
  /** The end of the server's error log, for diagnostics. */
  errorLogTail(maxChars?: number): string;
}

export class ClickHouseNotInstalledError extends Error {
  override readonly name = 'ClickHouseNotInstalledError';
}

const DEFAULT_BINARIES = ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server'];

/** The clickhouse-server executable, or a ClickHouseNotInstalledError saying how to install it. */
export function findClickHouseServerBinary(env: NodeJS.ProcessEnv = process.env, fixedPlaces: readonly string[] = DEFAULT_BINARIES): string {
  const fromEnv = env.CLICKHOUSE_SERVER_BIN;
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    throw new ClickHouseNotInstalledError(
      `CLICKHOUSE_SERVER_BIN=${fromEnv} is not an executable file; unset it to use the system's, installed with: apt-get install clickhouse-server`,
    );
  }
  const onPath = (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'clickhouse-server'));
  for (const candidate of [...fixedPlaces, ...onPath]) {
    if (isExecutable(candidate)) return candidate;
  }
  throw new ClickHouseNotInstalledError(
    'clickhouse-server is not installed (looked in /usr/sbin, /usr/bin and PATH). ' +
      'Install it with: apt-get install clickhouse-server (or set CLICKHOUSE_SERVER_BIN).',
  );
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const PORT_RETRIES = 3;
const LOG_FILES = ['clickhouse-server.err.log', 'console.log'];

// A test process that exits (or crashes) must not leave servers or temp dirs behind.
const liveChildren = new Set<ChildProcess>();
const tempDirs = new Set<string>();
process.once('exit', () => {
  for (const child of liveChildren) child.kill('SIGKILL');
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort: the killed server may still be writing for a moment
    }
  }
});

export async function startClickHouseServer(options: ClickHouseServerOptions = {}): Promise<ClickHouseServer> {
  const binary = options.binary ?? findClickHouseServerBinary();
  const persistent = options.dataDir !== undefined;
  const dir = persistent ? resolve(options.dataDir!) : mkdtempSync(join(tmpdir(), 'flowbill-clickhouse-'));
  mkdirSync(dir, { recursive: true });
  if (!persistent) tempDirs.add(dir);
  const fixedPorts = options.httpPort !== undefined && options.tcpPort !== undefined;
  const startTimeoutMs = options.startTimeoutMs ?? 30_000;

  // Ports chosen by binding port 0 can be taken by someone else before the server binds
  // them (two test runs at once); then the start fails with "Address already in use" and
  // is retried with new ports. Fixed ports are not retried.
  let lastError: unknown;
  for (let attempt = 1; attempt <= (fixedPorts ? 1 : PORT_RETRIES); attempt++) {
    const [httpPort, tcpPort] = await pickPorts(options.httpPort, options.tcpPort);
    const server = new LocalClickHouseServer(binary, dir, persistent, httpPort, tcpPort, options, startTimeoutMs);
    try {
      await server.start();
      return server;
    } catch (error) {
      lastError = error;
      await server.kill9();
      if (!(error instanceof Error && /address already in use|another server/i.test(error.message))) break;
    }
  }
  if (!persistent) {
    rmSync(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  }
  throw lastError;
}

class LocalClickHouseServer implements ClickHouseServer {
  readonly url: string;
  /** Unique per instance, reported by the server in X-ClickHouse-Server-Display-Name. */
  private readonly displayName = `flowbill-${randomBytes(6).toString('hex')}`;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly binary: string,
    readonly dataDir: string,
    private readonly persistent: boolean,
    readonly httpPort: number,
    readonly tcpPort: number,
    private readonly options: ClickHouseServerOptions,
    private readonly startTimeoutMs: number,
  ) {
    this.url = `http://127.0.0.1:${httpPort}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  isRunning(): boolean {
    return this.child !== undefined;
  }

  async start(): Promise<void> {
    if (this.stopped) throw new Error('ClickHouse server was stopped; start a new one');
    if (this.child !== undefined) return;
    writeConfig(this.dataDir, this.httpPort, this.tcpPort, this.displayName, this.options);
    const logOffsets = this.logSizes();
    // stdout/stderr go to a file rather than a pipe: nobody has to drain it, and the
    // server never blocks on a full pipe while the test process is busy.
    const consoleFd = openSync(join(this.dataDir, 'logs', 'console.log'), 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.binary, [`--config-file=${join(this.dataDir, 'config.xml')}`], {
        cwd: this.dataDir,
        stdio: ['ignore', consoleFd, consoleFd],
      });
    } finally {
      closeSync(consoleFd);
    }
    this.child = child;
    liveChildren.add(child);
    let spawnFailed: (error: Error) => void = () => {};
    const spawnError = new Promise<Error>((resolveError) => (spawnFailed = resolveError));
    this.exited = new Promise((resolveExit) => {
      const gone = () => {
        liveChildren.delete(child);
        if (this.child === child) this.child = undefined;
        resolveExit();
      };
      child.once('exit', gone);
      // A process that could not be spawned emits 'error' and never 'exit'.
      child.once('error', (error) => {
        if (child.pid === undefined) gone();
        spawnFailed(error);
      });
    });
    const ready = await Promise.race([
      waitUntilServing(this.url, this.displayName, this.startTimeoutMs, () => this.child !== child),
      spawnError,
    ]);
    if (ready !== true) {
      const reason = ready instanceof Error ? `could not be spawned: ${ready.message}` : ready;
      await this.kill9();
      throw new Error(`clickhouse-server (${this.binary}) ${reason}; config in ${this.dataDir}\n${this.readLogs(logOffsets, 4000)}`);
    }
  }

  async restart(options: { readonly downMs?: number } = {}): Promise<void> {
    await this.terminate();
    if (options.downMs) await sleep(options.downMs);
    await this.start();
  }

  async kill9(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await this.terminate();
    this.stopped = true;
    if (!this.persistent) {
      rmSync(this.dataDir, { recursive: true, force: true });
      tempDirs.delete(this.dataDir);
    }
  }

  errorLogTail(maxChars = 4000): string {
    return this.readLogs(new Map(), maxChars);
  }

  private logPath(name: string): string {
    return join(this.dataDir, 'logs', name);
  }

  private logSizes(): Map<string, number> {
    return new Map(LOG_FILES.map((name) => [name, existsSync(this.logPath(name)) ? statSync(this.logPath(name)).size : 0]));
  }

  /** The logs' text after `offsets` (what this start wrote), at most maxChars of each. */
  private readLogs(offsets: ReadonlyMap<string, number>, maxChars: number): string {
    const parts: string[] = [];
    for (const name of LOG_FILES) {
      if (!existsSync(this.logPath(name))) continue;
      const text = readFileSync(this.logPath(name)).subarray(offsets.get(name) ?? 0).toString('utf8').trim();
      if (text) parts.push(`--- ${name}:\n${text.slice(-maxChars)}`);
    }
    return parts.join('\n');
  }

  /** SIGTERM, wait for a clean shutdown; SIGKILL if it takes longer than 30 s. */
  private async terminate(): Promise<void> {
    const child = this.child;
    if (child === undefined) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    try {
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * true when this very server answers; otherwise why not (exited, timed out). The answer
 * must carry our display name: while a server that lost the race for its port is still
 * starting, another server on that port would otherwise answer for it.
 */
async function waitUntilServing(url: string, displayName: string, timeoutMs: number, hasExited: () => boolean): Promise<true | string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasExited()) return 'exited during startup';
    const answeredBy = await whoAnswers(url);
    if (answeredBy === displayName) return true;
    if (answeredBy !== undefined) return `found another server (${answeredBy}) answering on ${url}`;
    await sleep(100);
  }
  return `did not answer ${url} within ${timeoutMs} ms`;
}

/**
 * The display name of the server answering `SELECT 1` at `url`, or undefined if none.
 * The connection is closed afterwards: fetch() would keep the socket alive, and an idle
 * keep-alive connection makes a graceful shutdown wait for its timeout.
 */
function whoAnswers(url: string): Promise<string | undefined> {
  return new Promise((done) => {
    const request = httpGet(`${url}/?query=SELECT%201`, { agent: false, timeout: 1_000, headers: { connection: 'close' } }, (response) => {
      response.resume();
      const name = response.headers['x-clickhouse-server-display-name'];
      response.on('end', () => done(response.statusCode === 200 && typeof name === 'string' ? name : undefined));
      response.on('error', () => done(undefined));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => done(undefined));
  });
}

/** Free ports: all listeners are held open until every port is known, so they differ. */
async function pickPorts(http: number | undefined, tcp: number | undefined): Promise<[number, number]> {
  const servers: ReturnType<typeof createServer>[] = [];
  const pick = async (fixed: number | undefined): Promise<number> => {
    if (fixed !== undefined) return fixed;
    const server = createServer();
    servers.push(server);
    await new Promise<void>((ok, fail) => {
      server.once('error', fail);
      server.listen(0, '127.0.0.1', ok);
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('could not pick a free port');
    return address.port;
  };
  try {
    return [await pick(http), await pick(tcp)];
  } finally {
    await Promise.all(servers.map((server) => new Promise((done) => server.close(done))));
  }
}

function writeConfig(dir: string, httpPort: number, tcpPort: number, displayName: string, options: ClickHouseServerOptions): void {
  for (const sub of ['data', 'tmp', 'user_files', 'format_schemas', 'logs', 'access']) mkdirSync(join(dir, sub), { recursive: true });
  const path = (sub: string) => xml(`${join(dir, sub)}/`);
  writeFileSync(
    join(dir, 'config.xml'),
    `<?xml version="1.0"?>
<!-- Generated by flowbill (shared/src/clickhouse/local-server.ts) on every start; edits are overwritten. -->
<yandex>
  <logger>
    <level>warning</level>
    <log>${xml(join(dir, 'logs', 'clickhouse-server.log'))}</log>
    <errorlog>${xml(join(dir, 'logs', 'clickhouse-server.err.log'))}</errorlog>
    <size>50M</size>
    <count>2</count>
    <console>0</console>
  </logger>
  <display_name>${displayName}</display_name>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${path('data')}</path>
  <tmp_path>${path('tmp')}</tmp_path>
  <user_files_path>${path('user_files')}</user_files_path>
  <format_schema_path>${path('format_schemas')}</format_schema_path>
  <access_control_path>${path('access')}</access_control_path>
  <users_config>users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>${xml(options.timezone ?? 'UTC')}</timezone>
  <!-- As in the packaged config. A graceful shutdown waits for open keep-alive connections
       to time out, so a long timeout makes restart() slow while a client is polling. -->
  <keep_alive_timeout>3</keep_alive_timeout>
  <max_concurrent_queries>100</max_concurrent_queries>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_server_memory_usage>2147483648</max_server_memory_usage>
  <mlock_executable>false</mlock_executable>
</yandex>
`,
  );
  const users = (options.users ?? [])
    .map((user) => {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(user.name) || user.name === 'default') throw new Error(`bad ClickHouse user name ${JSON.stringify(user.name)}`);
      return `    <${user.name}>
      <password>${xml(user.password)}</password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>${user.readonly ? 'readonly' : 'default'}</profile>
      <quota>default</quota>
    </${user.name}>
`;
    })
    .join('');
  writeFileSync(
    join(dir, 'users.xml'),
    `<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>2000000000</max_memory_usage>
    </default>
    <readonly>
      <readonly>1</readonly>
    </readonly>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
${users}  </users>
  <quotas><default></default></quotas>
</yandex>
`,
  );
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}
