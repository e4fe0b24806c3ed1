// Tests of the per-file database harness in ../testing/postgres.ts (kept beside the
// module it exercises most, since shared/src/testing holds harnesses only).
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { TEST_DATABASE_URL_ENV, createTestDatabase, testServerUrl } from '../testing/postgres.js';

const original = process.env[TEST_DATABASE_URL_ENV];
afterEach(() => {
  if (original === undefined) delete process.env[TEST_DATABASE_URL_ENV];
  else process.env[TEST_DATABASE_URL_ENV] = original;
});

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: testServerUrl() });
  await client.connect();
  try {
    return (await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

describe('createTestDatabase', () => {
  it('creates a private migrated database and drops it, even with a connection left open', async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    expect(a.name).toMatch(/^flowbill_test_[0-9a-f]{12}$/);
    expect(a.name).not.toBe(b.name);
    expect((await a.pool.query('SELECT count(*)::int AS n FROM schema_migrations')).rows[0].n).toBeGreaterThan(0);

    const leftOpen = new pg.Client({ connectionString: a.url });
    leftOpen.on('error', () => {}); // it is terminated by the drop
    await leftOpen.connect();
    await a.drop();
    await b.drop();
    expect(await databaseExists(a.name)).toBe(false);
    expect(await databaseExists(b.name)).toBe(false);
  });

  it('fails, naming the server and the variable, when PostgreSQL is unreachable', async () => {
    process.env[TEST_DATABASE_URL_ENV] = 'postgres://postgres:hunter2@127.0.0.1:1/postgres';
    const attempt = createTestDatabase();
    await expect(attempt).rejects.toThrow(/PostgreSQL is required by the tests and is not reachable at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres: .*ECONNREFUSED/);
    await expect(attempt).rejects.toThrow(TEST_DATABASE_URL_ENV);
  });
});
