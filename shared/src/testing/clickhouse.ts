/**
 * A private ClickHouse for tests: one clickhouse-server child process per test file (temp
 * dir, free ports, deleted afterwards) and a fresh database per test. Two test runs, or
 * two files running in parallel, never share a server.
 *
 * clickhouse-server is required by the test suite (CI installs Debian's package), so a
 * missing binary fails the tests with the install command, never skips them.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { createClickHouse, type ClickHouse } from '../clickhouse/client.js';
import { startClickHouseServer, type ClickHouseServer, type ClickHouseServerOptions } from '../clickhouse/local-server.js';
import { migrate } from '../clickhouse/migrate.js';
import { ident, sql } from '../clickhouse/sql.js';

export {
  ClickHouseNotInstalledError,
  findClickHouseServerBinary,
  startClickHouseServer,
  type ClickHouseServer,
  type ClickHouseServerOptions,
} from '../clickhouse/local-server.js';

export interface WithClickHouseOptions {
  /** Apply shared/migrations/clickhouse to each test's database (default false). */
  readonly migrate?: boolean;
  /**
   * Options for this file's server (time zone, extra users). The file has one server, so
   * only the first withClickHouse() call of a file that starts it decides them.
   */
  readonly server?: ClickHouseServerOptions;
}

export interface ClickHouseTestContext {
  /** The file's server (for kill9/restart in fault tests). */
  readonly server: ClickHouseServer;
  /** This test's database, test_<random>. */
  readonly database: string;
  /** A client on this test's database, closed after the test. */
  readonly ch: ClickHouse;
}

// One server per test file: vitest gives every file its own module instance, so this
// is shared by the withClickHouse() calls of one file only.
let sharedServer: Promise<ClickHouseServer> | undefined;
let users = 0;

async function acquireServer(options: ClickHouseServerOptions | undefined): Promise<ClickHouseServer> {
  users++;
  sharedServer ??= startClickHouseServer(options);
  return sharedServer;
}

async function releaseServer(): Promise<void> {
  users--;
  if (users > 0 || sharedServer === undefined) return;
  const server = sharedServer;
  sharedServer = undefined;
  await (await server).stop();
}

/**
 * Registers hooks that start (or reuse) this file's server and give every test its own
 * database and client. Read the returned object's fields inside tests or hooks.
 */
export function withClickHouse(options: WithClickHouseOptions = {}): ClickHouseTestContext {
  let server: ClickHouseServer | undefined;
  let current: { database: string; ch: ClickHouse } | undefined;

  beforeAll(async () => {
    try {
      server = await acquireServer(options.server);
    } catch (error) {
      // Undo the count so afterAll does not try to stop a server that never started.
      users--;
      sharedServer = undefined;
      throw error;
    }
  });
  afterAll(async () => {
    if (server !== undefined) await releaseServer();
    server = undefined;
  });
  beforeEach(async () => {
    const database = `test_${randomBytes(6).toString('hex')}`;
    const ch = createClickHouse({ url: requireServer().url, database });
    await createDatabase(requireServer().url, database);
    current = { database, ch };
    if (options.migrate) await migrate(ch);
  });
  afterEach(async () => {
    await current?.ch.close();
    current = undefined;
  });

  const requireServer = (): ClickHouseServer => {
    if (server === undefined) throw new Error('withClickHouse(): the server is available inside tests and hooks only');
    return server;
  };
  const requireCurrent = () => {
    if (current === undefined) throw new Error('withClickHouse(): the database is available inside tests (beforeEach/it) only');
    return current;
  };
  return {
    get server() {
      return requireServer();
    },
    get database() {
      return requireCurrent().database;
    },
    get ch() {
      return requireCurrent().ch;
    },
  };
}

async function createDatabase(url: string, database: string): Promise<void> {
  const admin = createClickHouse({ url, database: 'system' });
  try {
    await admin.command(sql`CREATE DATABASE IF NOT EXISTS ${ident(database)}`);
  } finally {
    await admin.close();
  }
}
