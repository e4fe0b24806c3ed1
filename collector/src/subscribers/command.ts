/**
 * `subscribers`: the non-interactive operator CLI over the repository (see README.md in
 * this folder). The entry point is cli.ts; this module holds the logic so tests drive
 * it in-process. Exit codes: 0 done, 1 data or database error (message on stderr),
 * 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { createPool, describeDatabaseError, migratePostgres, redactDatabaseUrl } from '@flowbill/shared/postgres/index';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import type pg from 'pg';
import { createApiKey, revokeApiKey } from './api-keys.js';
import { importAssignmentsCsv } from './csv-import.js';
import { OPTIONAL_COLUMNS, REQUIRED_COLUMNS } from './csv-assignments.js';
import { csvLine } from './csv-text.js';
import { AssignmentConflictError, SubscriberDataError } from './errors.js';
import { parseIsoInstant } from './iso-time.js';
import { type AssignPrefixResult, assignPrefix, describeAssignment, endAssignment, listAssignments, upsertSubscriber } from './repository.js';
import { prefixSchema, subscriberIdSchema } from './validation.js';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/flowbill';

/** SQLSTATE for "database does not exist". */
const INVALID_CATALOG_NAME = '3D000';

export interface SubscribersCliIo {
  out(text: string): void;
  err(text: string): void;
  /** For DATABASE_URL; default process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /** The default for --from and --at; default the clock. */
  readonly now?: () => Date;
}

/** Raised inside actions for problems that are the operator's input, not the data. */
class UsageError extends Error {}

function timeArgument(text: string): Date {
  try {
    return parseIsoInstant(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function prefixArgument(text: string): string {
  const parsed = prefixSchema.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues.map((issue) => issue.message).join('; '));
  return parsed.data;
}

function subscriberIdArgument(text: string): string {
  const parsed = subscriberIdSchema.safeParse(text);
  if (!parsed.success) throw new InvalidArgumentError(`"${text}": ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
  return parsed.data;
}

/** Runs the CLI; resolves to the process exit code. */
export async function runSubscribersCli(argv: readonly string[], io: SubscribersCliIo): Promise<number> {
  const env = io.env ?? process.env;
  const now = io.now ?? (() => new Date());

  /** Open the database, bring the schema up to date, run `work`, close. */
  const withDatabase = async <T>(command: Command, work: (pool: pg.Pool) => Promise<T>): Promise<T> => {
    const url = (command.optsWithGlobals() as { databaseUrl?: string }).databaseUrl ?? (env.DATABASE_URL || DEFAULT_DATABASE_URL);
    const pool = createPool(url, { max: 2, applicationName: 'flowbill-subscribers-cli' });
    try {
      try {
        await migratePostgres(pool, { log: (line) => io.err(`subscribers: migration ${line}\n`) });
      } catch (error) {
        const missing = (error as { code?: unknown }).code === INVALID_CATALOG_NAME ? ' (create it first, e.g. with createdb)' : '';
        throw new SubscriberDataError(`cannot use the database at ${redactDatabaseUrl(url)}: ${describeDatabaseError(error)}${missing}`, { cause: error });
      }
      return await work(pool);
    } finally {
      await pool.end();
    }
  };

  const program = new Command('subscribers')
    .description('Manage subscribers, their IP address assignments and API keys in PostgreSQL.')
    .option('--database-url <url>', `PostgreSQL URL (default: $DATABASE_URL, else ${DEFAULT_DATABASE_URL})`)
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.out(text), writeErr: (text) => io.err(text) })
    .showHelpAfterError('(run with --help for usage)');

  program
    .command('import')
    .description(
      `Import subscribers and assignments from a CSV file with a header line; columns ${REQUIRED_COLUMNS.join(', ')} ` +
        `and optionally ${OPTIONAL_COLUMNS.join(', ')}. All or nothing: every problem is listed with its line number.`,
    )
    .argument('<file>', 'CSV file')
    .action(async (file: string, _options: unknown, command: Command) => {
      let text: Buffer;
      try {
        text = await readFile(file);
      } catch (error) {
        throw new SubscriberDataError(`cannot read ${file}: ${(error as Error).message}`);
      }
      const result = await withDatabase(command, (pool) => importAssignmentsCsv(pool, text, { source: file }));
      io.out(
        `imported ${result.assignments} assignment${result.assignments === 1 ? '' : 's'} from ${file}; subscribers: ` +
          `${result.subscribersCreated} created, ${result.subscribersUpdated} updated, ${result.subscribersUnchanged} unchanged\n`,
      );
    });

  program
    .command('add')
    .description('Create a subscriber, or update the name (and time zone) of an existing one.')
    .argument('<id>', "the ISP's account id (A-Z a-z 0-9 . _ -, up to 64)", subscriberIdArgument)
    .requiredOption('--name <name>', 'display name')
    .option('--time-zone <zone>', 'IANA time zone for billing days (new subscribers default to Europe/Moscow)')
    .action(async (id: string, options: { name: string; timeZone?: string }, command: Command) => {
      const { subscriber, created } = await withDatabase(command, (pool) => upsertSubscriber(pool, { id, name: options.name, timeZone: options.timeZone }));
      io.out(`subscriber ${subscriber.id} ${created ? 'created' : 'updated'} (name "${subscriber.name}", time zone ${subscriber.timeZone})\n`);
    });

  program
    .command('assign')
    .description('Assign an address or prefix to a subscriber for [--from, --to).')
    .argument('<id>', 'subscriber id', subscriberIdArgument)
    .argument('<prefix>', 'address or prefix, e.g. 100.64.0.7, 2001:db8:1:100::/56 (host bits must be clear)', prefixArgument)
    .option('--from <time>', 'start, ISO 8601 with offset (default: now)', timeArgument)
    .option('--to <time>', 'end (exclusive), ISO 8601 with offset (default: open)', timeArgument)
    .option('--reassign', "end another subscriber's open assignment of exactly this prefix at --from")
    .action(async (id: string, prefix: string, options: { from?: Date; to?: Date; reassign?: boolean }, command: Command) => {
      const from = options.from ?? now();
      if (options.to !== undefined && options.to.getTime() <= from.getTime()) {
        throw new UsageError(`--to (${options.to.toISOString()}) must be after --from (${from.toISOString()})`);
      }
      let result: AssignPrefixResult;
      try {
        result = await withDatabase(command, (pool) =>
          assignPrefix(pool, { subscriberId: id, prefix, from, to: options.to ?? null, reassign: options.reassign === true }),
        );
      } catch (error) {
        if (!(error instanceof AssignmentConflictError) || options.reassign === true) throw error;
        throw new AssignmentConflictError(
          `${error.message}\n(if the address was handed over, --reassign ends another subscriber's open assignment of exactly ${prefix} at --from)`,
        );
      }
      for (const closed of result.closed) io.out(`ended ${describeAssignment(closed)}\n`);
      io.out(`assigned ${describeAssignment(result.assignment)} (assignment ${result.assignment.id})\n`);
    });

  program
    .command('unassign')
    .description('End the assignment of exactly this prefix that is valid at --at (it holds until then, exclusive).')
    .argument('<prefix>', 'address or prefix as assigned', prefixArgument)
    .requiredOption('--at <time>', 'end time, ISO 8601 with offset', timeArgument)
    .action(async (prefix: string, options: { at: Date }, command: Command) => {
      const ended = await withDatabase(command, (pool) => endAssignment(pool, prefix, options.at));
      io.out(`ended ${describeAssignment(ended)} (assignment ${ended.id})\n`);
    });

  program
    .command('list')
    .description('Print the assignments valid at a time as CSV in the import format.')
    .option('--at <time>', 'ISO 8601 with offset (default: now)', timeArgument)
    .action(async (options: { at?: Date }, command: Command) => {
      const at = options.at ?? now();
      // Whole milliseconds everywhere, so [at, at + 1 ms) is exactly "valid at `at`".
      const rows = await withDatabase(command, (pool) => listAssignments(pool, { from: at, to: new Date(at.getTime() + 1) }));
      let text = csvLine(['subscriber_id', 'name', 'prefix', 'valid_from', 'valid_to', 'time_zone']);
      for (const row of rows) {
        text += csvLine([row.subscriberId, row.subscriberName, row.prefix, row.validFrom.toISOString(), row.validTo?.toISOString() ?? '', row.subscriberTimeZone]);
      }
      io.out(text);
    });

  const apiKey = program.command('api-key').description('API keys for the HTTP API.');
  apiKey
    .command('create')
    .description('Create a key and print it once; only its sha256 is stored.')
    .argument('<name>', 'unique name, e.g. the billing system using it')
    .action(async (name: string, _options: unknown, command: Command) => {
      const created = await withDatabase(command, (pool) => createApiKey(pool, name));
      io.out(`${created.key}\n`);
      io.err(`subscribers: API key "${created.name}" created; it is shown only this once\n`);
    });
  apiKey
    .command('revoke')
    .description('Revoke the key with this name.')
    .argument('<name>', 'name given at creation')
    .action(async (name: string, _options: unknown, command: Command) => {
      const revoked = await withDatabase(command, (pool) => revokeApiKey(pool, name));
      io.out(`API key "${revoked.name}" revoked at ${revoked.revokedAt.toISOString()}\n`);
    });

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof UsageError) {
      io.err(`subscribers: ${error.message}\n`);
      return 2;
    }
    if (error instanceof SubscriberDataError || isDatabaseError(error)) {
      io.err(`subscribers: ${error instanceof SubscriberDataError ? error.message : describeDatabaseError(error)}\n`);
      return 1;
    }
    throw error;
  }
}

/** Errors from PostgreSQL or the connection to it (they carry a SQLSTATE or errno code). */
function isDatabaseError(error: unknown): boolean {
  if (error instanceof AggregateError) return error.errors.every(isDatabaseError);
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'string';
}
