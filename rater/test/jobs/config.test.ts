/** The rater process configuration: defaults, typed values, and errors that name the variable. */
import { ConfigError } from '@flowbill/shared/config/index';
import { describe, expect, it } from 'vitest';
import { loadRaterConfig } from '../../src/jobs/config.js';

describe('loadRaterConfig', () => {
  it('has working defaults', () => {
    expect(loadRaterConfig({})).toMatchObject({
      REDIS_URL: 'redis://127.0.0.1:6379',
      REDIS_PREFIX: 'flowbill:',
      RATER_GRACE_HOURS: 72,
      RATER_LATE_USAGE_HOURS: [24, 168],
      RATER_ACCRUAL_MINUTES: 15,
      RATER_ATTEMPTS: 8,
      RATER_LOCK_MS: 30_000,
      RATER_SCHEDULER: true,
    });
  });

  it('parses the late-usage hours as a sorted set', () => {
    expect(loadRaterConfig({ RATER_LATE_USAGE_HOURS: '168, 0,24,24' }).RATER_LATE_USAGE_HOURS).toEqual([0, 24, 168]);
  });

  it('names every bad variable', () => {
    try {
      loadRaterConfig({ RATER_LATE_USAGE_HOURS: '1,x', RATER_CONCURRENCY: '0', RATER_SCHEDULER: 'maybe' });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        'RATER_LATE_USAGE_HOURS="1,x": expected comma-separated whole hours, e.g. "24,168"',
        'RATER_CONCURRENCY="0": expected an integer from 1 to 256',
        'RATER_SCHEDULER="maybe": expected true or false',
      ]);
    }
  });
});
