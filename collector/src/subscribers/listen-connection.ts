/**
 * A dedicated PostgreSQL connection that LISTENs on one channel and comes back by
 * itself after the server restarts or the connection is cut.
 *
 * Dedicated because LISTEN belongs to a session: a pooled connection would hand the
 * subscription to whoever borrows it next and lose it when the pool recycles it.
 * Notifications sent while disconnected are lost, so every (re)connection is reported
 * through onListening and the owner reloads from the table then.
 */
import pg from 'pg';
import { describeDatabaseError } from '@flowbill/shared/postgres/index';

export interface ListenConnectionOptions {
  readonly url: string;
  readonly channel: string;
  readonly onNotification: (payload: string | undefined) => void;
  /** After LISTEN succeeded: the first time and after every reconnection. */
  readonly onListening: () => void;
  readonly log?: (message: string) => void;
  /** First retry delay (default 250 ms), doubled per failed attempt up to maxDelayMs (default 30 s). */
  readonly minDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Shown in pg_stat_activity. */
  readonly applicationName?: string;
}

export class ListenConnection {
  private client: pg.Client | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private failedAttempts = 0;
  private everListened = false;
  private stopped = false;
  private readonly lost = new WeakSet<pg.Client>();
  /** Times the connection was lost after having listened. */
  disconnects = 0;

  constructor(private readonly options: ListenConnectionOptions) {}

  get listening(): boolean {
    return this.client !== undefined;
  }

  /** Connect and LISTEN; resolves after the first attempt, true if it succeeded (retries continue either way). */
  start(): Promise<boolean> {
    this.stopped = false;
    return this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    if (client !== undefined) {
      this.lost.add(client);
      await client.end().catch(() => {});
    }
  }

  private async connect(): Promise<boolean> {
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: this.options.applicationName ?? 'flowbill-listen',
      connectionTimeoutMillis: 10_000,
      // A connection silently cut (no RST) is only noticed by TCP keepalive.
      keepAlive: true,
    });
    // Listeners go on before connect(): an 'error' event without one crashes the process.
    client.on('error', (error) => this.connectionLost(client, error));
    client.on('end', () => this.connectionLost(client, new Error('the server closed the connection')));
    client.on('notification', (message) => {
      if (message.channel === this.options.channel && this.client === client) this.options.onNotification(message.payload);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(this.options.channel)}`);
    } catch (error) {
      this.connectionLost(client, error as Error);
      return false;
    }
    if (this.stopped || this.lost.has(client)) {
      await client.end().catch(() => {});
      return false;
    }
    this.client = client;
    this.failedAttempts = 0;
    if (this.everListened) this.options.log?.(`listening on ${this.options.channel} again`);
    this.everListened = true;
    this.options.onListening();
    return true;
  }

  /** Called for 'error', 'end' and failed attempts alike; acts once per client. */
  private connectionLost(client: pg.Client, error: Error): void {
    if (this.lost.has(client)) return;
    this.lost.add(client);
    client.end().catch(() => {});
    if (this.client === client) {
      this.client = undefined;
      this.disconnects++;
    }
    if (this.stopped) return;
    const delay = this.nextDelay();
    this.options.log?.(`LISTEN ${this.options.channel}: ${describeDatabaseError(error)}; reconnecting in ${delay} ms`);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }

  /**
   * Exponential backoff with jitter: after a database restart every collector would
   * otherwise reconnect (and reload) in the same instant.
   */
  private nextDelay(): number {
    const min = this.options.minDelayMs ?? 250;
    const max = this.options.maxDelayMs ?? 30_000;
    const base = Math.min(max, min * 2 ** Math.min(this.failedAttempts, 20));
    this.failedAttempts++;
    return Math.round(base / 2 + (Math.random() * base) / 2);
  }
}
