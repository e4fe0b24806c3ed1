/**
 * Which rollup to read for which part of a billing period.
 *
 * Periods run between local midnights, which are whole UTC hours only in zones with
 * whole-hour offsets. In Asia/Kolkata (+05:30) a period starts at 18:30 UTC, and the
 * usage_1h bucket 18:00-19:00 holds half an hour of the previous period. So the whole
 * hours inside the period come from usage_1h, and the partial hours at either edge from
 * usage_1m, minute by minute: nothing outside the period is billed, nothing inside it
 * is dropped. (The rater prices each bucket by the window in force at its start, so
 * minute buckets at the edges are also priced by the right local day and window.)
 */
export interface UsageRead {
  step: '1m' | '1h';
  /** Epoch seconds, [from, to). */
  from: number;
  to: number;
}

const HOUR = 3_600;

export function planUsageReads(from: number, to: number): UsageRead[] {
  for (const [name, value] of [['from', from], ['to', to]] as const) {
    if (!Number.isSafeInteger(value) || value % 60 !== 0) throw new RangeError(`usage range ${name}=${value} must be whole minutes (epoch seconds)`);
  }
  if (to <= from) return [];
  const firstHour = Math.ceil(from / HOUR) * HOUR;
  const lastHour = Math.floor(to / HOUR) * HOUR;
  if (firstHour >= lastHour) return [{ step: '1m', from, to }];
  const reads: UsageRead[] = [];
  if (from < firstHour) reads.push({ step: '1m', from, to: firstHour });
  reads.push({ step: '1h', from: firstHour, to: lastHour });
  if (lastHour < to) reads.push({ step: '1m', from: lastHour, to });
  return reads;
}
