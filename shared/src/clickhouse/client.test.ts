import { describe, expect, it } from 'vitest';
import { withClickHouse } from '../testing/clickhouse.js';
import { createClickHouse } from './client.js';
import { ClickHouseConnectionError, ClickHouseError } from './errors.js';
import { ident, sql, str, uint64 } from './sql.js';

const READER_PASSWORD = `p'a"s\\s<&>`;
const ctx = withClickHouse({ server: { users: [{ name: 'reader', password: READER_PASSWORD }] } });

describe('createClickHouse against a private server', () => {
  it('pings and reports the server version', async () => {
    expect(await ctx.ch.ping()).toBe(true);
    const version = await ctx.ch.serverVersion();
    const [row] = await ctx.ch.query<{ v: string }>('SELECT version() AS v');
    expect(version.text).toBe(row.v);
    expect(`${version.major}.${version.minor}.${version.patch}`).toBe(row.v.split('.').slice(0, 3).join('.'));
  });

  it('round-trips UInt64 above 2^53 exactly, as strings, through insert and select', async () => {
    await ctx.ch.command('CREATE TABLE big (id String, n UInt64) ENGINE = MergeTree ORDER BY id');
    const values = [2n ** 53n + 1n, 2n ** 63n + 7n, 2n ** 64n - 1n];
    await ctx.ch.insert(
      'big',
      values.map((n, i) => ({ id: `r${i}`, n })),
    );
    const rows = await ctx.ch.query<{ id: string; n: string }>('SELECT id, n FROM big ORDER BY id');
    expect(rows).toEqual(values.map((n, i) => ({ id: `r${i}`, n: n.toString() })));
    // Comparison on the server side, with the literal built by uint64(): exact as well.
    const [hit] = await ctx.ch.query<{ c: string }>(sql`SELECT count() AS c FROM big WHERE n = ${uint64(2n ** 53n + 1n)}`);
    expect(hit.c).toBe('1');
  });

  it('surfaces server errors with their code and message', async () => {
    const unknown = await ctx.ch.query('SELECT * FROM no_such_table').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ClickHouseError);
    expect((unknown as ClickHouseError).code).toBe(60);
    expect((unknown as ClickHouseError).message).toMatch(/no_such_table/);

    const syntax = await ctx.ch.command('CREATE TABLE (').catch((e: unknown) => e);
    expect(syntax).toBeInstanceOf(ClickHouseError);
    expect((syntax as ClickHouseError).code).toBe(62);

    await ctx.ch.command('CREATE TABLE typed (n UInt64) ENGINE = MergeTree ORDER BY n');
    const badData = await ctx.ch.insert('typed', [{ n: 'not a number' }]).catch((e: unknown) => e);
    expect(badData).toBeInstanceOf(ClickHouseError);
    expect((badData as ClickHouseError).code).toBe(27); // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  });

  it('reports an error thrown half-way through a result instead of returning a truncated one', async () => {
    // Without wait_end_of_query the server has already sent 200 and many rows when this throws.
    const error = await ctx.ch
      .query('SELECT number, throwIf(number = 150000) AS boom FROM system.numbers LIMIT 200000')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClickHouseError);
    expect((error as ClickHouseError).code).toBe(395); // FUNCTION_THROW_IF_VALUE_IS_NON_ZERO
  });

  it('stores and compares hostile strings exactly (escaping agrees with the server)', async () => {
    await ctx.ch.command('CREATE TABLE strings (id UInt8, s String) ENGINE = MergeTree ORDER BY id');
    const hostile = ["'", '\\', "\\'", "'; DROP TABLE strings; --", 'line\nbreak\r\n', 'nul\0byte', 'tab\tand\x01\x7f', '😀 ünï', ''];
    await ctx.ch.insert(
      'strings',
      hostile.map((s, id) => ({ id, s })),
    );
    for (const [id, s] of hostile.entries()) {
      const rows = await ctx.ch.query<{ id: number }>(sql`SELECT id FROM strings WHERE s = ${str(s)}`);
      expect(rows, JSON.stringify(s)).toEqual([{ id }]);
      const [echo] = await ctx.ch.query<{ v: string }>(sql`SELECT ${str(s)} AS v`);
      expect(echo.v).toBe(s);
    }
    const [count] = await ctx.ch.query<{ c: string }>(sql`SELECT count() AS c FROM ${ident('strings')}`);
    expect(count.c).toBe(String(hostile.length));
  });

  it('authenticates a user with a password and rejects a wrong one', async () => {
    const good = createClickHouse({ url: ctx.server.url, database: ctx.database, username: 'reader', password: READER_PASSWORD });
    const bad = createClickHouse({ url: ctx.server.url, database: ctx.database, username: 'reader', password: 'wrong' });
    try {
      // 18.16 has no currentUser(); the query sees itself in system.processes.
      const rows = await good.query("SELECT user AS u FROM system.processes WHERE query LIKE '%auth-marker%'");
      expect(rows).toEqual([{ u: 'reader' }]);
      const error = await bad.query('SELECT 1').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClickHouseError);
      expect((error as ClickHouseError).code).toBe(193); // WRONG_PASSWORD
    } finally {
      await good.close();
      await bad.close();
    }
  });

  it('times out a slow request as a connection error', async () => {
    const impatient = createClickHouse({ url: ctx.server.url, database: ctx.database, requestTimeoutMs: 300 });
    try {
      const started = Date.now();
      const error = await impatient.query('SELECT sleep(2)').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ClickHouseConnectionError);
      expect(Date.now() - started).toBeLessThan(1_900);
    } finally {
      await impatient.close();
    }
  });

  it('reports an unreachable server as a connection error, and ping() as false', async () => {
    const nowhere = createClickHouse({ url: 'http://127.0.0.1:1', database: 'default', requestTimeoutMs: 2_000 });
    try {
      expect(await nowhere.ping()).toBe(false);
      await expect(nowhere.query('SELECT 1')).rejects.toBeInstanceOf(ClickHouseConnectionError);
      await expect(nowhere.serverVersion()).rejects.toBeInstanceOf(ClickHouseConnectionError);
    } finally {
      await nowhere.close();
    }
  });

  it('refuses bad table and database names before sending anything', async () => {
    await expect(ctx.ch.insert('usage_1m; DROP TABLE x', [{ a: 1 }])).rejects.toThrow(/not a plain identifier/);
    expect(() => createClickHouse({ url: ctx.server.url, database: 'a-b' })).toThrow(/not a plain identifier/);
  });
});
