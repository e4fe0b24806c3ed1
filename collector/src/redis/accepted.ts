/**
 * Reading the accepted totals back: what reconciliation (and the fault tests) compare
 * ClickHouse against.
 */
import type { Redis } from 'ioredis';
import { parseAcceptedField, type RedisKeys } from './keys.js';

export interface AcceptedTotals {
  bytes: bigint;
  packets: bigint;
  flows: bigint;
}

/** Totals over every exporter and day, or only those `include` keeps. */
export async function readAcceptedTotals(
  redis: Redis,
  keys: RedisKeys,
  include: (exporter: string, day: string) => boolean = () => true,
): Promise<AcceptedTotals> {
  const totals: AcceptedTotals = { bytes: 0n, packets: 0n, flows: 0n };
  const all = await redis.hgetall(keys.accepted);
  for (const [field, value] of Object.entries(all)) {
    const parsed = parseAcceptedField(field);
    if (parsed === null || !include(parsed.exporter, parsed.day)) continue;
    totals[parsed.counter] += BigInt(value);
  }
  return totals;
}
