/**
 * The one way flowbill code opens PostgreSQL connections: a `pg` pool with the
 * settings every component needs, so none of them has to remember them.
 */
import pg from 'pg';

/** What a repository function needs: a pool, or a client inside a transaction. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

export interface CreatePoolOptions {
  /** Most connections held at once (pg's default is 10). */
  readonly max?: number;
  /** Shown in pg_stat_activity, so an operator can tell collectors from the API. */
  readonly applicationName?: string;
  /** Give up connecting after this long (default 10 s); pg's own default waits forever. */
  readonly connectionTimeoutMs?: number;
  /**
   * Called when an idle pooled connection fails (server restart, network cut). The
   * pool drops that connection and opens a new one when next needed. Default: ignore,
   * because the next query reports the outage anyway.
   */
  readonly onIdleError?: (error: Error) => void;
}

export function createPool(url: string, options: CreatePoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'flowbill',
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
  });
  // An 'error' event without a listener would crash the process on the first server restart.
  pool.on('error', (error) => options.onIdleError?.(error));
  return pool;
}

/** `url` with any password replaced by "***", for log lines and error messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a URL (a libpq key=value string); say nothing rather than leak a password.
    return '(unparseable database URL)';
  }
}
