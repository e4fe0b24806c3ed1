/**
 * Rating throughput: a month of hourly usage for N subscribers (default 100,000) through
 * the pure rating core (`ratePeriod`), on every core, against the target of 60 s.
 *
 *   npx tsx bench/src/rating-bench.ts [--subscribers 100000] [--workers N] [--seed 1] [--period 2026-03]
 *                                     [--tariffs home-100,metered-10,metered-advance] [--json]
 *
 * Input, generated from the seed (subscriber i always gets the same data, whatever the
 * worker count): one of three tariffs from rater/examples (flat 800 RUB with fair usage;
 * metered with a free night window, 10 GB included and graduated MB pricing; a minimum
 * charge and VAT), one of five Russian time zones, and for each of the period's 744 local
 * hours four buckets (internet/local × download/upload) with a diurnal profile: 2,976
 * buckets per subscriber, 297.6 million for 100,000.
 *
 * Passes over the same subscribers, in the same process and the same workers:
 * - generate: build the buckets only (the floor under both passes below);
 * - baseline: build + sum the bytes per class and direction (the least any rater must do);
 * - rate: build + ratePeriod (validated tariffs, proration, windows, tiers, tax...).
 * The rating overhead is rate − generate; the ratio rate / baseline shows what pricing
 * costs over touching the data once. A checksum (sum of gross in kopecks, lines) proves
 * every run rated the same thing. Times are wall clock of each pass including worker start
 * (about half a second), so small runs overstate; the 100,000 figure is measured, smaller
 * runs are projected linearly.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { Command, InvalidArgumentError } from 'commander';
import { parseSubscription, parseTariff, ratePeriod, type Tariff, type UsageBucket } from '../../rater/src/index.js';
import { billingPeriodForKey } from '../../rater/src/period/billing-period.js';

const TARGET_SECONDS = 60;
const TIME_ZONES = ['Europe/Moscow', 'Europe/Kaliningrad', 'Asia/Yekaterinburg', 'Asia/Novosibirsk', 'Asia/Vladivostok'];
const TARIFF_FILES = ['home-internet.tariff.json', 'metered.tariff.json'];
const HOUR = 3_600_000;

type Pass = 'generate' | 'baseline' | 'rate';

interface ChunkResult {
  pass: Pass;
  subscribers: number;
  buckets: number;
  ms: number;
  /** Sum of the subscribers' gross totals in minor units (rate), or of bytes (baseline). */
  checksum: string;
  lines: number;
  unrated: number;
}

/** mulberry32: small, fast, and the same sequence on every machine for a given seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** The plan mix (ids home-100, metered-10, metered-advance), or only the plans named in `only`. */
function loadTariffs(only: readonly string[] | null): Tariff[] {
  const dir = new URL('../../rater/examples/', import.meta.url);
  const tariffs = TARIFF_FILES.map((file) => parseTariff(JSON.parse(readFileSync(new URL(file, dir), 'utf8')), file));
  // A third plan: the metered one with an advance fee and no promo, so three pricing shapes are mixed.
  const metered = tariffs[1];
  tariffs.push({ ...metered, id: 'metered-advance', recurringFees: metered.recurringFees.map((fee) => ({ ...fee, charge: 'advance' as const })), discounts: [] });
  if (only === null) return tariffs;
  const chosen = tariffs.filter((tariff) => only.includes(tariff.id));
  if (chosen.length !== only.length) throw new Error(`--tariffs: known plans are ${tariffs.map((t) => t.id).join(', ')}`);
  return chosen;
}

interface SubscriberInput {
  tariff: Tariff;
  timeZone: string;
  usage: UsageBucket[];
}

/** Subscriber `index`'s tariff, zone and 744 × 4 hourly buckets (local hours of the period). */
function generateSubscriber(index: number, seed: number, tariffs: readonly Tariff[], periodKey: string): SubscriberInput {
  const next = random(seed * 1_000_003 + index);
  const tariff = tariffs[Math.floor(next() * tariffs.length)];
  const timeZone = TIME_ZONES[Math.floor(next() * TIME_ZONES.length)];
  const period = billingPeriodForKey(periodKey, { kind: 'calendar-month' }, timeZone);
  // Heavy users exist: the monthly volume spans about 1 GB to 600 GB.
  const scale = 2 ** (next() * 9.5) * 1_500_000;
  const usage: UsageBucket[] = [];
  for (let start = period.start, hour = 0; start < period.end; start += HOUR, hour++) {
    // Diurnal profile (peak in the evening, in UTC+3-ish terms is good enough for load).
    const profile = 0.2 + Math.max(0, Math.sin(((hour % 24) - 9) * (Math.PI / 14)));
    const down = Math.floor(scale * profile * (0.5 + next()));
    usage.push(
      { start, class: 'internet', direction: 'download', bytes: BigInt(down) },
      { start, class: 'internet', direction: 'upload', bytes: BigInt(Math.floor(down * 0.12 * next())) },
      { start, class: 'local', direction: 'download', bytes: BigInt(Math.floor(down * 0.3 * next())) },
      { start, class: 'local', direction: 'upload', bytes: BigInt(Math.floor(down * 0.05 * next())) },
    );
  }
  return { tariff, timeZone, usage };
}

function minorUnits(amount: string): bigint {
  const [whole, fraction = ''] = amount.split('.');
  const sign = whole.startsWith('-') ? -1n : 1n;
  return sign * (BigInt(whole.replace('-', '')) * 100n + BigInt(fraction.padEnd(2, '0').slice(0, 2)));
}

function runPass(pass: Pass, from: number, to: number, seed: number, periodKey: string, only: string[] | null): ChunkResult {
  const tariffs = loadTariffs(only);
  const activatedAt = Date.parse('2025-01-01T00:00:00Z');
  let buckets = 0;
  let checksum = 0n;
  let lines = 0;
  let unrated = 0;
  const started = performance.now();
  for (let index = from; index < to; index++) {
    const input = generateSubscriber(index, seed, tariffs, periodKey);
    buckets += input.usage.length;
    if (pass === 'baseline') {
      // Per class, [download, upload]: the totals a usage statement shows.
      const sums: Record<string, [bigint, bigint]> = {};
      for (const bucket of input.usage) {
        const pair = (sums[bucket.class] ??= [0n, 0n]);
        pair[bucket.direction === 'download' ? 0 : 1] += bucket.bytes;
      }
      for (const [down, up] of Object.values(sums)) checksum += down + up;
    } else if (pass === 'rate') {
      const subscription = parseSubscription({
        subscriberId: `sub-${index}`,
        timeZone: input.timeZone,
        activatedAt,
        tariff: { id: input.tariff.id, version: input.tariff.version },
      });
      const result = ratePeriod({ tariffs, subscription, usage: input.usage, period: periodKey });
      checksum += minorUnits(result.totals.gross);
      lines += result.lines.length;
      unrated += result.unratedUsage.length;
    }
  }
  return { pass, subscribers: to - from, buckets, ms: performance.now() - started, checksum: checksum.toString(), lines, unrated };
}

if (!isMainThread) {
  const { pass, from, to, seed, period, only } = workerData as { pass: Pass; from: number; to: number; seed: number; period: string; only: string[] | null };
  parentPort?.postMessage(runPass(pass, from, to, seed, period, only));
} else {
  await main();
}

async function runParallel(pass: Pass, subscribers: number, workers: number, seed: number, period: string, only: string[] | null): Promise<{ wallMs: number; parts: ChunkResult[] }> {
  const started = performance.now();
  const size = Math.ceil(subscribers / workers);
  const parts = await Promise.all(
    Array.from({ length: workers }, (_, w) => {
      const from = w * size;
      const to = Math.min(subscribers, from + size);
      // Each worker runs this file again. Node 20 does not hand tsx's loader to worker
      // threads, and a .ts entry is resolved before any --import runs, so a tiny JS entry
      // registers tsx first and then imports this file.
      const entry = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
      const worker = new Worker(entry, { eval: true, workerData: { pass, from, to, seed, period, only } });
      return new Promise<ChunkResult>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
    }),
  );
  return { wallMs: performance.now() - started, parts };
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

async function main(): Promise<void> {
  const opts = new Command()
    .name('rating-bench')
    .description('Rate a month of hourly usage for N subscribers with the pure rating core')
    .option('--subscribers <n>', 'subscribers to rate', positiveInt, 100_000)
    .option('--workers <n>', 'worker threads (default: available parallelism)', positiveInt, availableParallelism())
    .option('--seed <n>', 'seed of the generated usage', positiveInt, 1)
    .option('--period <key>', 'billing period (YYYY-MM)', '2026-03')
    .option('--tariffs <ids>', 'only these plans (comma-separated: home-100, metered-10, metered-advance); default all three')
    .option('--json', 'print one JSON object instead of the table', false)
    .parse()
    .opts<{ subscribers: number; workers: number; seed: number; period: string; tariffs?: string; json: boolean }>();
  const only = opts.tariffs === undefined ? null : opts.tariffs.split(',').map((id) => id.trim());
  loadTariffs(only); // fail on an unknown plan before starting workers

  const log = (line: string) => {
    if (!opts.json) process.stderr.write(`${line}\n`);
  };
  const machine = { nproc: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', node: process.version, loadavg: loadavg().map((l) => l.toFixed(2)).join(' ') };
  log(`rating-bench: ${opts.subscribers} subscribers, ${opts.workers} workers, seed ${opts.seed}, period ${opts.period}, plans ${only?.join(',') ?? 'all'}; ${machine.nproc} cores (${machine.cpu}), ${machine.node}, load ${machine.loadavg}`);

  const results: Record<Pass, { wallMs: number; parts: ChunkResult[] }> = {} as never;
  for (const pass of ['generate', 'baseline', 'rate'] as const) {
    results[pass] = await runParallel(pass, opts.subscribers, opts.workers, opts.seed, opts.period, only);
    log(`  ${pass.padEnd(8)} ${(results[pass].wallMs / 1000).toFixed(2)} s`);
  }
  const total = (pass: Pass, field: 'buckets' | 'lines' | 'unrated') => results[pass].parts.reduce((sum, part) => sum + part[field], 0);
  const checksum = (pass: Pass) => results[pass].parts.reduce((sum, part) => sum + BigInt(part.checksum), 0n);
  const seconds = (pass: Pass) => results[pass].wallMs / 1000;
  const rateSeconds = seconds('rate');
  const projected = (rateSeconds * 100_000) / opts.subscribers;
  const summary = {
    subscribers: opts.subscribers,
    plans: only ?? 'all',
    workers: opts.workers,
    buckets: total('rate', 'buckets'),
    seconds: { generate: seconds('generate'), baseline: seconds('baseline'), rate: rateSeconds },
    subscribersPerSecond: opts.subscribers / rateSeconds,
    msPerSubscriberPerCore: (rateSeconds * 1000 * opts.workers) / opts.subscribers,
    ratingOverheadSeconds: rateSeconds - seconds('generate'),
    ratioRateToBaseline: rateSeconds / seconds('baseline'),
    projectedSecondsFor100k: projected,
    targetSeconds: TARGET_SECONDS,
    meetsTarget: projected < TARGET_SECONDS,
    checksum: { grossKopecks: checksum('rate').toString(), lines: total('rate', 'lines'), unratedGroups: total('rate', 'unrated'), bytes: checksum('baseline').toString() },
    machine,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    return;
  }
  log('');
  log(`  buckets rated          ${summary.buckets.toLocaleString('en-US')}`);
  log(`  subscribers/s          ${summary.subscribersPerSecond.toFixed(0)}`);
  log(`  ms per subscriber/core ${summary.msPerSubscriberPerCore.toFixed(2)}`);
  log(`  rate / baseline        ${summary.ratioRateToBaseline.toFixed(1)}x   (rating overhead ${summary.ratingOverheadSeconds.toFixed(1)} s)`);
  log(`  100,000 subscribers    ${projected.toFixed(1)} s ${opts.subscribers === 100_000 ? '(measured)' : '(projected)'} vs target ${TARGET_SECONDS} s: ${summary.meetsTarget ? 'MET' : 'MISSED'}`);
  log(`  checksum               gross ${summary.checksum.grossKopecks} kopecks, ${summary.checksum.lines} lines, ${summary.checksum.unratedGroups} unrated groups`);
}
