/**
 * Bucket sizes the usage route serves, each backed by a ClickHouse table
 * (usage_1m, usage_1h, usage_1d), and the longest range each may cover so one
 * request returns at most a few thousand buckets.
 */
export const STEPS = ['1m', '1h', '1d'] as const;
export type Step = (typeof STEPS)[number];

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

export const STEP_MS: Record<Step, number> = { '1m': MINUTE_MS, '1h': HOUR_MS, '1d': DAY_MS };

/** 1m: 2 days (2,880 buckets); 1h: 93 days (a quarter; 2,232); 1d: 3 years with a leap day (1,096). */
export const MAX_RANGE: Record<Step, { ms: number; text: string }> = {
  '1m': { ms: 2 * DAY_MS, text: '2 days' },
  '1h': { ms: 93 * DAY_MS, text: '93 days' },
  '1d': { ms: 1096 * DAY_MS, text: '1096 days (3 years)' },
};

/** What a bucket boundary looks like, for error messages. */
export const STEP_BOUNDARY: Record<Step, string> = {
  '1m': 'a whole minute',
  '1h': 'a whole hour (UTC)',
  '1d': 'midnight UTC',
};
