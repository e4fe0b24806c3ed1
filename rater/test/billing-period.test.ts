import { describe, expect, it } from 'vitest';
import { billingPeriodContaining, billingPeriodForKey, describePeriod, periodOrdinal } from '../src/period/billing-period.js';
import { parseIsoInstant } from '../src/time/zoned-time.js';

const describeKey = (key: string, cycle: Parameters<typeof billingPeriodForKey>[1], zone: string) => {
  const { start, end } = describePeriod(billingPeriodForKey(key, cycle, zone));
  return [start, end];
};

describe('calendar-month periods', () => {
  it('run between local midnights of the 1st, half-open', () => {
    expect(describeKey('2026-03', { kind: 'calendar-month' }, 'Europe/Moscow')).toEqual(['2026-03-01T00:00:00.000+03:00', '2026-04-01T00:00:00.000+03:00']);
    expect(describeKey('2026-12', { kind: 'calendar-month' }, 'Asia/Almaty')).toEqual(['2026-12-01T00:00:00.000+05:00', '2027-01-01T00:00:00.000+05:00']);
  });

  it('follow a DST change: March in Berlin is 743 hours long', () => {
    const period = billingPeriodForKey('2026-03', { kind: 'calendar-month' }, 'Europe/Berlin');
    expect(describeKey('2026-03', { kind: 'calendar-month' }, 'Europe/Berlin')).toEqual(['2026-03-01T00:00:00.000+01:00', '2026-04-01T00:00:00.000+02:00']);
    expect((period.end - period.start) / 3_600_000).toBe(743);
  });
});

describe('anniversary periods', () => {
  it('start on the anchor day of each month', () => {
    expect(describeKey('2026-03', { kind: 'anniversary', anchorDay: 15 }, 'Europe/Moscow')).toEqual(['2026-03-15T00:00:00.000+03:00', '2026-04-15T00:00:00.000+03:00']);
  });

  it.each([
    // anchor, key, start, end
    [31, '2026-01', '2026-01-31', '2026-02-28'],
    [31, '2026-02', '2026-02-28', '2026-03-31'],
    [30, '2026-02', '2026-02-28', '2026-03-30'],
    [29, '2028-02', '2028-02-29', '2028-03-29'],
    [31, '2026-04', '2026-04-30', '2026-05-31'],
  ])('clamp anchor %i to the month’s last day: %s is [%s, %s)', (anchorDay, key, start, end) => {
    expect(describeKey(key, { kind: 'anniversary', anchorDay }, 'Europe/Moscow')).toEqual([`${start}T00:00:00.000+03:00`, `${end}T00:00:00.000+03:00`]);
  });

  it('tile time with no gaps or overlaps', () => {
    const cycle = { kind: 'anniversary', anchorDay: 31 } as const;
    const keys = ['2026-01', '2026-02', '2026-03', '2026-04', '2026-05'];
    const periods = keys.map((key) => billingPeriodForKey(key, cycle, 'Europe/Moscow'));
    periods.slice(1).forEach((period, index) => expect(period.start).toBe(periods[index].end));
  });
});

describe('the period containing an instant', () => {
  it.each([
    ['2026-03-14T23:59:59+03:00', '2026-02'],
    ['2026-03-15T00:00:00+03:00', '2026-03'],
    ['2026-04-14T12:00:00+03:00', '2026-03'],
  ])('%s with anchor 15 is in %s', (instant, key) => {
    expect(billingPeriodContaining(parseIsoInstant(instant, 'UTC'), { kind: 'anniversary', anchorDay: 15 }, 'Europe/Moscow').key).toBe(key);
  });

  it('reads the instant in the subscriber’s zone: 22:00 UTC on 31 March is already April in Moscow', () => {
    expect(billingPeriodContaining(parseIsoInstant('2026-03-31T22:00:00Z', 'UTC'), { kind: 'calendar-month' }, 'Europe/Moscow').key).toBe('2026-04');
    expect(billingPeriodContaining(parseIsoInstant('2026-03-31T22:00:00Z', 'UTC'), { kind: 'calendar-month' }, 'Europe/London').key).toBe('2026-03');
  });

  it('numbers consecutive periods consecutively across a year end', () => {
    expect(periodOrdinal('2027-01') - periodOrdinal('2026-12')).toBe(1);
  });
});
