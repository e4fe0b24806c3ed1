/**
 * `rater` admin CLI (commander): failed jobs with their errors, retrying one, queue
 * counts, and requesting a re-rate. Connects to REDIS_URL with the queues under
 * REDIS_PREFIX, the same variables the worker process reads.
 *
 *   rater jobs failed [--queue close] [--limit 50] [--json]
 *   rater jobs retry <queue> <jobId>
 *   rater jobs counts [--json]
 *   rater rerate <subscriber> <period> --reason "tariff corrected" [--request-id ID]
 *
 * Exit status: 0 done, 1 the operation failed (Redis down, no such job), 2 bad usage or
 * configuration.
 */
import { ConfigError, loadStoresConfig } from '@flowbill/shared/config/index';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { listFailedJobs, requestRerate, retryFailedJob, type FailedJob } from './admin.js';
import { createBullConnection, ratingQueuePrefix } from './connection.js';
import { loadRaterConfig } from './config.js';
import { JOB_KINDS, QUEUE_NAMES, type JobKind } from './job-types.js';
import { RatingQueues } from './rating-queues.js';

export interface CliIo {
  readonly env: Record<string, string | undefined>;
  out(text: string): void;
  err(text: string): void;
}

/** Accepts a kind (`close`, `lateUsage`) or a queue name (`rating-close`, `rating-late-usage`). */
function parseKind(value: string): JobKind {
  const kind = JOB_KINDS.find((k) => k === value || QUEUE_NAMES[k] === value || QUEUE_NAMES[k] === `rating-${value}`);
  if (!kind) throw new InvalidArgumentError(`expected one of ${JOB_KINDS.join(', ')} (or a queue name: ${Object.values(QUEUE_NAMES).join(', ')})`);
  return kind;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function formatFailed(job: FailedJob): string {
  return [
    `${job.queue}  ${job.jobId}  failed ${job.failedAt ?? '?'} after ${job.attemptsMade}/${job.attempts} attempts`,
    `  data:  ${JSON.stringify(job.data)}`,
    `  error: ${job.failedReason}`,
  ].join('\n');
}

class OperationError extends Error {}

/** Run the CLI; resolves to the exit status. */
export async function runRaterCli(argv: readonly string[], io: CliIo): Promise<number> {
  let queues: RatingQueues | undefined;
  let closeConnection = () => {};
  const openQueues = (): RatingQueues => {
    if (queues) return queues;
    const stores = loadStoresConfig(io.env);
    // Retry settings of the worker config, so a re-rate added here retries like any other job.
    const config = loadRaterConfig(io.env);
    const connection = createBullConnection(stores.REDIS_URL, { failFast: true });
    closeConnection = () => connection.disconnect();
    queues = new RatingQueues({ connection, prefix: ratingQueuePrefix(stores.REDIS_PREFIX), retry: { attempts: config.RATER_ATTEMPTS, backoffMs: config.RATER_BACKOFF_MS } });
    return queues;
  };

  const program = new Command()
    .name('rater')
    .description('flowbill rater: rating job administration')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err });

  const jobs = program.command('jobs').description('inspect and repair the rating queues');
  jobs
    .command('failed')
    .description('failed jobs (all attempts used) with their last error, newest first')
    .addOption(new Option('--queue <kind>', 'only this queue').argParser(parseKind))
    .option('--limit <n>', 'at most this many per queue', positiveInt, 100)
    .option('--json', 'one JSON array, with stacks', false)
    .action(async (options: { queue?: JobKind; limit: number; json: boolean }) => {
      const failed = await listFailedJobs(openQueues(), { kinds: options.queue ? [options.queue] : undefined, limit: options.limit });
      if (options.json) io.out(`${JSON.stringify(failed, null, 2)}\n`);
      else io.out(failed.length === 0 ? 'no failed jobs\n' : `${failed.map(formatFailed).join('\n')}\n${failed.length} failed job(s)\n`);
    });
  jobs
    .command('retry')
    .description('move a failed job back to waiting with fresh attempts')
    .argument('<queue>', 'kind or queue name', parseKind)
    .argument('<jobId>', 'as shown by "jobs failed"')
    .action(async (kind: JobKind, jobId: string) => {
      if (!(await retryFailedJob(openQueues(), kind, jobId))) throw new OperationError(`no failed job ${jobId} in ${QUEUE_NAMES[kind]}`);
      io.out(`retrying ${QUEUE_NAMES[kind]} ${jobId}\n`);
    });
  jobs
    .command('counts')
    .description('jobs per queue and state')
    .option('--json', 'JSON instead of a table', false)
    .action(async (options: { json: boolean }) => {
      const states = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
      const counts: Record<string, Record<string, number>> = {};
      for (const kind of JOB_KINDS) counts[QUEUE_NAMES[kind]] = await openQueues().queue(kind).getJobCounts(...states);
      if (options.json) return io.out(`${JSON.stringify(counts, null, 2)}\n`);
      io.out(`${'queue'.padEnd(20)}${states.map((s) => s.padStart(11)).join('')}\n`);
      for (const [queue, row] of Object.entries(counts)) io.out(`${queue.padEnd(20)}${states.map((s) => String(row[s] ?? 0).padStart(11)).join('')}\n`);
    });

  program
    .command('rerate')
    .description('re-rate a subscriber\'s period (credit note + corrected invoice if the amounts changed)')
    .argument('<subscriber>', 'subscriber id')
    .argument('<period>', 'billing period, YYYY-MM')
    .requiredOption('--reason <text>', 'why (kept with the credit note)')
    .option('--request-id <id>', 'names this request; default: derived from subscriber, period and reason, so the same request twice runs once')
    .action(async (subscriberId: string, periodKey: string, options: { reason: string; requestId?: string }) => {
      const outcome = await requestRerate(openQueues(), { subscriberId, periodKey, reason: options.reason, requestId: options.requestId });
      io.out(
        outcome.existing === null
          ? `queued ${QUEUE_NAMES.rerate} ${outcome.jobId}\n`
          : `already requested: ${QUEUE_NAMES.rerate} ${outcome.jobId} is ${outcome.existing} (pass another --request-id to re-rate again)\n`,
      );
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof ConfigError) {
      io.err(`rater: ${error.message}\n`);
      return 2;
    }
    // zod errors from a bad subscriber id, period or reason are usage errors too.
    if (error instanceof Error && error.name === 'ZodError') {
      io.err(`rater: invalid arguments: ${(error as { issues?: { message: string }[] }).issues?.map((i) => i.message).join('; ') ?? error.message}\n`);
      return 2;
    }
    io.err(`rater: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  } finally {
    await queues?.close().catch(() => {});
    closeConnection();
  }
}
