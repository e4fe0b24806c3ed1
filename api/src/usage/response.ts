/**
 * The usage response: shared's sparse UsageSeries turned into the public JSON shape.
 *
 * Choices, documented in the OpenAPI description and the README:
 * - Dense series: every bucket of [from, to) is present, zero-filled, so
 *   series.length = (to - from) / step and a chart or a sum needs no gap handling.
 *   The range limits per step keep this to a few thousand buckets at most.
 * - One set of traffic classes for the whole response (every class with traffic in
 *   the range, in either direction), present in every bucket and in the totals, so
 *   clients can rely on the same keys everywhere.
 * - Counters are decimal strings: UInt64 sums can exceed 2^53.
 */
import type { Counters, Direction, UsageSeries } from '@flowbill/shared/clickhouse/index';
import { z } from 'zod';
import { STEP_MS, STEPS, type Step } from './steps.js';

const decimalCount = z
  .string()
  .regex(/^(0|[1-9][0-9]*)$/)
  .describe('Non-negative integer as a decimal string (UInt64 can exceed 2^53, the JSON number precision limit)');

const counters = z.object({ bytes: decimalCount, packets: decimalCount });

const byClass = z
  .record(z.string(), counters)
  .describe('Keyed by traffic class (e.g. internet, local): every class with traffic anywhere in the range, zero where it had none');

export const usageResponse = z.object({
  subscriberId: z.string(),
  from: z.string().describe('Start of the range, inclusive, as UTC ISO 8601'),
  to: z.string().describe('End of the range, exclusive, as UTC ISO 8601'),
  step: z.enum(STEPS),
  series: z
    .array(
      z.object({
        start: z.string().describe('Bucket start, UTC ISO 8601; the bucket covers [start, start + step)'),
        download: byClass,
        upload: byClass,
      }),
    )
    .describe('Every bucket of [from, to) in order, including buckets without traffic (zeros)'),
  totals: z.object({
    download: byClass,
    upload: byClass,
    bytes: decimalCount.describe('All bytes in the range, both directions and all classes'),
    packets: decimalCount.describe('All packets in the range, both directions and all classes'),
  }),
});

export type UsageResponse = z.infer<typeof usageResponse>;
type ByClass = Record<string, { bytes: string; packets: string }>;

const DIRECTIONS: readonly Direction[] = ['download', 'upload'];

export function toUsageResponse(series: UsageSeries, step: Step): UsageResponse {
  const fromMs = series.from * 1000;
  const toMs = series.to * 1000;
  const stepMs = STEP_MS[step];

  const classes = [...new Set(series.buckets.flatMap((b) => b.classes.map((c) => c.trafficClass)))].sort();
  const sums = { download: new Map<string, Counters>(), upload: new Map<string, Counters>() };
  const byStart = new Map<number, ByClassPair>();
  for (const bucket of series.buckets) {
    const pair = { download: emptyByClass(classes), upload: emptyByClass(classes) };
    for (const usage of bucket.classes) {
      pair[usage.direction][usage.trafficClass] = { bytes: usage.bytes.toString(), packets: usage.packets.toString() };
      const previous = sums[usage.direction].get(usage.trafficClass);
      sums[usage.direction].set(usage.trafficClass, previous ? add(previous, usage) : usage);
    }
    byStart.set(bucket.start * 1000, pair);
  }

  const out: UsageResponse['series'] = [];
  for (let start = fromMs; start < toMs; start += stepMs) {
    const pair = byStart.get(start) ?? { download: emptyByClass(classes), upload: emptyByClass(classes) };
    out.push({ start: isoUtc(start), ...pair });
  }

  const totals = { download: emptyByClass(classes), upload: emptyByClass(classes) };
  let bytes = 0n;
  let packets = 0n;
  for (const direction of DIRECTIONS) {
    for (const [trafficClass, sum] of sums[direction]) {
      totals[direction][trafficClass] = { bytes: sum.bytes.toString(), packets: sum.packets.toString() };
      bytes += sum.bytes;
      packets += sum.packets;
    }
  }

  return {
    subscriberId: series.subscriberId,
    from: isoUtc(fromMs),
    to: isoUtc(toMs),
    step,
    series: out,
    totals: { ...totals, bytes: bytes.toString(), packets: packets.toString() },
  };
}

interface ByClassPair {
  download: ByClass;
  upload: ByClass;
}

function emptyByClass(classes: readonly string[]): ByClass {
  // No prototype: a class configured as "__proto__" must be a key like any other.
  const result: ByClass = Object.create(null);
  for (const c of classes) result[c] = { bytes: '0', packets: '0' };
  return result;
}

function add(a: Counters, b: Counters): Counters {
  return { bytes: a.bytes + b.bytes, packets: a.packets + b.packets, flows: a.flows + b.flows };
}

/** 2026-03-01T00:00:00Z: whole seconds, so the milliseconds part is noise. */
export function isoUtc(ms: number): string {
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}
