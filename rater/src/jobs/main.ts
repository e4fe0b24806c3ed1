/**
 * The rater worker process: configuration from the environment, PostgreSQL, ClickHouse,
 * the billing service, one BullMQ worker per rating queue and (unless RATER_SCHEDULER=false)
 * the scheduler. Schema migrations are not run here (the migration step owns them).
 *
 * SIGINT/SIGTERM: stop taking jobs, let active jobs finish, close the pools, exit 0. A
 * second signal exits at once; a job it interrupts is retried by another worker after
 * its lock expires (RATER_LOCK_MS), as after a crash.
 */
import { createClickHouse } from '@flowbill/shared/clickhouse/index';
import { ConfigError } from '@flowbill/shared/config/index';
import { createPool, redactDatabaseUrl } from '@flowbill/shared/postgres/index';
import { pino } from 'pino';
import { BillingService } from '../billing/index.js';
import { billingHandlers } from './billing-handlers.js';
import { loadRaterConfig, type RaterConfig } from './config.js';
import { postgresSubscriberSource } from './postgres-subscribers.js';
import { startRaterRuntime } from './runtime.js';

/** Longest billing period (31 days) plus slack: a subscription ended within it may still need its last period closed. */
const LONGEST_PERIOD_MS = 32 * 24 * 3_600_000;

async function main(): Promise<void> {
  let config: RaterConfig;
  try {
    config = loadRaterConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`flowbill rater: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }

  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'flowbill-rater' } });
  const pool = createPool(config.DATABASE_URL, {
    applicationName: 'flowbill-rater',
    // Each active job holds one connection for its transaction; the scheduler needs one more.
    max: config.RATER_CONCURRENCY * 6 + 2,
    onIdleError: (err) => logger.warn({ err }, 'idle PostgreSQL connection failed'),
  });
  const clickhouse = createClickHouse({ url: config.CLICKHOUSE_URL, database: config.CLICKHOUSE_DATABASE });
  const service = new BillingService({ pool, clickhouse });
  const graceMs = config.RATER_GRACE_HOURS * 3_600_000;

  const runtime = await startRaterRuntime({
    config,
    handlers: () => billingHandlers(service, { graceMs, lateUsageHours: config.RATER_LATE_USAGE_HOURS }),
    subscribers: postgresSubscriberSource(pool, { endedWithinMs: LONGEST_PERIOD_MS + graceMs }),
    log: logger,
  });

  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second stop signal: exiting now; interrupted jobs run again after their lock expires');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: finishing active jobs');
    void (async () => {
      try {
        await runtime.close();
        await Promise.allSettled([pool.end(), clickhouse.close()]);
        logger.info('stopped');
        process.exitCode = 0;
      } catch (err) {
        logger.error({ err }, 'error while stopping');
        process.exitCode = 1;
      }
    })();
  };
  // on(), not once(): a second signal must reach stop() to force the exit.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  logger.info(
    {
      database: redactDatabaseUrl(config.DATABASE_URL),
      clickhouse: config.CLICKHOUSE_URL,
      queuePrefix: runtime.queues.prefix,
      concurrency: config.RATER_CONCURRENCY,
      scheduler: config.RATER_SCHEDULER,
      graceHours: config.RATER_GRACE_HOURS,
    },
    'flowbill rater ready',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`flowbill rater: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
