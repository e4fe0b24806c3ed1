import fc from 'fast-check';
import type { TariffInput } from '../../src/tariff/tariff-schema.js';
import type { UsageBucketInput } from '../../src/usage/usage-schema.js';

/** Integer kopecks rendered as a decimal string, so generated money never passes through a float. */
export function kopecksToString(kopecks: number): string {
  const sign = kopecks < 0 ? '-' : '';
  const absolute = Math.abs(kopecks);
  return `${sign}${Math.floor(absolute / 100)}.${String(absolute % 100).padStart(2, '0')}`;
}

export const moneyString = (maxKopecks = 10_000_00) => fc.integer({ min: 0, max: maxKopecks }).map(kopecksToString);

/** A unit price with up to 4 decimals (sub-kopeck prices per MB are normal). */
export const unitPriceString = fc.integer({ min: 0, max: 500_0000 }).map((tenThousandths) => `${Math.floor(tenThousandths / 10000)}.${String(tenThousandths % 10000).padStart(4, '0')}`);

export const timeZones = fc.constantFrom('Europe/Moscow', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Pacific/Chatham', 'UTC');
export const roundingModes = fc.constantFrom('half-up', 'half-even', 'down', 'up') as fc.Arbitrary<'half-up' | 'half-even' | 'down' | 'up'>;

export const graduatedTiers = fc
  .array(fc.tuple(fc.integer({ min: 1, max: 500 }), unitPriceString), { minLength: 1, maxLength: 4 })
  .map((steps) => {
    let bound = 0;
    return steps.map(([step, unitPrice], index) => {
      bound += step;
      return { upTo: index === steps.length - 1 ? null : String(bound), unitPrice };
    });
  });

export const measure = fc.record({
  unit: fc.constantFrom('KB', 'MB', 'GB') as fc.Arbitrary<'KB' | 'MB' | 'GB'>,
  base: fc.constantFrom('decimal', 'binary') as fc.Arbitrary<'decimal' | 'binary'>,
  rounding: fc.constantFrom('exact', 'ceil', 'floor') as fc.Arbitrary<'exact' | 'ceil' | 'floor'>,
  roundingScope: fc.constantFrom('period', 'bucket') as fc.Arbitrary<'period' | 'bucket'>,
});

const usageCharge = (index: number) =>
  fc.record({
    id: fc.constant(`usage-${index}`),
    name: fc.constant(`Usage ${index}`),
    class: fc.constantFrom('internet', 'local'),
    direction: fc.constantFrom('download', 'upload', 'both') as fc.Arbitrary<'download' | 'upload' | 'both'>,
    measure,
    includedUnits: fc.integer({ min: 0, max: 50 }).map(String),
    pricing: fc.oneof(
      fc.constant({ kind: 'free' as const }),
      graduatedTiers.map((tiers) => ({ kind: 'graduated' as const, tiers })),
      graduatedTiers.map((tiers) => ({ kind: 'volume' as const, tiers })),
    ),
    timeWindow: fc.option(fc.constant({ name: 'night', from: '23:00', to: '07:00' }), { nil: undefined }),
  });

const discount = (index: number) =>
  fc.oneof(
    fc.record({
      id: fc.constant(`discount-${index}`),
      name: fc.constant('Percent off'),
      kind: fc.constant('percent' as const),
      percent: fc.integer({ min: 0, max: 100 }).map(String),
      appliesTo: fc.constantFrom(['recurring'], ['usage'], ['recurring', 'usage']) as fc.Arbitrary<('recurring' | 'usage')[]>,
    }),
    fc.record({
      id: fc.constant(`discount-${index}`),
      name: fc.constant('Fixed off'),
      kind: fc.constant('fixed' as const),
      amount: moneyString(1000_00),
      appliesTo: fc.constantFrom(['recurring'], ['usage'], ['recurring', 'usage']) as fc.Arbitrary<('recurring' | 'usage')[]>,
    }),
  );

/** A random but valid tariff: fees, usage charges, discounts, minimum, tax, proration and rounding choices. */
export const tariffInput = (id: string): fc.Arbitrary<TariffInput> =>
  fc.record({
    id: fc.constant(id),
    version: fc.constant(1),
    name: fc.constant(id),
    rounding: roundingModes,
    proration: fc.constantFrom('day', 'second') as fc.Arbitrary<'day' | 'second'>,
    allowanceProration: fc.constantFrom('prorated', 'full') as fc.Arbitrary<'prorated' | 'full'>,
    recurringFees: fc.array(
      fc.record({
        price: moneyString(),
        charge: fc.constantFrom('advance', 'arrears') as fc.Arbitrary<'advance' | 'arrears'>,
        spread: fc.constantFrom('period', 'period', 'daily') as fc.Arbitrary<'period' | 'daily'>,
      }),
      { maxLength: 3 },
    ).map((fees) => fees.map((fee, index) => ({ ...fee, id: `fee-${index}`, name: `Fee ${index}` }))),
    usageCharges: fc.tuple(usageCharge(0), usageCharge(1)).chain(([first, second]) => fc.subarray([first, second])),
    discounts: fc.tuple(discount(0), discount(1)).chain(([first, second]) => fc.subarray([first, second])),
    minimumCharge: fc.option(moneyString(2000_00).filter((amount) => amount !== '0.00').map((amount) => ({ amount })), { nil: undefined }),
    tax: fc.option(
      fc.record({
        ratePercent: fc.constantFrom('0', '10', '18', '20', '22', '12.5'),
        inclusion: fc.constantFrom('inclusive', 'exclusive') as fc.Arbitrary<'inclusive' | 'exclusive'>,
        rounding: roundingModes,
      }),
      { nil: undefined },
    ),
  });

/** Buckets around a period: some before and after it, to exercise the boundaries. */
export const usageAround = (periodStart: number, periodEnd: number, maxBuckets = 20): fc.Arbitrary<UsageBucketInput[]> =>
  fc.array(
    fc.record({
      start: fc.integer({ min: periodStart - 2 * 86_400_000, max: periodEnd + 2 * 86_400_000 }),
      class: fc.constantFrom('internet', 'local', 'voip'),
      direction: fc.constantFrom('download', 'upload') as fc.Arbitrary<'download' | 'upload'>,
      bytes: fc.bigInt({ min: 0n, max: 200_000_000_000n }).map(String),
    }),
    { maxLength: maxBuckets },
  );
