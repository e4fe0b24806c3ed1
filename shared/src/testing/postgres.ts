/**
 * A private PostgreSQL database per test file: created with a random name, optionally
 * migrated, dropped afterwards. Two test runs (or files) on one server never see each
 * other's rows.
 *
 * PostgreSQL is a required service for the test suite (CI machines start it), so an
 * unreachable server is a failure with a message saying how to fix it, never a skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describeDatabaseError } from '../postgres/describe-error.js';
import { migratePostgres } from '../postgres/migrate.js';
import { createPool, redactDatabaseUrl } from '../postgres/pool.js';

export const TEST_DATABASE_URL_ENV = 'FLOWBILL_TEST_DATABASE_URL';
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Name of the private database, flowbill_test_<random>. */
  readonly name: string;
  /** URL of the private database (for code that opens its own connections). */
  readonly url: string;
  /** A pool on the private database. */
  readonly pool: pg.Pool;
  /** Close the pool and drop the database, ending any connection a test left open. */
  drop(): Promise<void>;
}

export interface CreateTestDatabaseOptions {
  /** Apply shared/migrations/postgres (default true). */
  readonly migrate?: boolean;
}

/** The server the tests use: FLOWBILL_TEST_DATABASE_URL, or local trust auth as postgres. */
export function testServerUrl(env: NodeJS.ProcessEnv = process.env): string {
  const fromEnv = env[TEST_DATABASE_URL_ENV];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_TEST_DATABASE_URL;
}

export async function createTestDatabase(options: CreateTestDatabaseOptions = {}): Promise<TestDatabase> {
  const serverUrl = testServerUrl();
  const name = `flowbill_test_${randomBytes(6).toString('hex')}`;
  await adminQuery(serverUrl, `CREATE DATABASE ${name}`);
  const url = databaseUrl(serverUrl, name);
  const pool = createPool(url, { applicationName: 'flowbill-test' });
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await pool.end();
    // FORCE (PostgreSQL 13+) ends connections a failed test left behind, such as a listener.
    await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  if (options.migrate ?? true) {
    try {
      await migratePostgres(pool);
    } catch (error) {
      await drop();
      throw error;
    }
  }
  return { name, url, pool, drop };
}

/** `serverUrl` with its database replaced by `name`. */
function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** One statement on a short-lived connection to the server's maintenance database. */
async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is required by the tests and is not reachable at ${redactDatabaseUrl(serverUrl)}: ${describeDatabaseError(error)}. ` +
        `Start PostgreSQL 15 (trust auth for user postgres on 127.0.0.1:5432), or point ${TEST_DATABASE_URL_ENV} at a server ` +
        'where the user may CREATE DATABASE.',
      { cause: error },
    );
  }
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
