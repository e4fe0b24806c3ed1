import { Command, CommanderError } from 'commander';
import { InputValidationError, parseSubscription, parseTariffs, parseUsage } from '../input/parse-inputs.js';
import { billingPeriodForKey } from '../period/billing-period.js';
import { RatingInputError } from '../rating/rating-input-error.js';
import { ratePeriod } from '../rating/rate-period.js';
import type { Subscription } from '../subscription/subscription-schema.js';
import type { Tariff } from '../tariff/tariff-schema.js';
import { isValidTimeZone, parseIsoInstant } from '../time/zoned-time.js';

/** What the command touches outside itself, so tests can run it without a process. */
export interface QuoteIo {
  readTextFile(path: string): Promise<string>;
  stdout(text: string): void;
  stderr(text: string): void;
}

interface QuoteOptions {
  tariff: string;
  usage: string;
  period: string;
  tz?: string;
  start?: string;
  end?: string;
  subscription?: string;
  subscriber: string;
  promo: string[];
}

const DEFAULT_TIME_ZONE = 'Europe/Moscow';

/** An error worth showing to the person at the terminal as is, without a stack trace. */
class QuoteInputError extends Error {}

async function readJson(io: QuoteIo, path: string, option: string): Promise<unknown> {
  let text: string;
  try {
    text = await io.readTextFile(path);
  } catch (error) {
    throw new QuoteInputError(`cannot read ${option} file ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new QuoteInputError(`${option} file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

function parseInstantOption(text: string, option: string, timeZone: string): number {
  try {
    return parseIsoInstant(text, timeZone);
  } catch {
    throw new QuoteInputError(`${option} "${text}" is not an ISO-8601 date or date-time`);
  }
}

/** Without --subscription: one subscriber on the only tariff, active over [--start, --end) or the whole period. */
function subscriptionFromOptions(options: QuoteOptions, tariffs: readonly Tariff[], timeZone: string): Subscription {
  if (tariffs.length !== 1) {
    throw new QuoteInputError(`--tariff holds ${tariffs.length} tariffs; pass --subscription to say which one applies when`);
  }
  const periodStart = billingPeriodForKey(options.period, { kind: 'calendar-month' }, timeZone).start;
  const activatedAt = options.start === undefined ? periodStart : parseInstantOption(options.start, '--start', timeZone);
  const terminatedAt = options.end === undefined ? undefined : parseInstantOption(options.end, '--end', timeZone);
  if (terminatedAt !== undefined && terminatedAt <= activatedAt) throw new QuoteInputError('--end must be after --start');
  return parseSubscription(
    {
      subscriberId: options.subscriber,
      timeZone,
      activatedAt,
      ...(terminatedAt === undefined ? {} : { terminatedAt }),
      tariff: { id: tariffs[0].id, version: tariffs[0].version },
      promoCodes: options.promo.map((code) => ({ code, appliedAt: activatedAt })),
    },
    'subscription built from the command line',
  );
}

async function quote(options: QuoteOptions, io: QuoteIo): Promise<void> {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(options.period)) throw new QuoteInputError(`--period must be "YYYY-MM", got "${options.period}"`);
  if (options.tz !== undefined && !isValidTimeZone(options.tz)) throw new QuoteInputError(`--tz "${options.tz}" is not an IANA time zone`);
  const tariffs = parseTariffs(await readJson(io, options.tariff, '--tariff'), `--tariff ${options.tariff}`);
  const usage = parseUsage(await readJson(io, options.usage, '--usage'), `--usage ${options.usage}`);
  let subscription: Subscription;
  if (options.subscription !== undefined) {
    if (options.start !== undefined || options.end !== undefined) throw new QuoteInputError('--start/--end cannot be combined with --subscription');
    subscription = parseSubscription(await readJson(io, options.subscription, '--subscription'), `--subscription ${options.subscription}`);
    if (options.tz !== undefined) subscription = { ...subscription, timeZone: options.tz };
  } else {
    subscription = subscriptionFromOptions(options, tariffs, options.tz ?? DEFAULT_TIME_ZONE);
  }
  const result = ratePeriod({ tariffs, subscription, usage, period: options.period });
  io.stdout(`${JSON.stringify(result, null, 2)}\n`);
}

function buildProgram(io: QuoteIo): Command {
  return new Command('quote')
    .description('Price one billing period of one subscriber and print the line items with their tier breakdown as JSON.')
    .requiredOption('--tariff <file>', 'tariff JSON: one tariff object or an array of tariff versions')
    .requiredOption('--usage <file>', 'usage JSON: an array of buckets { start, class, direction, bytes }')
    .requiredOption('--period <YYYY-MM>', 'billing period, named by the month it starts in')
    .option('--tz <zone>', `subscriber's IANA time zone (default ${DEFAULT_TIME_ZONE}; overrides the subscription file's)`)
    .option('--start <iso>', 'service start (ISO date or date-time; local to --tz without an offset); default: period start')
    .option('--end <iso>', 'service end, exclusive; default: still active')
    .option('--subscription <file>', 'subscription JSON with plan changes, billing cycle and promo codes (instead of --start/--end)')
    .option('--subscriber <id>', 'subscriber id for a subscription built from the options', 'quote')
    .option('--promo <code>', 'promo code entered at --start (repeatable)', (code: string, codes: string[]) => [...codes, code], [] as string[])
    .exitOverride()
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) });
}

/** Runs `quote` with `args` (without the node and script paths); resolves to the process exit code. */
export async function runQuote(args: readonly string[], io: QuoteIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...args], { from: 'user' });
    await quote(program.opts<QuoteOptions>(), io);
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode; // commander has already printed its message
    if (error instanceof InputValidationError || error instanceof RatingInputError || error instanceof QuoteInputError) {
      io.stderr(`quote: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}
