/**
 * Bounded waiting for the end-to-end tests: every wait has a deadline and, when it runs
 * out, an error saying what was awaited and what was last seen.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** Poll interval (default 100 ms). */
  readonly intervalMs?: number;
}

/**
 * Poll `check` until it returns true. A check that throws counts as "not yet" (a store
 * that is restarting), and its last error is part of the timeout message.
 * `describe` tells what the state was when the time ran out.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: WaitOptions & { describe?: () => string | Promise<string> },
): Promise<void> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      let state = '';
      try {
        state = options.describe ? `; last state: ${await options.describe()}` : '';
      } catch (error) {
        state = `; state unavailable: ${(error as Error).message}`;
      }
      const failure = lastError === undefined ? '' : `; last error: ${(lastError as Error).message}`;
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what}${state}${failure}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/**
 * Read `read` until its value (compared as JSON, bigints as text) has not changed for
 * `quietMs`; returns that value. Errors while reading restart the quiet period.
 */
export async function waitForStable<T>(what: string, read: () => Promise<T>, options: WaitOptions & { quietMs: number }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  let last: string | undefined;
  let lastValue: T | undefined;
  let since = Date.now();
  let lastError: unknown;
  for (;;) {
    try {
      const value = await read();
      const text = stableJson(value);
      if (text !== last) {
        last = text;
        lastValue = value;
        since = Date.now();
      } else if (Date.now() - since >= options.quietMs) {
        return lastValue as T;
      }
      lastError = undefined;
    } catch (error) {
      lastError = error;
      last = undefined;
      since = Date.now();
    }
    if (Date.now() >= deadline) {
      const failure = lastError === undefined ? '' : `; last error: ${(lastError as Error).message}`;
      throw new Error(`timed out after ${options.timeoutMs} ms waiting for ${what} to stay unchanged for ${options.quietMs} ms; last value: ${last}${failure}`);
    }
    await sleep(options.intervalMs ?? 100);
  }
}

/** JSON with bigints as decimal strings. */
export function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** `promise`, or an error naming `what` after `timeoutMs`. */
export async function withDeadline<T>(what: string, promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
