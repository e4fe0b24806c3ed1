/** Capped exponential backoff with jitter, and a sleep that an AbortSignal cuts short. */

export interface BackoffOptions {
  /** Delay after the first failure (ms). */
  readonly initialMs: number;
  /** Upper bound of any delay (ms). */
  readonly maxMs: number;
}

/**
 * Delay before attempt `failures + 1`: initial x 2^(failures-1), capped, minus up to 20 %
 * jitter so that collectors retrying against one restarted Redis do not arrive in step.
 */
export function backoffDelay(failures: number, options: BackoffOptions, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(failures - 1, 0), 30);
  const base = Math.min(options.maxMs, options.initialMs * 2 ** exponent);
  return Math.max(0, Math.round(base * (1 - 0.2 * random())));
}

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * `promise`, or a TimeoutError after `ms`. The operation itself goes on (a Redis command
 * cannot be recalled); its late result is ignored, which is why everything retried after a
 * timeout here is idempotent.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
