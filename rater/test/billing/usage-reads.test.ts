import { describe, expect, it } from 'vitest';
import { planUsageReads } from '../../src/billing/usage/usage-reads.js';
import { compareUsage } from '../../src/billing/usage/load-usage.js';

const seconds = (iso: string) => Date.parse(iso) / 1000;

describe('which rollup a billing period is read from', () => {
  it('reads a Moscow month (whole UTC hours) from usage_1h alone', () => {
    expect(planUsageReads(seconds('2026-02-28T21:00:00Z'), seconds('2026-03-31T21:00:00Z'))).toEqual([
      { step: '1h', from: seconds('2026-02-28T21:00:00Z'), to: seconds('2026-03-31T21:00:00Z') },
    ]);
  });

  it('reads the half hours at both edges of a Kolkata (+05:30) month minute by minute', () => {
    expect(planUsageReads(seconds('2026-02-28T18:30:00Z'), seconds('2026-03-31T18:30:00Z'))).toEqual([
      { step: '1m', from: seconds('2026-02-28T18:30:00Z'), to: seconds('2026-02-28T19:00:00Z') },
      { step: '1h', from: seconds('2026-02-28T19:00:00Z'), to: seconds('2026-03-31T18:00:00Z') },
      { step: '1m', from: seconds('2026-03-31T18:00:00Z'), to: seconds('2026-03-31T18:30:00Z') },
    ]);
  });

  it('reads a range inside one hour, or up to an accrual instant, from usage_1m', () => {
    expect(planUsageReads(seconds('2026-03-10T10:05:00Z'), seconds('2026-03-10T10:50:00Z'))).toEqual([
      { step: '1m', from: seconds('2026-03-10T10:05:00Z'), to: seconds('2026-03-10T10:50:00Z') },
    ]);
    expect(planUsageReads(seconds('2026-02-28T21:00:00Z'), seconds('2026-03-10T10:47:00Z')).at(-1)).toEqual({
      step: '1m',
      from: seconds('2026-03-10T10:00:00Z'),
      to: seconds('2026-03-10T10:47:00Z'),
    });
    expect(planUsageReads(100 * 60, 100 * 60)).toEqual([]);
    expect(() => planUsageReads(30, 3600)).toThrow(/whole minutes/);
  });
});

describe('late usage detection', () => {
  const total = (cls: string, bytes: string) => ({ class: cls, direction: 'download' as const, bytes });
  it('sees growth in any class and direction, and refuses to take a decrease for late usage', () => {
    expect(compareUsage([total('internet', '10')], [total('internet', '10')])).toBe('same');
    expect(compareUsage([total('internet', '11')], [total('internet', '10')])).toBe('grew');
    expect(compareUsage([total('internet', '10'), total('local', '1')], [total('internet', '10')])).toBe('grew');
    expect(compareUsage([total('internet', '9'), total('local', '5')], [total('internet', '10')])).toBe('shrank');
    expect(compareUsage([], [total('internet', '10')])).toBe('shrank');
  });
});
