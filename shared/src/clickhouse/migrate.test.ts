import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withClickHouse } from '../testing/clickhouse.js';
import { createClickHouse, type ClickHouse } from './client.js';
import { ClickHouseMigrationError, migrate } from './migrate.js';
import { readClickHouseMigrations } from './migration-files.js';
import { str, sql } from './sql.js';
import { parseRequirement, parseServerVersion, satisfies } from './version.js';

const ctx = withClickHouse();

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function migrationsDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'flowbill-ch-migrations-'));
  tempDirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

async function tables(ch: ClickHouse, database: string): Promise<Record<string, string>> {
  const rows = await ch.query<{ name: string; engine: string }>(
    sql`SELECT name, engine FROM system.tables WHERE database = ${str(database)} ORDER BY name`,
  );
  return Object.fromEntries(rows.map((row) => [row.name, row.engine]));
}

async function recorded(ch: ClickHouse): Promise<{ version: number; status: string }[]> {
  return ch.query('SELECT version, status FROM schema_migrations ORDER BY version, recorded_at');
}

describe('migrate with the project migrations', () => {
  it('creates the database and the base schema from scratch, gating what the server cannot run', async () => {
    const database = `${ctx.database}_fresh`; // does not exist yet
    const ch = createClickHouse({ url: ctx.server.url, database });
    try {
      const result = await migrate(ch);
      const version = await ch.serverVersion();
      const files = readClickHouseMigrations();
      const gated = files.filter((file) => file.requires.some((r) => !satisfies(version, r))).map((file) => file.version);
      expect(result.applied).toEqual(files.map((file) => file.version).filter((v) => !gated.includes(v)));
      expect(result.skipped.map((s) => s.version)).toEqual(gated);
      if (!satisfies(version, parseRequirement('clickhouse >= 20.3'))) {
        // The server these tests run on in CI (Debian's 18.16): the TTL migration is skipped.
        expect(result.skipped).toEqual([{ version: 5, name: 'flows_raw_ttl', requires: 'clickhouse >= 20.3.0' }]);
      }

      expect(await tables(ch, database)).toEqual({
        exporter_stats: 'MergeTree',
        flows_raw: 'MergeTree',
        flush_batches: 'MergeTree',
        flush_batches_mv: 'MaterializedView',
        // The rater's mirror of invoice lines (shared/migrations/clickhouse/0101_line_items.sql).
        line_items: 'ReplacingMergeTree',
        revenue_by_day: 'View',
        revenue_by_service: 'View',
        revenue_by_tariff: 'View',
        revenue_by_traffic_class: 'View',
        schema_migrations: 'MergeTree',
        usage_1d: 'SummingMergeTree',
        usage_1d_mv: 'MaterializedView',
        usage_1h: 'SummingMergeTree',
        usage_1h_mv: 'MaterializedView',
        usage_1m: 'MergeTree',
      });
      const [flowsRaw] = await ch.query<{ create_table_query: string }>(
        sql`SELECT create_table_query FROM system.tables WHERE database = ${str(database)} AND name = 'flows_raw'`,
      );
      expect(flowsRaw.create_table_query.includes('TTL')).toBe(!gated.includes(5));

      expect(await recorded(ch)).toEqual([
        ...result.applied.map((v) => ({ version: v, status: 'applied' })),
        ...gated.map((v) => ({ version: v, status: 'skipped' })),
      ].sort((a, b) => a.version - b.version));
    } finally {
      await ch.close();
    }
  });

  it('is idempotent: a second run applies nothing and records nothing new', async () => {
    const first = await migrate(ctx.ch);
    const rowsAfterFirst = await recorded(ctx.ch);
    const second = await migrate(ctx.ch);
    expect(second.applied).toEqual([]);
    expect(second.alreadyApplied).toEqual(first.applied);
    expect(second.skipped).toEqual(first.skipped);
    expect(await recorded(ctx.ch)).toEqual(rowsAfterFirst);
  });

  it('re-running every statement of an applied file is harmless (a crash before recording it)', async () => {
    await migrate(ctx.ch);
    const version = await ctx.ch.serverVersion();
    for (const file of readClickHouseMigrations()) {
      if (!file.requires.every((r) => satisfies(version, r))) continue;
      for (const statement of file.statements) await ctx.ch.command(statement);
    }
    await ctx.ch.command('TRUNCATE TABLE schema_migrations');
    const again = await migrate(ctx.ch);
    expect(again.alreadyApplied).toEqual([]);
    expect(again.applied.length).toBeGreaterThan(0);
  });
});

describe('migrate with its own files', () => {
  it('applies a file whose gate holds and skips one whose gate does not, once per server version', async () => {
    const dir = migrationsDir({
      '0001_base.sql': 'CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;',
      '0002_new_feature.sql': '-- requires: clickhouse >= 18.0\nCREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = MergeTree ORDER BY x;',
      '0003_old_only.sql': '-- requires: clickhouse < 18.0\nCREATE TABLE IF NOT EXISTS c (x UInt8) ENGINE = MergeTree ORDER BY x;',
      'README.md': 'not a migration',
    });
    const first = await migrate(ctx.ch, { directory: dir });
    expect(first.applied).toEqual([1, 2]);
    expect(first.skipped).toEqual([{ version: 3, name: 'old_only', requires: 'clickhouse < 18.0.0' }]);
    await migrate(ctx.ch, { directory: dir });
    expect(await recorded(ctx.ch)).toEqual([
      { version: 1, status: 'applied' },
      { version: 2, status: 'applied' },
      { version: 3, status: 'skipped' },
    ]);
    expect(Object.keys(await tables(ctx.ch, ctx.database))).toEqual(['a', 'b', 'schema_migrations']);
  });

  it('applies a skipped file once the server satisfies its gate (after an upgrade)', async () => {
    const dir = migrationsDir({
      '0001_future.sql': '-- requires: clickhouse >= 99.1\nCREATE TABLE IF NOT EXISTS f (x UInt8) ENGINE = MergeTree ORDER BY x;',
    });
    expect((await migrate(ctx.ch, { directory: dir })).skipped.map((s) => s.version)).toEqual([1]);
    // The same database seen through a client that reports an upgraded server.
    const upgraded: ClickHouse = { ...ctx.ch, serverVersion: async () => parseServerVersion('99.1.0') };
    const after = await migrate(upgraded, { directory: dir });
    expect(after.applied).toEqual([1]);
    expect(after.skipped).toEqual([]);
    expect(Object.keys(await tables(ctx.ch, ctx.database))).toContain('f');
  });

  it('names the file and statement that failed, records nothing for it, and retries it next time', async () => {
    const files = {
      '0001_ok.sql': 'CREATE TABLE IF NOT EXISTS ok (x UInt8) ENGINE = MergeTree ORDER BY x;',
      '0002_broken.sql': 'CREATE TABLE IF NOT EXISTS half (x UInt8) ENGINE = MergeTree ORDER BY x;\nCREATE TABLE IF NOT EXISTS bad (x NoSuchType) ENGINE = MergeTree ORDER BY x;',
    };
    const dir = migrationsDir(files);
    const error = await migrate(ctx.ch, { directory: dir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClickHouseMigrationError);
    expect((error as Error).message).toMatch(/0002_broken\.sql, statement 2 of 2: .*NoSuchType/);
    expect(await recorded(ctx.ch)).toEqual([{ version: 1, status: 'applied' }]);

    writeFileSync(join(dir, '0002_broken.sql'), files['0002_broken.sql'].replace('NoSuchType', 'UInt8'));
    expect((await migrate(ctx.ch, { directory: dir })).applied).toEqual([2]);
  });

  it('refuses to run when an applied file was edited', async () => {
    const dir = migrationsDir({ '0001_a.sql': 'CREATE TABLE IF NOT EXISTS a (x UInt8) ENGINE = MergeTree ORDER BY x;' });
    await migrate(ctx.ch, { directory: dir });
    writeFileSync(join(dir, '0001_a.sql'), 'CREATE TABLE IF NOT EXISTS a (x UInt16) ENGINE = MergeTree ORDER BY x;');
    writeFileSync(join(dir, '0002_b.sql'), 'CREATE TABLE IF NOT EXISTS b (x UInt8) ENGINE = MergeTree ORDER BY x;');
    await expect(migrate(ctx.ch, { directory: dir })).rejects.toThrow(/0001_a\.sql/);
    expect(Object.keys(await tables(ctx.ch, ctx.database))).not.toContain('b');
  });

  it('rejects badly named files and malformed gates instead of skipping them', async () => {
    const badName = migrationsDir({ '0001-a.sql': 'SELECT 1' });
    await expect(migrate(ctx.ch, { directory: badName })).rejects.toThrow(/0001-a\.sql: expected NNNN_lowercase_name\.sql/);
    const badGate = migrationsDir({ '0001_a.sql': '-- requires: clickhouse about 20\nSELECT 1' });
    await expect(migrate(ctx.ch, { directory: badGate })).rejects.toThrow(/bad version requirement/);
    const duplicate = migrationsDir({ '0001_a.sql': 'SELECT 1', '0001_b.sql': 'SELECT 1' });
    await expect(migrate(ctx.ch, { directory: duplicate })).rejects.toThrow(/also used by/);
  });
});
