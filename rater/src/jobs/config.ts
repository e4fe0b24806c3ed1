/**
 * The rater process's configuration from the environment. Store locations use the
 * shared definitions (same names and defaults as the collector and the API); a wrong
 * value stops start-up with a ConfigError naming the variable.
 */
import { envBool, envInt, parseEnv, storesSchema } from '@flowbill/shared/config/index';
import { z } from 'zod';

const hoursList = z
  .string()
  .optional()
  .transform((value, context) => {
    const text = value ?? '24,168';
    const hours = text.split(',').map((part) => Number(part.trim()));
    if (hours.length === 0 || hours.some((h) => !Number.isInteger(h) || h < 0 || h > 24 * 400)) {
      context.addIssue({ code: 'custom', message: 'expected comma-separated whole hours, e.g. "24,168"' });
      return z.NEVER;
    }
    return [...new Set(hours)].sort((a, b) => a - b);
  });

export const raterConfigSchema = storesSchema.extend({
  /** How long after a period's close its draft invoice waits for late usage before it is finalized. */
  RATER_GRACE_HOURS: envInt(0, 24 * 31, 72),
  /** Hours after finalization at which usage that arrived late is billed (one check each). */
  RATER_LATE_USAGE_HOURS: hoursList,
  /** The scheduler's tick: accrual of every active subscriber's open period. */
  RATER_ACCRUAL_MINUTES: envInt(1, 24 * 60, 15),
  /** Subscribers per scheduler page (one addBulk each). */
  RATER_FANOUT_CHUNK: envInt(10, 100_000, 1_000),
  /** Jobs run at once per queue in this process. */
  RATER_CONCURRENCY: envInt(1, 256, 4),
  RATER_ATTEMPTS: envInt(1, 100, 8),
  /** First retry delay; doubled per attempt (8 attempts at 10 s span about 21 minutes). */
  RATER_BACKOFF_MS: envInt(10, 3_600_000, 10_000),
  /** A dead worker's job is picked up by another about this long after it died. */
  RATER_LOCK_MS: envInt(1_000, 600_000, 30_000),
  RATER_STALLED_INTERVAL_MS: envInt(500, 600_000, 30_000),
  /** Stalls (worker deaths mid-job) after which the job is failed rather than run again. */
  RATER_MAX_STALLED: envInt(0, 100, 2),
  /** Whether this process also runs the scheduler (any number of processes may). */
  RATER_SCHEDULER: envBool(true),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'expected fatal, error, warn, info, debug, trace or silent' })
    .default('info'),
});

export type RaterConfig = z.infer<typeof raterConfigSchema>;

export function loadRaterConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): RaterConfig {
  return parseEnv(raterConfigSchema, env);
}
