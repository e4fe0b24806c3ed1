import fc from 'fast-check';
import { DateTime, IANAZone } from 'luxon';
import { describe, expect, it } from 'vitest';
import { parseSubscription, parseTariff } from '../src/input/parse-inputs.js';
import { billingPeriodForKey } from '../src/period/billing-period.js';
import { ratePeriod, type RatingRequest } from '../src/rating/rate-period.js';
import { bytesPerUnit, measureUsageTotals } from '../src/tariff/data-units.js';
import type { TariffInput, UsageMeasure, UsagePricing } from '../src/tariff/tariff-schema.js';
import { zoneOffsetTable } from '../src/time/zone-offsets.js';
import { formatInstant, localClock, localDayNumber } from '../src/time/zoned-time.js';
import type { UsageBucket } from '../src/usage/usage-schema.js';
import { measure, tariffInput } from './support/arbitraries.js';
import { referenceFormatInstant, referenceLocalClock, referenceLocalDayNumber, referenceMeasureUsage, referenceRatePeriod } from './support/reference-rating.js';

/**
 * The optimised rating core (offset tables instead of luxon per bucket, bigint
 * totals instead of a Decimal per bucket, one pass over the usage, memoised
 * tariff constants) against the previous straightforward implementation kept
 * in test/support/reference-rating.ts: the same request must give the same
 * result, member for member, to the kopeck and the byte.
 */

const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Zones with DST both ways, half- and quarter-hour offsets, a 30-minute DST shift, and none. */
const ZONES = [
  'Europe/Berlin',
  'America/New_York',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'America/St_Johns',
  'Australia/Lord_Howe',
  'Pacific/Chatham',
  'Europe/London',
  'Europe/Moscow',
  'UTC',
] as const;
/** March/April and October/November 2026 contain the DST changes of Europe, North America, Australia and New Zealand. */
const PERIODS = ['2026-03', '2026-04', '2026-10', '2026-11'] as const;

/** The instants in [from, to) at which the zone's UTC offset changes, found with luxon hour by hour. */
function offsetChanges(timeZone: string, from: number, to: number): number[] {
  const zone = IANAZone.create(timeZone);
  const changes: number[] = [];
  for (let at = from; at + HOUR <= to; at += HOUR) {
    if (zone.offset(at) === zone.offset(at + HOUR)) continue;
    let low = at;
    let high = at + HOUR;
    while (high - low > 1) {
      const middle = low + Math.floor((high - low) / 2);
      if (zone.offset(middle) === zone.offset(at)) low = middle;
      else high = middle;
    }
    changes.push(high);
  }
  return changes;
}

const clockTime = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 0, 0, 15, 30, 45, 1, 59)).map(([hour, minute]) => `${String(hour).padStart(2, '0')}:${String(minute).padStart(2, '0')}`);

const timeWindow = fc
  .record({
    name: fc.constantFrom('night', 'evening', 'weekend'),
    from: clockTime,
    to: clockTime,
    daysOfWeek: fc.option(fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }), { nil: undefined }),
  })
  .filter((window) => window.from !== window.to)
  .map(({ daysOfWeek, ...window }) => (daysOfWeek === undefined ? window : { ...window, daysOfWeek }));

const pricing: fc.Arbitrary<UsagePricing> = fc.oneof(
  fc.constant<UsagePricing>({ kind: 'free' }),
  fc.constantFrom<UsagePricing>(
    { kind: 'graduated', tiers: [{ upTo: '500', unitPrice: '0.015' }, { upTo: null, unitPrice: '0.01' }] },
    { kind: 'volume', tiers: [{ upTo: '2', unitPrice: '7.5' }, { upTo: '40', unitPrice: '3.3333' }, { upTo: null, unitPrice: '1.01' }] },
    { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '0.0007' }] },
  ),
);

/** Usage charges in tariff order: windowed ones (night, weekend, odd minutes) ahead of catch-alls, as real tariffs have them. */
const usageCharges = fc
  .array(
    fc.record({
      class: fc.constantFrom('internet', 'internet', 'local'),
      direction: fc.constantFrom('download', 'upload', 'both') as fc.Arbitrary<'download' | 'upload' | 'both'>,
      timeWindow: fc.option(timeWindow, { nil: undefined }),
      measure,
      includedUnits: fc.constantFrom('0', '0', '5', '1000', '0.5'),
      pricing,
    }),
    { minLength: 1, maxLength: 5 },
  )
  .map((charges) =>
    charges.map(({ timeWindow: window, ...charge }, index) => ({
      ...charge,
      ...(window === undefined ? {} : { timeWindow: window }),
      id: `usage-${index}`,
      name: `Usage ${index}`,
    })),
  );

const fairUsage = fc.option(
  fc.record({
    class: fc.constantFrom('internet', 'local'),
    direction: fc.constantFrom('download', 'upload', 'both') as fc.Arbitrary<'download' | 'upload' | 'both'>,
    measure: fc.record({ unit: fc.constantFrom('KB', 'MB', 'GB') as fc.Arbitrary<'KB' | 'MB' | 'GB'>, base: fc.constantFrom('decimal', 'binary') as fc.Arbitrary<'decimal' | 'binary'> }),
    thresholdUnits: fc.constantFrom('0.1', '1', '3.7', '50', '1000'),
    throttledSpeed: fc.constant({ name: 'slow', downloadMbps: 1 }),
  }),
  { nil: undefined },
);

const tariffFor = (id: string): fc.Arbitrary<TariffInput> =>
  fc.tuple(tariffInput(id), usageCharges, fairUsage).map(([base, charges, policy]) => ({ ...base, usageCharges: charges, ...(policy === undefined ? {} : { fairUsage: policy }) }));

/** Byte counts from empty to huge (beyond 2^64, where the bigint shortcut must hand over to the per-bucket path), rarely negative. */
const byteCount = fc.oneof(
  { weight: 12, arbitrary: fc.bigInt({ min: 0n, max: 3_000_000_000n }) },
  { weight: 2, arbitrary: fc.constantFrom(0n, 1n, 999_999n, 1_000_000n, 1_000_001n, 1_048_575n, 1_048_576n, 1_048_577n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 10n ** 26n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: -5_000_000n, max: -1n }) },
);

/**
 * Buckets around the period: a regular grid (15, 30 or 60 minutes, not
 * necessarily on the hour) over a stretch that often contains one of the
 * zone's offset changes, plus scattered buckets anywhere near the period,
 * in time order or shuffled.
 */
function usageFor(timeZone: string, periodKey: string): fc.Arbitrary<UsageBucket[]> {
  const period = billingPeriodForKey(periodKey, { kind: 'calendar-month' }, timeZone);
  const changes = offsetChanges(timeZone, period.start - DAY, period.end + DAY);
  const anchors = [...changes, period.start, period.end, period.start + 10 * DAY + 7 * HOUR];
  const bucketTemplate = fc.record({
    class: fc.constantFrom('internet', 'internet', 'local', 'voip'),
    direction: fc.constantFrom('download', 'upload') as fc.Arbitrary<'download' | 'upload'>,
    bytes: byteCount,
  });
  const grid = fc
    .record({
      anchor: fc.constantFrom(...anchors),
      step: fc.constantFrom(15 * MINUTE, 30 * MINUTE, HOUR),
      offset: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: HOUR - 1 }), fc.constantFrom(7 * MINUTE, 30 * MINUTE, 45 * MINUTE)),
      hoursBefore: fc.integer({ min: 0, max: 40 }),
      hoursAfter: fc.integer({ min: 1, max: 40 }),
      perStart: fc.array(bucketTemplate, { minLength: 1, maxLength: 4 }),
    })
    .map(({ anchor, step, offset, hoursBefore, hoursAfter, perStart }) => {
      const buckets: UsageBucket[] = [];
      const first = Math.floor((anchor - hoursBefore * HOUR) / step) * step + (offset % step);
      for (let start = first, n = 0; start < anchor + hoursAfter * HOUR; start += step, n++) {
        for (const template of perStart) buckets.push({ start, ...template, bytes: template.bytes + BigInt(n) * 12_345n });
      }
      return buckets;
    });
  const scattered = fc.array(fc.record({ start: fc.integer({ min: period.start - 2 * DAY, max: period.end + 2 * DAY }), class: bucketTemplate.map((b) => b.class), direction: bucketTemplate.map((b) => b.direction), bytes: byteCount }), { maxLength: 25 });
  return fc.tuple(grid, scattered, fc.boolean(), fc.nat()).map(([regular, extra, shuffle, seed]) => {
    const all = [...regular, ...extra];
    if (!shuffle) return all.sort((left, right) => left.start - right.start);
    // A deterministic shuffle from the seed, so a failure replays.
    let state = seed || 1;
    for (let index = all.length - 1; index > 0; index--) {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      const other = state % (index + 1);
      [all[index], all[other]] = [all[other], all[index]];
    }
    return all;
  });
}

const scenario = fc.tuple(fc.constantFrom(...ZONES), fc.constantFrom(...PERIODS)).chain(([timeZone, periodKey]) => {
  const period = billingPeriodForKey(periodKey, { kind: 'calendar-month' }, timeZone);
  return fc.record({
    timeZone: fc.constant(timeZone),
    periodKey: fc.constant(periodKey),
    first: tariffFor('first'),
    second: tariffFor('second'),
    activatedAt: fc.oneof(fc.constant(period.start - 40 * DAY), fc.integer({ min: period.start - 40 * DAY, max: period.end - MINUTE })),
    changeAfter: fc.option(fc.integer({ min: 0, max: 40 * DAY }), { nil: undefined }),
    changeEffective: fc.constantFrom('immediate', 'period-end') as fc.Arbitrary<'immediate' | 'period-end'>,
    lifetime: fc.option(fc.integer({ min: MINUTE, max: 60 * DAY }), { nil: undefined }),
    usage: usageFor(timeZone, periodKey),
  });
});

type Scenario = typeof scenario extends fc.Arbitrary<infer Value> ? Value : never;

function requestOf(input: Scenario): RatingRequest {
  return {
    tariffs: [parseTariff(input.first), parseTariff(input.second)],
    subscription: parseSubscription({
      subscriberId: 'sub-eq',
      timeZone: input.timeZone,
      tariff: { id: 'first', version: 1 },
      activatedAt: input.activatedAt,
      ...(input.lifetime === undefined ? {} : { terminatedAt: input.activatedAt + input.lifetime }),
      planChanges:
        input.changeAfter === undefined ? [] : [{ requestedAt: input.activatedAt + input.changeAfter, tariff: { id: 'second', version: 1 }, effective: input.changeEffective }],
    }),
    usage: input.usage,
    period: input.periodKey,
  };
}

describe('the optimised rating core against the previous implementation (oracle)', () => {
  it('gives the same result for random tariffs, subscriptions and usage, across DST changes and odd offsets', () => {
    fc.assert(
      fc.property(scenario, (input) => {
        const request = requestOf(input);
        expect(ratePeriod(request)).toStrictEqual(referenceRatePeriod(request));
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same result when the same tariff objects are rated for many subscribers (memoised constants, fee lines, periods)', () => {
    const subscriber = fc.record({
      timeZone: fc.constantFrom(...ZONES),
      activatedAfter: fc.option(fc.integer({ min: -40 * DAY, max: 31 * DAY }), { nil: undefined }),
      lifetime: fc.option(fc.integer({ min: HOUR, max: 45 * DAY }), { nil: undefined }),
      changeAfter: fc.option(fc.integer({ min: 0, max: 35 * DAY }), { nil: undefined }),
    });
    fc.assert(
      fc.property(scenario, fc.array(subscriber, { minLength: 2, maxLength: 6 }), (input, others) => {
        const request = requestOf(input);
        const period = billingPeriodForKey(input.periodKey, { kind: 'calendar-month' }, input.timeZone);
        // The same tariff objects and tariff list for several subscribers, as a rating run does:
        // other zones, other activation and termination days, plan changes (other segment bounds).
        for (const [index, other] of others.entries()) {
          const activatedAt = other.activatedAfter === undefined ? period.start - 40 * DAY : period.start + other.activatedAfter;
          const again: RatingRequest = {
            ...request,
            subscription: parseSubscription({
              subscriberId: `sub-${index}`,
              timeZone: other.timeZone,
              tariff: { id: 'first', version: 1 },
              activatedAt,
              ...(other.lifetime === undefined ? {} : { terminatedAt: activatedAt + other.lifetime }),
              planChanges: other.changeAfter === undefined ? [] : [{ requestedAt: activatedAt + other.changeAfter, tariff: { id: 'second', version: 1 }, effective: 'immediate' }],
            }),
          };
          expect(ratePeriod(again)).toStrictEqual(referenceRatePeriod(again));
        }
        expect(ratePeriod(request)).toStrictEqual(referenceRatePeriod(request));
      }),
      { numRuns: 60 },
    );
  });
});

describe('time-of-day windows across DST changes', () => {
  const night = (from: string, to: string): TariffInput => ({
    id: 'night-plan',
    version: 1,
    name: 'Night plan',
    usageCharges: [
      { id: 'night', name: 'Night', class: 'internet', direction: 'both', timeWindow: { name: 'night', from, to }, measure: { unit: 'MB' }, pricing: { kind: 'free' } },
      { id: 'day', name: 'Day', class: 'internet', direction: 'both', measure: { unit: 'MB' }, pricing: { kind: 'graduated', tiers: [{ upTo: null, unitPrice: '0.01' }] } },
    ],
  });
  /** Hourly buckets of 1 MB from `fromIso` for `hours` hours; how many went to the night charge. */
  function nightBuckets(timeZone: string, periodKey: string, window: [string, string], fromIso: string, hours: number, stepMinutes = 60): number {
    const start = DateTime.fromISO(fromIso, { zone: 'utc' }).toMillis();
    const usage: UsageBucket[] = [];
    for (let at = start; at < start + hours * HOUR; at += stepMinutes * MINUTE) usage.push({ start: at, class: 'internet', direction: 'download', bytes: 1_000_000n });
    const request: RatingRequest = {
      tariffs: [parseTariff(night(...window))],
      subscription: parseSubscription({ subscriberId: 'dst', timeZone, tariff: { id: 'night-plan', version: 1 }, activatedAt: Date.parse('2025-01-01T00:00:00Z') }),
      usage,
      period: periodKey,
    };
    const result = ratePeriod(request);
    expect(result).toStrictEqual(referenceRatePeriod(request));
    return result.lines.find((line) => line.chargeId === 'night')?.usage?.bucketCount ?? 0;
  }

  it('Europe/Berlin, spring forward (2026-03-29): the night 01:00–07:00 has five hourly buckets, not six', () => {
    // 2026-03-28T23:00Z is 00:00 CET; local 02:00 does not exist that night.
    expect(nightBuckets('Europe/Berlin', '2026-03', ['01:00', '07:00'], '2026-03-28T23:00:00Z', 23)).toBe(5);
    expect(nightBuckets('Europe/Berlin', '2026-03', ['01:00', '07:00'], '2026-03-27T23:00:00Z', 24)).toBe(6);
  });

  it('America/New_York, fall back (2026-11-01): 01:00–02:00 happens twice, so the night has seven hourly buckets', () => {
    // 2026-11-01T04:00Z is 00:00 EDT; 06:00Z is 01:00 EST after the change.
    expect(nightBuckets('America/New_York', '2026-11', ['01:00', '07:00'], '2026-11-01T04:00:00Z', 25)).toBe(7);
    expect(nightBuckets('America/New_York', '2026-11', ['01:00', '07:00'], '2026-11-02T05:00:00Z', 24)).toBe(6);
  });

  it('America/New_York, spring forward (2026-03-08): a window wrapping midnight, 23:00–02:30, in 15-minute buckets', () => {
    // Local 23:00 (Mar 7) to 02:30 (Mar 8) is 23:00–02:00 EST then 03:00–… EDT: 02:00–02:30 never happens, so 3 h = 12 buckets.
    expect(nightBuckets('America/New_York', '2026-03', ['23:00', '02:30'], '2026-03-08T03:00:00Z', 6, 15)).toBe(12);
  });

  it('Asia/Kolkata (+05:30): hour-aligned UTC buckets start at hh:30 local, and a window on the half hour sees them', () => {
    // 2026-03-09T18:30Z is 00:00 IST. Buckets on the UTC hour start at 00:30, 01:30, … local.
    expect(nightBuckets('Asia/Kolkata', '2026-03', ['01:00', '07:00'], '2026-03-09T18:00:00Z', 24)).toBe(6); // 01:30 … 06:30
    expect(nightBuckets('Asia/Kolkata', '2026-03', ['01:30', '07:00'], '2026-03-09T18:00:00Z', 24)).toBe(6);
    expect(nightBuckets('Asia/Kolkata', '2026-03', ['01:31', '07:00'], '2026-03-09T18:00:00Z', 24)).toBe(5);
  });

  it('Australia/Lord_Howe, a 30-minute DST shift (2026-04-05): 01:30–02:00 happens twice', () => {
    // 2026-04-04T13:00Z is 00:00 +11:00; at 02:00 local the clock goes back to 01:30 (+10:30).
    expect(nightBuckets('Australia/Lord_Howe', '2026-04', ['01:00', '03:00'], '2026-04-04T13:00:00Z', 24, 30)).toBe(5);
  });
});

describe('fair usage at the threshold (the bigint total decides whether the buckets are walked)', () => {
  const unlimited = (thresholdUnits: string, base: 'decimal' | 'binary'): TariffInput => ({
    id: 'unlimited',
    version: 1,
    name: 'Unlimited',
    usageCharges: [{ id: 'internet', name: 'Internet', class: 'internet', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'free' } }],
    fairUsage: { class: 'internet', direction: 'both', measure: { unit: 'GB', base }, thresholdUnits, throttledSpeed: { name: 'slow', downloadMbps: 1 } },
  });
  function crossing(thresholdUnits: string, base: 'decimal' | 'binary', total: bigint, shuffled: boolean) {
    const start = Date.parse('2026-03-10T00:00:00Z');
    const parts = [total / 4n, total / 4n, total / 4n];
    const usage: UsageBucket[] = [...parts, total - 3n * (total / 4n)].map((bytes, index) => ({ start: start + index * HOUR, class: 'internet', direction: index % 2 ? 'upload' : 'download', bytes }));
    const request: RatingRequest = {
      tariffs: [parseTariff(unlimited(thresholdUnits, base))],
      subscription: parseSubscription({ subscriberId: 'fup', timeZone: 'Europe/Moscow', tariff: { id: 'unlimited', version: 1 }, activatedAt: Date.parse('2025-01-01T00:00:00Z') }),
      usage: shuffled ? [usage[3], usage[0], usage[2], usage[1]] : usage,
      period: '2026-03',
    };
    const result = ratePeriod(request);
    expect(result).toStrictEqual(referenceRatePeriod(request));
    return result.events;
  }

  it('exactly the threshold is still fair; one byte more crosses on the last bucket', () => {
    for (const shuffled of [false, true]) {
      expect(crossing('2', 'decimal', 2_000_000_000n, shuffled)).toEqual([]);
      expect(crossing('2', 'decimal', 2_000_000_001n, shuffled)).toMatchObject([{ usedBytes: '2000000001', at: '2026-03-10T06:00:00.000+03:00' }]);
    }
  });

  it('a fractional threshold in bytes (0.1 GiB = 107374182.4 bytes) crosses at 107374183', () => {
    expect(crossing('0.1', 'binary', 107_374_182n, false)).toEqual([]);
    expect(crossing('0.1', 'binary', 107_374_183n, false)).toMatchObject([{ usedBytes: '107374183', thresholdBytes: '107374182.4' }]);
  });
});

describe('zone offset tables', () => {
  const zones = [...ZONES, 'Asia/Novosibirsk', 'Africa/Casablanca', 'America/Santiago', 'Antarctica/Troll', 'Pacific/Kiritimati', 'Etc/GMT+5', 'utc', 'Europe/Dublin'];

  it('read the wall clock, the local day and the ISO form exactly as luxon does', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        // 1880–2100: zone history with odd LMT offsets, wars, double summer time and today's rules.
        fc.oneof(fc.integer({ min: Date.UTC(1880, 0, 1), max: Date.UTC(2100, 0, 1) }), fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2027, 0, 1) })),
        (timeZone, instant) => {
          expect(localClock(instant, timeZone)).toEqual(referenceLocalClock(instant, timeZone));
          expect(localDayNumber(instant, timeZone)).toBe(referenceLocalDayNumber(instant, timeZone));
          expect(formatInstant(instant, timeZone)).toBe(referenceFormatInstant(instant, timeZone));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('agree with luxon on every minute around each offset change of 2026', () => {
    for (const timeZone of ZONES) {
      for (const change of offsetChanges(timeZone, Date.UTC(2026, 0, 1), Date.UTC(2027, 0, 1))) {
        for (let instant = change - 3 * HOUR; instant <= change + 3 * HOUR; instant += MINUTE) {
          for (const at of [instant - 1, instant]) expect(localClock(at, timeZone)).toEqual(referenceLocalClock(at, timeZone));
        }
      }
    }
  });

  it('are not built for zones that can change while the process runs, which keep going through luxon', () => {
    expect(zoneOffsetTable('local')).toBeNull();
    expect(zoneOffsetTable('system')).toBeNull();
    expect(zoneOffsetTable('default')).toBeNull();
    expect(zoneOffsetTable('Not/AZone')).toBeNull();
    expect(zoneOffsetTable('Europe/Berlin')).not.toBeNull();
    const instant = Date.UTC(2026, 2, 29, 1, 30);
    expect(localClock(instant, 'local')).toEqual(referenceLocalClock(instant, 'local'));
  });
});

describe('measuring from bigint totals', () => {
  const bucketScope = measure.map((m): UsageMeasure => ({ ...m, roundingScope: 'bucket' }));

  it('equals measuring bucket by bucket whenever it answers, and declines only where Decimal precision could round', () => {
    fc.assert(
      fc.property(
        fc.oneof(bucketScope, fc.constant<UsageMeasure>({ unit: 'TB', base: 'binary', rounding: 'exact', roundingScope: 'bucket' }), fc.constant<UsageMeasure>({ unit: 'B', base: 'decimal', rounding: 'ceil', roundingScope: 'bucket' })),
        fc.array(fc.oneof(fc.bigInt({ min: 0n, max: 10n ** 12n }), fc.bigInt({ min: 0n, max: 10n ** 52n })), { minLength: 1, maxLength: 30 }),
        (usageMeasure, bytes) => {
          const unitBytes = bytesPerUnit(usageMeasure.unit, usageMeasure.base);
          const rounded = bytes.reduce((sum, value) => {
            if (usageMeasure.rounding === 'exact') return sum;
            const quotient = value / unitBytes;
            return sum + (usageMeasure.rounding === 'ceil' && quotient * unitBytes !== value ? quotient + 1n : quotient);
          }, 0n);
          const total = bytes.reduce((sum, value) => sum + value, 0n);
          const fast = measureUsageTotals({ bucketCount: bytes.length, bytes: total, roundedUnits: rounded, negative: false }, usageMeasure);
          const slow = referenceMeasureUsage(bytes, usageMeasure);
          if (fast === null) {
            // Declined only for totals near 10^(50 − decimal places of a quotient) units: never below 10^20 bytes.
            expect(total >= 10n ** 20n).toBe(true);
          } else {
            expect(fast.bytes).toBe(slow.bytes);
            expect(fast.units.toFixed()).toBe(slow.units.toFixed());
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('declines for negative byte counts, which only the bucket-by-bucket path handles', () => {
    const ceil: UsageMeasure = { unit: 'MB', base: 'decimal', rounding: 'ceil', roundingScope: 'bucket' };
    expect(measureUsageTotals({ bucketCount: 2, bytes: 1n, roundedUnits: 1n, negative: true }, ceil)).toBeNull();
  });
});
