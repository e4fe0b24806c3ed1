import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../testing/postgres.js';
import { migratePostgres } from './migrate.js';
import { migrationChecksum, readMigrationFiles } from './migration-files.js';
import { createPool } from './pool.js';
import { PostgresMigrationError } from './postgres-migration-error.js';

const databases: TestDatabase[] = [];
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase({ migrate: false });
  databases.push(db);
  return db;
}
afterAll(async () => {
  await Promise.all(databases.map((db) => db.drop()));
});

function migrationDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowbill-migrations-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

async function tableNames(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  return rows.map((row) => row.table_name);
}

describe('migratePostgres with the project migrations', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase();
  });

  it('applies every file once, records it, and does nothing the second time', async () => {
    const lines: string[] = [];
    const first = await migratePostgres(db.pool, { log: (line) => lines.push(line) });
    const files = readMigrationFiles();
    expect(first.applied).toEqual(files.map((file) => file.version));
    expect(first.alreadyApplied).toEqual([]);
    expect(lines).toContain('applied 0001_subscribers.sql');
    expect(await tableNames(db)).toEqual(expect.arrayContaining(['api_keys', 'ip_assignments', 'schema_migrations', 'subscribers']));

    const second = await migratePostgres(db.pool);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(files.map((file) => file.version));
    const { rows } = await db.pool.query('SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version');
    expect(rows.map((row) => [row.version, row.name, row.checksum])).toEqual(files.map((file) => [file.version, file.name, file.checksum]));
    expect(rows[0].applied_at).toBeInstanceOf(Date);
  });
});

describe('migratePostgres rules', () => {
  it('refuses to run when an applied file changed, before applying newer files', async () => {
    const db = await freshDatabase();
    const dir = migrationDir({ '0001_first.sql': 'CREATE TABLE first (id int);' });
    await migratePostgres(db.pool, { directory: dir });

    writeFileSync(join(dir, '0001_first.sql'), 'CREATE TABLE first (id bigint);');
    writeFileSync(join(dir, '0002_second.sql'), 'CREATE TABLE second (id int);');
    const failure = migratePostgres(db.pool, { directory: dir });
    await expect(failure).rejects.toThrow(PostgresMigrationError);
    await expect(failure).rejects.toThrow(/0001_first\.sql .*applied as checksum/);
    expect(await tableNames(db)).not.toContain('second');
  });

  it('rolls a failing file back completely and keeps the files before it', async () => {
    const db = await freshDatabase();
    const dir = migrationDir({
      '0001_good.sql': 'CREATE TABLE good (id int);',
      '0002_bad.sql': 'CREATE TABLE half (id int);\nSELECT no_such_function();',
    });
    await expect(migratePostgres(db.pool, { directory: dir })).rejects.toThrow(/0002_bad\.sql failed: .*no_such_function/);
    expect(await tableNames(db)).toEqual(['good', 'schema_migrations']);
    const { rows } = await db.pool.query('SELECT version FROM schema_migrations');
    expect(rows).toEqual([{ version: 1 }]);

    // Fixed file: the next run applies it.
    writeFileSync(join(dir, '0002_bad.sql'), 'CREATE TABLE half (id int);');
    expect((await migratePostgres(db.pool, { directory: dir })).applied).toEqual([2]);
  });

  it('two processes migrating at once apply each file exactly once', async () => {
    const db = await freshDatabase();
    // Without the advisory lock both would see an empty schema_migrations during the
    // sleep and the second CREATE TABLE (or the version's primary key) would fail.
    const dir = migrationDir({ '0001_slow.sql': 'SELECT pg_sleep(0.5);\nCREATE TABLE slow (id int);' });
    const other = createPool(db.url);
    try {
      const results = await Promise.all([migratePostgres(db.pool, { directory: dir }), migratePostgres(other, { directory: dir })]);
      expect(results.map((result) => result.applied.length).sort()).toEqual([0, 1]);
    } finally {
      await other.end();
    }
    expect(await tableNames(db)).toContain('slow');
  });

  it('reports misnamed and duplicate-version .sql files without touching the database', async () => {
    const db = await freshDatabase();
    const dir = migrationDir({
      '0001_one.sql': 'CREATE TABLE one (id int);',
      '0001_again.sql': 'CREATE TABLE again (id int);',
      '2-two.sql': 'CREATE TABLE two (id int);',
      'README.md': 'not a migration',
    });
    const failure = migratePostgres(db.pool, { directory: dir });
    await expect(failure).rejects.toThrow(/2-two\.sql: expected NNNN_lowercase_name\.sql/);
    await expect(failure).rejects.toThrow(/0001_one\.sql: version 0001 is also used by 0001_again\.sql/);
    expect(await tableNames(db)).toEqual([]);
  });

  it('treats CRLF and LF copies of a file as the same migration', () => {
    expect(migrationChecksum('CREATE TABLE a (id int);\r\nSELECT 1;\r\n')).toBe(migrationChecksum('CREATE TABLE a (id int);\nSELECT 1;\n'));
    expect(migrationChecksum('SELECT 1;')).not.toBe(migrationChecksum('SELECT 2;'));
  });
});
