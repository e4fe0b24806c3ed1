import { describe, expect, it } from 'vitest';
import { resolveTariffTimeline } from '../src/subscription/tariff-timeline.js';
import { TariffCatalogue } from '../src/tariff/tariff-catalogue.js';
import { formatInstant } from '../src/time/zoned-time.js';
import { RatingInputError } from '../src/rating/rating-input-error.js';
import { subscription, tariff } from './support/builders.js';

const cheap = tariff({ id: 'cheap', recurringFees: [{ id: 'fee', name: 'fee', price: '300' }] });
const mid = tariff({ id: 'mid', recurringFees: [{ id: 'fee', name: 'fee', price: '500' }] });
const rich = tariff({ id: 'rich', recurringFees: [{ id: 'fee', name: 'fee', price: '900' }] });
const catalogue = new TariffCatalogue([cheap, mid, rich]);

const timeline = (planChanges: { requestedAt: string; tariff: string; effective?: 'immediate' | 'period-end' }[], terminatedAt?: string) =>
  resolveTariffTimeline(
    subscription({
      tariff: { id: 'mid', version: 1 },
      activatedAt: '2026-01-10T12:00:00+03:00',
      planChanges: planChanges.map((change) => ({ ...change, tariff: { id: change.tariff, version: 1 } })),
      ...(terminatedAt ? { terminatedAt } : {}),
    }),
    catalogue,
  ).map((segment) => [segment.tariff.id, formatInstant(segment.start, 'Europe/Moscow'), segment.end === null ? null : formatInstant(segment.end, 'Europe/Moscow')]);

describe('resolving plan changes into tariff segments', () => {
  it('applies an upgrade at once', () => {
    expect(timeline([{ requestedAt: '2026-02-15T10:00:00+03:00', tariff: 'rich' }])).toEqual([
      ['mid', '2026-01-10T12:00:00.000+03:00', '2026-02-15T10:00:00.000+03:00'],
      ['rich', '2026-02-15T10:00:00.000+03:00', null],
    ]);
  });

  it('defers a downgrade to the end of the billing period it was asked in', () => {
    expect(timeline([{ requestedAt: '2026-02-15T10:00:00+03:00', tariff: 'cheap' }])).toEqual([
      ['mid', '2026-01-10T12:00:00.000+03:00', '2026-03-01T00:00:00.000+03:00'],
      ['cheap', '2026-03-01T00:00:00.000+03:00', null],
    ]);
  });

  it('lets a later request cancel a downgrade still pending', () => {
    expect(
      timeline([
        { requestedAt: '2026-02-15T10:00:00+03:00', tariff: 'cheap' },
        { requestedAt: '2026-02-20T10:00:00+03:00', tariff: 'mid' },
      ]),
    ).toEqual([['mid', '2026-01-10T12:00:00.000+03:00', null]]);
  });

  it('replaces a pending downgrade with an upgrade made before it took effect', () => {
    expect(
      timeline([
        { requestedAt: '2026-02-15T10:00:00+03:00', tariff: 'cheap' },
        { requestedAt: '2026-02-20T10:00:00+03:00', tariff: 'rich' },
      ]),
    ).toEqual([
      ['mid', '2026-01-10T12:00:00.000+03:00', '2026-02-20T10:00:00.000+03:00'],
      ['rich', '2026-02-20T10:00:00.000+03:00', null],
    ]);
  });

  it('ends the last segment at termination and drops changes after it', () => {
    expect(timeline([{ requestedAt: '2026-02-15T10:00:00+03:00', tariff: 'cheap' }], '2026-02-25T00:00:00+03:00')).toEqual([
      ['mid', '2026-01-10T12:00:00.000+03:00', '2026-02-25T00:00:00.000+03:00'],
    ]);
  });

  it('orders tariffs by rank when both have one, whatever their prices', () => {
    const rankedLow = tariff({ id: 'low', rank: 1, recurringFees: [{ id: 'fee', name: 'fee', price: '900' }] });
    const rankedHigh = tariff({ id: 'high', rank: 2, recurringFees: [{ id: 'fee', name: 'fee', price: '100' }] });
    const segments = resolveTariffTimeline(
      subscription({
        tariff: { id: 'low', version: 1 },
        activatedAt: '2026-01-01T00:00:00+03:00',
        planChanges: [{ requestedAt: '2026-01-20T00:00:00+03:00', tariff: { id: 'high', version: 1 } }],
      }),
      new TariffCatalogue([rankedLow, rankedHigh]),
    );
    expect(segments.map((segment) => formatInstant(segment.start, 'Europe/Moscow'))).toEqual(['2026-01-01T00:00:00.000+03:00', '2026-01-20T00:00:00.000+03:00']);
  });

  it('names an unknown tariff version', () => {
    expect(() => timeline([{ requestedAt: '2026-02-15T10:00:00+03:00', tariff: 'gold' }])).toThrow(RatingInputError);
    expect(() => timeline([{ requestedAt: '2026-02-15T10:00:00+03:00', tariff: 'gold' }])).toThrow(/Unknown tariff gold@1/);
  });

  it('refuses a catalogue mixing currencies', () => {
    expect(() => new TariffCatalogue([cheap, tariff({ id: 'euro', currency: 'EUR' })])).toThrow(/share a currency/);
  });
});
