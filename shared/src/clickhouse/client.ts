/**
 * A thin client over ClickHouse's HTTP interface that works on 18.16 and current servers.
 *
 * Built on @clickhouse/client (pinned; see README "Client decision"), restricted to what
 * 18.16 understands: no query parameters, no compression, no settings, JSONEachRow in
 * both directions. What this wrapper adds:
 * - 18.16's error format ("Code: 60, e.displayText() = ...") parsed into ClickHouseError
 *   with its code; the library only parses the 21.x+ format.
 * - `wait_end_of_query=1` on reads, so an error half-way through a result arrives as an
 *   HTTP error instead of a truncated body behind a 200.
 * - bigint accepted on insert (sent as decimal strings). 64-bit integers come back as JSON
 *   strings under the server default output_format_json_quote_64bit_integers=1; queries
 *   whose numbers must be exact whatever a user profile says select toString(...).
 */
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { ClickHouseConnectionError, statementContext, toClickHouseError } from './errors.js';
import { ident, sqlText, type SqlFragment } from './sql.js';
import { parseServerVersion, type ServerVersion } from './version.js';

export interface ClickHouseConfig {
  /** http(s)://host:port of the HTTP interface. */
  readonly url: string;
  readonly database: string;
  readonly username?: string;
  readonly password?: string;
  /** Per request, including streaming the result (default 30 s). */
  readonly requestTimeoutMs?: number;
  /** Sockets kept per host (default 10). */
  readonly maxOpenConnections?: number;
}

export interface ClickHouse {
  readonly database: string;
  /** Rows of a SELECT (do not add a FORMAT clause). 64-bit integers come back as strings. */
  query<T = Record<string, unknown>>(statement: string | SqlFragment): Promise<T[]>;
  /** A statement without a result (DDL, INSERT ... SELECT, ALTER). */
  command(statement: string | SqlFragment): Promise<void>;
  /**
   * One `INSERT INTO table FORMAT JSONEachRow`, rows streamed in the body. bigint values
   * are sent as decimal strings, which ClickHouse parses into (U)Int64 exactly.
   * One INSERT below max_insert_block_size rows (1,048,576) is written as one block.
   */
  insert(table: string, rows: readonly object[]): Promise<void>;
  /** True when GET /ping answers "Ok."; never throws. */
  ping(): Promise<boolean>;
  /** `SELECT version()`, parsed; cached after the first call. */
  serverVersion(): Promise<ServerVersion>;
  /** A client with the same connection settings on another database (close it too). */
  withDatabase(database: string): ClickHouse;
  close(): Promise<void>;
}

export function createClickHouse(config: ClickHouseConfig): ClickHouse {
  ident(config.database); // validated here so a bad name fails at startup, not on first use
  const client = createClient({
    url: config.url,
    database: config.database,
    username: config.username ?? 'default',
    password: config.password ?? '',
    request_timeout: config.requestTimeoutMs ?? 30_000,
    max_open_connections: config.maxOpenConnections ?? 10,
    application: 'flowbill',
    // Response gzip works on 18.16, but it makes the library send the setting
    // enable_http_compression=1, which a readonly=1 user is refused (code 164).
    compression: { request: false, response: false },
    // 2.5 s idle TTL stays under the 3 s keep_alive_timeout of 18.16's packaged config.
    keep_alive: { enabled: true, idle_socket_ttl: 2_500 },
    // No clickhouse_settings at all: a readonly=1 user (the API's, typically) may not change
    // any, and 18.16 rejects settings it does not know. wait_end_of_query below is an HTTP
    // handler parameter, not a setting, so readonly users may send it.
    // Logging off: every failure is thrown to the caller, who decides whether to log it.
    log: { level: ClickHouseLogLevel.OFF },
    json: { parse: JSON.parse, stringify: stringifyRow },
  });
  return wrap(client, config);
}

function wrap(client: ClickHouseClient, config: ClickHouseConfig): ClickHouse {
  let version: Promise<ServerVersion> | undefined;
  let closed = false;
  const ensureOpen = (operation: string) => {
    if (closed) throw new ClickHouseConnectionError(`${operation}: client is closed`);
  };

  const query = async <T>(statement: string | SqlFragment): Promise<T[]> => {
    ensureOpen('query');
    const text = sqlText(statement);
    try {
      const result = await client.query({
        query: text,
        format: 'JSONEachRow',
        clickhouse_settings: { wait_end_of_query: 1 },
      });
      return await result.json<T>();
    } catch (error) {
      throw toClickHouseError(error, statementContext('query', text));
    }
  };

  return {
    database: config.database,
    query,
    async command(statement) {
      ensureOpen('command');
      const text = sqlText(statement);
      try {
        await client.command({ query: text, clickhouse_settings: { wait_end_of_query: 1 } });
      } catch (error) {
        throw toClickHouseError(error, statementContext('command', text));
      }
    },
    async insert(table, rows) {
      ensureOpen('insert');
      const target = ident(table).text;
      if (rows.length === 0) return;
      try {
        await client.insert({
          table: target,
          // A stream, so a 50k-row batch is serialised row by row instead of as one big string.
          values: Readable.from(rows, { objectMode: true }),
          format: 'JSONEachRow',
        });
      } catch (error) {
        throw toClickHouseError(error, `insert into ${target} (${rows.length} rows)`);
      }
    },
    async ping() {
      if (closed) return false;
      try {
        const result = await client.ping();
        return result.success;
      } catch {
        return false;
      }
    },
    serverVersion() {
      version ??= query<{ version: string }>('SELECT version() AS version').then(
        (rows) => parseServerVersion(rows[0].version),
        (error: unknown) => {
          version = undefined; // a failed lookup (server down) is retried next call
          throw error;
        },
      );
      return version;
    },
    withDatabase(database) {
      return createClickHouse({ ...config, database });
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.close();
    },
  };
}

/** JSON for one row; bigint becomes a decimal string (JSON.stringify throws on bigint). */
function stringifyRow(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}
