/**
 * Applies every schema migration: PostgreSQL (creating the database if it does not exist)
 * and ClickHouse. Run before starting the services: `pnpm migrate`.
 */
import pg from 'pg';
import { createClickHouse, migrate as migrateClickHouse } from '../clickhouse/index.js';
import { loadStoresConfig, type StoresConfig } from '../config/index.js';
import { createPool, migratePostgres, redactDatabaseUrl } from '../postgres/index.js';

/** Create the database named in `url` if missing (connecting to the `postgres` database). */
export async function ensurePostgresDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''));
  if (!/^[A-Za-z_][A-Za-z0-9_]{0,62}$/.test(name)) throw new Error(`database name "${name}" must be letters, digits and _`);
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    // The name was validated above: identifiers cannot be bound as parameters.
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

export async function migrateAll(stores: StoresConfig, log: (m: string) => void = console.error): Promise<void> {
  await ensurePostgresDatabase(stores.DATABASE_URL);
  const pool = createPool(stores.DATABASE_URL);
  try {
    const r = await migratePostgres(pool, { log });
    log(`postgres ${redactDatabaseUrl(stores.DATABASE_URL)}: ${JSON.stringify(r)}`);
  } finally {
    await pool.end();
  }
  const ch = createClickHouse({ url: stores.CLICKHOUSE_URL, database: stores.CLICKHOUSE_DATABASE });
  try {
    const r = await migrateClickHouse(ch, { log });
    log(`clickhouse ${stores.CLICKHOUSE_URL}/${stores.CLICKHOUSE_DATABASE}: applied ${r.applied.length}, already ${r.alreadyApplied.length}, skipped ${r.skipped.length} (server ${r.serverVersion.text})`);
  } finally {
    await ch.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    await migrateAll(loadStoresConfig());
  } catch (e) {
    console.error(`migrate: ${(e as Error).message}`);
    process.exit(1);
  }
}
