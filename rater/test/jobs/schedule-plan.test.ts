/** When the scheduler's jobs are due: per subscriber time zone and billing cycle. */
import { describe, expect, it } from 'vitest';
import { jobIdOf } from '../../src/jobs/job-types.js';
import { accrualSlot, planTick } from '../../src/jobs/schedule-plan.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const calendar = { kind: 'calendar-month' as const };
const options = { accrualEveryMs: 15 * MIN, graceMs: 72 * HOUR };

describe('planTick', () => {
  it('accrues the open period as of the slot, and delays its close to the period end in the subscriber zone', () => {
    const now = Date.parse('2026-03-15T10:07:30Z');
    const plan = planTick(
      [
        { id: 'msk-1', timeZone: 'Europe/Moscow', billingCycle: calendar },
        { id: 'vvo-1', timeZone: 'Asia/Vladivostok', billingCycle: calendar },
      ],
      now,
      options,
    );
    expect(plan.accrue).toEqual([
      { data: { subscriberId: 'msk-1', periodKey: '2026-03', asOf: '2026-03-15T10:00:00.000Z' } },
      { data: { subscriberId: 'vvo-1', periodKey: '2026-03', asOf: '2026-03-15T10:00:00.000Z' } },
    ]);
    expect(jobIdOf('accrue', plan.accrue[0].data)).toBe('accrue/msk-1/2026-03/20260315T100000Z');
    // Local midnight of 1 April: 21:00 UTC (Moscow, +03) and 14:00 UTC (Vladivostok, +10) on 31 March.
    expect(plan.close).toEqual([
      { data: { subscriberId: 'msk-1', periodKey: '2026-03' }, at: Date.parse('2026-03-31T21:00:00Z') },
      { data: { subscriberId: 'vvo-1', periodKey: '2026-03' }, at: Date.parse('2026-03-31T14:00:00Z') },
    ]);
  });

  it('two ticks in one slot produce the same accrual ids; the next slot a new one', () => {
    const subscribers = [{ id: 'a', timeZone: 'Europe/Moscow', billingCycle: calendar }];
    const ids = (now: number) => planTick(subscribers, now, options).accrue.map((job) => jobIdOf('accrue', job.data));
    const t = Date.parse('2026-03-15T10:00:00Z');
    expect(ids(t + MIN)).toEqual(ids(t + 14 * MIN + 59_999));
    expect(ids(t + 15 * MIN)).not.toEqual(ids(t));
    expect(accrualSlot(t + 15 * MIN - 1, 15 * MIN)).toBe(t);
  });

  it('adds the previous period close (catch-up) until its end plus the grace period', () => {
    const subscribers = [{ id: 'a', timeZone: 'Europe/Moscow', billingCycle: calendar }];
    const marchEnd = Date.parse('2026-03-31T21:00:00Z');
    const inGrace = planTick(subscribers, marchEnd + 71 * HOUR, options);
    expect(inGrace.accrue[0].data.periodKey).toBe('2026-04');
    expect(inGrace.close).toEqual([
      { data: { subscriberId: 'a', periodKey: '2026-04' }, at: Date.parse('2026-04-30T21:00:00Z') },
      { data: { subscriberId: 'a', periodKey: '2026-03' } },
    ]);
    expect(planTick(subscribers, marchEnd + 72 * HOUR, options).close.map((job) => job.data.periodKey)).toEqual(['2026-04']);
  });

  it('follows anniversary cycles (anchor 31 clamps to the end of shorter months)', () => {
    const now = Date.parse('2026-02-10T00:00:00Z');
    const plan = planTick([{ id: 'b', timeZone: 'Europe/Berlin', billingCycle: { kind: 'anniversary', anchorDay: 31 } }], now, options);
    // The period started 31 January (Berlin), ends 28 February local midnight = 27 Feb 23:00 UTC.
    expect(plan.accrue[0].data.periodKey).toBe('2026-01');
    expect(plan.close[0]).toEqual({ data: { subscriberId: 'b', periodKey: '2026-01' }, at: Date.parse('2026-02-27T23:00:00Z') });
  });
});
