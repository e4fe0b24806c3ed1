/**
 * Keeps a collector's SubscriberIndex in step with ip_assignments: reloads when the
 * table's trigger NOTIFYs `ip_assignments_changed`, after every (re)connection of the
 * listener, and every reloadIntervalMs regardless (a notification can be lost while
 * the listener is reconnecting). Each successful reload builds a complete new index
 * and hands it to onIndex, typically `attributor.replaceSubscriberIndex(index)`.
 *
 * A reload that fails (database unreachable, or rows SubscriberIndex.build rejects)
 * hands nothing over: the index in use stays in use, the failure is logged and
 * counted in stats(), and the next trigger tries again.
 */
import { describeDatabaseError } from '@flowbill/shared/postgres/index';
import type pg from 'pg';
import { SubscriberIndex } from '../attribution/index.js';
import { ListenConnection } from './listen-connection.js';
import { loadSubscriberAssignments } from './repository.js';

export const ASSIGNMENTS_CHANNEL = 'ip_assignments_changed';

export type ReloadReason = 'start' | 'notification' | 'listening' | 'periodic' | 'manual';

export interface AssignmentWatcherOptions {
  /** Loads assignments. */
  readonly pool: pg.Pool;
  /** Same database as `pool`, for the dedicated LISTEN connection. */
  readonly databaseUrl: string;
  readonly onIndex: (index: SubscriberIndex, info: { readonly assignments: number; readonly reason: ReloadReason }) => void;
  /** Reload this often even without notifications (default 60 s). */
  readonly reloadIntervalMs?: number;
  /**
   * Wait this long after a notification before reloading (default 200 ms), so a burst
   * of single changes costs one reload. Measured from the first notification, not the
   * last: a steady trickle of changes still reloads at least this often.
   */
  readonly debounceMs?: number;
  /** Listener reconnection backoff (defaults 250 ms .. 30 s). */
  readonly reconnectMinDelayMs?: number;
  readonly reconnectMaxDelayMs?: number;
  readonly log?: (message: string) => void;
}

export interface AssignmentWatcherStats {
  /** Reloads that delivered an index. */
  readonly reloads: number;
  /** Periodic reloads that found the same rows as the index in use (nothing built). */
  readonly unchangedReloads: number;
  /** Reloads that failed; the previous index stayed in use. */
  readonly failedReloads: number;
  readonly lastError: string | null;
  readonly lastReloadAt: Date | null;
  /** Rows in the index in use (0 before the first successful reload). */
  readonly assignments: number;
  readonly notifications: number;
  readonly listening: boolean;
  /** Times the listener connection was lost. */
  readonly listenerDisconnects: number;
}

export class AssignmentWatcher {
  private readonly listener: ListenConnection;
  private debounceTimer: NodeJS.Timeout | undefined;
  private periodicTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<boolean> | undefined;
  private rerun: ReloadReason | undefined;
  private stopped = true;
  private firstListenAttemptDone = false;
  private counters = { reloads: 0, unchangedReloads: 0, failedReloads: 0, notifications: 0, assignments: 0 };
  private lastError: string | null = null;
  private lastReloadAt: Date | null = null;

  constructor(private readonly options: AssignmentWatcherOptions) {
    this.listener = new ListenConnection({
      url: options.databaseUrl,
      channel: ASSIGNMENTS_CHANNEL,
      applicationName: 'flowbill-assignment-watcher',
      minDelayMs: options.reconnectMinDelayMs,
      maxDelayMs: options.reconnectMaxDelayMs,
      log: options.log,
      onNotification: () => this.onNotification(),
      // Changes made while the listener was away were never announced. The connection
      // made inside start() is followed by start()'s own load; any later one (also a
      // first connection that only succeeded on a retry) needs a reload.
      onListening: () => {
        if (this.firstListenAttemptDone) void this.reload('listening');
      },
    });
  }

  /**
   * LISTEN first, then load, so no change can fall between the two. Resolves true when
   * the first index was delivered; when not, retries go on (listener reconnection,
   * periodic reload) and the caller decides whether to run without one meanwhile.
   */
  async start(): Promise<boolean> {
    this.stopped = false;
    this.firstListenAttemptDone = false;
    await this.listener.start();
    this.firstListenAttemptDone = true;
    const loaded = await this.reload('start');
    if (!this.stopped) {
      this.periodicTimer = setInterval(() => void this.reload('periodic'), this.options.reloadIntervalMs ?? 60_000);
      this.periodicTimer.unref();
    }
    return loaded;
  }

  /**
   * Reload now. A call during a reload does not start a second query in parallel: it
   * makes the running one go once more when done, and resolves with that result.
   */
  reload(reason: ReloadReason = 'manual'): Promise<boolean> {
    if (this.inFlight !== undefined) {
      this.rerun = reason;
      return this.inFlight;
    }
    this.inFlight = this.reloadUntilQuiet(reason).finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  stats(): AssignmentWatcherStats {
    return {
      ...this.counters,
      lastError: this.lastError,
      lastReloadAt: this.lastReloadAt,
      listening: this.listener.listening,
      listenerDisconnects: this.listener.disconnects,
    };
  }

  /** Stop listening and reloading; waits for a reload in progress (whose result is dropped). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.debounceTimer);
    clearInterval(this.periodicTimer);
    this.debounceTimer = undefined;
    this.periodicTimer = undefined;
    await this.listener.stop();
    await this.inFlight;
  }

  private onNotification(): void {
    this.counters.notifications++;
    if (this.debounceTimer !== undefined || this.stopped) return;
    this.debounceTimer = setTimeout(() => {
      this.debounceTimer = undefined;
      void this.reload('notification');
    }, this.options.debounceMs ?? 200);
    this.debounceTimer.unref();
  }

  private async reloadUntilQuiet(reason: ReloadReason): Promise<boolean> {
    let next: ReloadReason | undefined = reason;
    let delivered = false;
    while (next !== undefined && !this.stopped) {
      this.rerun = undefined;
      delivered = await this.reloadOnce(next);
      next = this.rerun;
    }
    return delivered;
  }

  /** The rows the index in use was built from, as text (see reloadOnce). */
  private lastRowsText: string | null = null;

  private async reloadOnce(reason: ReloadReason): Promise<boolean> {
    let index: SubscriberIndex;
    let rowsText: string;
    try {
      const rows = await loadSubscriberAssignments(this.options.pool);
      // The periodic reload finds nothing new almost every time, and building an index of
      // 100,000 rows takes about a second of the collector's main thread: skip it then.
      rowsText = rows.map((r) => `${r.subscriberId}\t${r.prefix}\t${r.validFrom}\t${r.validTo}`).join('\n');
      if (reason === 'periodic' && rowsText === this.lastRowsText) {
        this.counters.unchangedReloads++;
        this.lastReloadAt = new Date();
        return true;
      }
      index = SubscriberIndex.build(rows);
    } catch (error) {
      this.counters.failedReloads++;
      this.lastError = describeDatabaseError(error);
      this.options.log?.(`subscriber assignments not reloaded (${reason}), keeping the index in use: ${this.lastError}`);
      return false;
    }
    if (this.stopped) return false;
    try {
      this.options.onIndex(index, { assignments: index.assignmentCount, reason });
    } catch (error) {
      // Reloads mostly run from timers, where a throw would be an unhandled rejection
      // that ends the process; a failing callback is reported like a failing reload.
      this.counters.failedReloads++;
      this.lastError = `onIndex failed: ${describeDatabaseError(error)}`;
      this.options.log?.(`subscriber index not applied (${reason}): ${this.lastError}`);
      return false;
    }
    this.counters.reloads++;
    this.lastRowsText = rowsText;
    this.counters.assignments = index.assignmentCount;
    this.lastReloadAt = new Date();
    return true;
  }
}
