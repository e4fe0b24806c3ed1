import { parseSubscription, parseTariff, parseUsage } from '../../src/input/parse-inputs.js';
import type { SubscriptionInput } from '../../src/subscription/subscription-schema.js';
import type { Tariff, TariffInput } from '../../src/tariff/tariff-schema.js';
import type { Subscription } from '../../src/subscription/subscription-schema.js';
import type { UsageBucket, UsageBucketInput } from '../../src/usage/usage-schema.js';
import { ratePeriod, type RatingResult } from '../../src/rating/rate-period.js';

/** Test inputs go through the same schemas as real ones, so defaults are filled in exactly as in production. */
export function tariff(input: Partial<TariffInput> & Pick<TariffInput, 'id'>): Tariff {
  return parseTariff({ version: 1, name: input.id, ...input });
}

export function subscription(input: Partial<SubscriptionInput> & Pick<SubscriptionInput, 'tariff' | 'activatedAt'>): Subscription {
  return parseSubscription({ subscriberId: 'sub-1', timeZone: 'Europe/Moscow', ...input });
}

export function buckets(input: UsageBucketInput[]): UsageBucket[] {
  return parseUsage(input);
}

export const GB = 1_000_000_000n;
export const GIB = 1n << 30n;

/** A bucket of `bytes` at `start`, internet download unless said otherwise. */
export function bucket(start: string, bytes: bigint, overrides: Partial<UsageBucketInput> = {}): UsageBucketInput {
  return { start, class: 'internet', direction: 'download', bytes: bytes.toString(), ...overrides };
}

export function rate(input: { tariffs: Tariff[]; subscription: Subscription; usage?: UsageBucket[]; period: string }): RatingResult {
  return ratePeriod({ usage: [], ...input });
}

export function amounts(result: RatingResult): Record<string, string> {
  return Object.fromEntries(result.lines.map((line) => [line.id, line.amount]));
}
