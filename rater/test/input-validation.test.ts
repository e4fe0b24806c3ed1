import { describe, expect, it } from 'vitest';
import { InputValidationError, parseSubscription, parseTariff, parseTariffs, parseUsage } from '../src/input/parse-inputs.js';

function issuesOf(parse: () => unknown): readonly string[] {
  try {
    parse();
  } catch (error) {
    if (error instanceof InputValidationError) return error.issues;
    throw error;
  }
  throw new Error('expected the input to be rejected');
}

describe('tariff validation', () => {
  it('fills in the documented defaults', () => {
    const parsed = parseTariff({ id: 't', version: 1, name: 'T', recurringFees: [{ id: 'fee', name: 'Fee', price: '500' }] });
    expect(parsed).toMatchObject({
      currency: 'RUB',
      rounding: 'half-up',
      proration: 'day',
      allowanceProration: 'prorated',
      planChange: { upgrade: 'immediate', downgrade: 'period-end' },
      recurringFees: [{ charge: 'advance', spread: 'period' }],
      usageCharges: [],
      discounts: [],
    });
  });

  it('reports every problem with its path', () => {
    const issues = issuesOf(() =>
      parseTariff({
        id: 't',
        version: 0,
        name: 'T',
        currency: 'RUR',
        recurringFees: [{ id: 'fee', name: 'Fee', price: 500 }],
        usageCharges: [
          {
            id: 'internet',
            name: 'Internet',
            class: 'internet',
            direction: 'sideways',
            measure: { unit: 'MB' },
            pricing: { kind: 'graduated', tiers: [{ upTo: '10', unitPrice: '1' }] },
          },
        ],
      }),
    );
    expect(issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^version: /),
        expect.stringMatching(/^currency: must be a supported ISO 4217 code/),
        expect.stringMatching(/^recurringFees\[0\]\.price: must be a decimal string/),
        expect.stringMatching(/^usageCharges\[0\]\.direction: /),
        expect.stringMatching(/^usageCharges\[0\]\.pricing\.tiers\[0\]\.upTo: the last tier must be unbounded/),
      ]),
    );
  });

  it('refuses a fee finer than the currency’s minor unit', () => {
    expect(issuesOf(() => parseTariff({ id: 't', version: 1, name: 'T', recurringFees: [{ id: 'fee', name: 'Fee', price: '10.005' }] }))).toEqual([
      'recurringFees[0].price: must be a whole amount of RUB minor units (at most 2 decimal places)',
    ]);
  });

  it('refuses tiers that do not increase and duplicate ids', () => {
    const issues = issuesOf(() =>
      parseTariff({
        id: 't',
        version: 1,
        name: 'T',
        recurringFees: [
          { id: 'fee', name: 'A', price: '1' },
          { id: 'fee', name: 'B', price: '2' },
        ],
        usageCharges: [
          {
            id: 'internet',
            name: 'Internet',
            class: 'internet',
            direction: 'both',
            measure: { unit: 'GB' },
            pricing: { kind: 'volume', tiers: [{ upTo: '10', unitPrice: '1' }, { upTo: '5', unitPrice: '1' }, { upTo: null, unitPrice: '1' }] },
          },
        ],
      }),
    );
    expect(issues).toEqual(['usageCharges[0].pricing.tiers[1].upTo: tier bounds must increase', 'recurringFees[1].id: duplicate id "fee"']);
  });

  it('accepts an array of tariff versions and names the failing element', () => {
    expect(parseTariffs([{ id: 'a', version: 1, name: 'A' }, { id: 'a', version: 2, name: 'A v2' }])).toHaveLength(2);
    expect(issuesOf(() => parseTariffs([{ id: 'a', version: 1, name: 'A' }, { id: 'b', name: 'B' }]))).toEqual([expect.stringMatching(/^\[1\]\.version: /)]);
  });
});

describe('subscription and usage validation', () => {
  it('requires an IANA zone and instants with an offset', () => {
    const issues = issuesOf(() => parseSubscription({ subscriberId: 's', timeZone: 'Moscow', activatedAt: '2026-03-01T00:00:00', tariff: { id: 't', version: 1 } }));
    expect(issues).toEqual([
      'timeZone: must be an IANA time zone such as "Europe/Moscow"',
      expect.stringMatching(/^activatedAt: must be an ISO-8601 date-time with an offset/),
    ]);
  });

  it('accepts epoch milliseconds and decimal-string or bigint bytes', () => {
    const [first, second] = parseUsage([
      { start: 1_772_312_400_000, class: 'internet', direction: 'download', bytes: '18446744073709551616' },
      { start: '2026-03-01T00:00:00+03:00', class: 'local', direction: 'upload', bytes: 5n },
    ]);
    expect(first.bytes).toBe(18_446_744_073_709_551_616n);
    expect(second.start).toBe(1_772_312_400_000);
  });

  it('refuses byte counts given as JSON numbers', () => {
    expect(issuesOf(() => parseUsage([{ start: 0, class: 'internet', direction: 'download', bytes: 1024 }]))).toEqual([
      expect.stringMatching(/^\[0\]\.bytes: bytes must be a non-negative integer given as a decimal string/),
    ]);
  });
});
