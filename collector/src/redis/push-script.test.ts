import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import { readAcceptedTotals } from './accepted.js';
import { RedisKeys, usageField } from './keys.js';
import { buildPush, type Push } from './push.js';
import { applyPush } from './push-script.js';
import { dumpPrefix, entry, TEST_MINUTE } from './testing.js';

let context: RedisPrefix;
let keys: RedisKeys;

beforeEach(async () => {
  context = await createRedisPrefix();
  keys = new RedisKeys(context.prefix);
});
afterEach(async () => {
  await context.cleanup();
});

const run = { collectorId: 'c1', runId: 'r1' };

function samplePush(seq: number): Push {
  return buildPush({ ...run, seq }, [
    entry({ bytes: 2n ** 52n, packets: 3n, flows: 1n }),
    entry({ exporter: '192.0.2.2', bytes: 5n, packets: 1n, flows: 1n }),
    entry({ direction: 'upload', bytes: 7n, packets: 1n, flows: 0n }),
    entry({ minute: TEST_MINUTE + 60, subscriberId: 'bob', address: '2001:db8::1', trafficClass: 'local', bytes: 9n, packets: 2n, flows: 0n }),
  ]);
}

describe('push script', () => {
  it('adds every field, registers the minutes and the accepted totals per exporter and day', async () => {
    expect(await applyPush(context.redis, keys, samplePush(1), 60)).toEqual({ kind: 'applied' });
    expect(await context.redis.hgetall(keys.minute(TEST_MINUTE))).toEqual({
      [usageField('alice', '100.64.0.7', 'download', 'internet', 'b')]: String(2n ** 52n + 5n),
      [usageField('alice', '100.64.0.7', 'download', 'internet', 'p')]: '4',
      [usageField('alice', '100.64.0.7', 'download', 'internet', 'f')]: '2',
      [usageField('alice', '100.64.0.7', 'upload', 'internet', 'b')]: '7',
      [usageField('alice', '100.64.0.7', 'upload', 'internet', 'p')]: '1',
    });
    expect(await context.redis.hgetall(keys.minute(TEST_MINUTE + 60))).toEqual({
      [usageField('bob', '2001:db8::1', 'download', 'local', 'b')]: '9',
      [usageField('bob', '2001:db8::1', 'download', 'local', 'p')]: '2',
    });
    expect(await context.redis.zrange(keys.minutes, 0, -1, 'WITHSCORES')).toEqual([
      String(TEST_MINUTE),
      String(TEST_MINUTE),
      String(TEST_MINUTE + 60),
      String(TEST_MINUTE + 60),
    ]);
    expect(await context.redis.hgetall(keys.accepted)).toEqual({
      '192.0.2.1\t2025-03-01\tbytes': String(2n ** 52n + 16n),
      '192.0.2.1\t2025-03-01\tpackets': '6',
      '192.0.2.1\t2025-03-01\tflows': '1',
      '192.0.2.2\t2025-03-01\tbytes': '5',
      '192.0.2.2\t2025-03-01\tpackets': '1',
      '192.0.2.2\t2025-03-01\tflows': '1',
    });
    expect(await context.redis.ttl(keys.pushSeq('c1', 'r1'))).toBeGreaterThan(0);
  });

  it('applies the same push only once: a second application changes nothing', async () => {
    await applyPush(context.redis, keys, samplePush(1), 60);
    const before = await dumpPrefix(context.redis, context.prefix);
    expect(await applyPush(context.redis, keys, samplePush(1), 60)).toEqual({ kind: 'duplicate' });
    expect(await dumpPrefix(context.redis, context.prefix)).toEqual(before);
  });

  it('treats an older seq of the same run as applied, and applies the next seq and other runs', async () => {
    await applyPush(context.redis, keys, samplePush(2), 60);
    const before = await dumpPrefix(context.redis, context.prefix);
    expect(await applyPush(context.redis, keys, samplePush(1), 60)).toEqual({ kind: 'duplicate' });
    expect(await dumpPrefix(context.redis, context.prefix)).toEqual(before);

    expect(await applyPush(context.redis, keys, samplePush(3), 60)).toEqual({ kind: 'applied' });
    const otherRun = buildPush({ collectorId: 'c1', runId: 'r2', seq: 1 }, samplePush(1).entries);
    expect(await applyPush(context.redis, keys, otherRun, 60)).toEqual({ kind: 'applied' });
    const otherCollector = buildPush({ collectorId: 'c2', runId: 'r1', seq: 1 }, samplePush(1).entries);
    expect(await applyPush(context.redis, keys, otherCollector, 60)).toEqual({ kind: 'applied' });
    expect((await readAcceptedTotals(context.redis, keys)).packets).toBe(4n * 7n);
  });

  it('refuses a push that would overflow a counter, writing nothing at all', async () => {
    await applyPush(context.redis, keys, buildPush({ ...run, seq: 1 }, [entry({ bytes: 2n ** 53n - 1n })]), 60);
    // Bring one total close to the limit directly, then push more than fits.
    await context.redis.hset(keys.minute(TEST_MINUTE), usageField('alice', '100.64.0.7', 'download', 'internet', 'b'), String(9n * 10n ** 18n - 10n));
    const before = await dumpPrefix(context.redis, context.prefix);
    const outcome = await applyPush(context.redis, keys, buildPush({ ...run, seq: 2 }, [entry({ subscriberId: 'bob' }), entry({ bytes: 100n })]), 60);
    expect(outcome).toEqual({ kind: 'overflow', fields: [`${keys.minute(TEST_MINUTE)} ${usageField('alice', '100.64.0.7', 'download', 'internet', 'b')}`] });
    expect(await dumpPrefix(context.redis, context.prefix)).toEqual(before);
  });

  it('runs after the server lost its script cache (EVALSHA falls back to EVAL)', async () => {
    await applyPush(context.redis, keys, samplePush(1), 60);
    await context.redis.script('FLUSH');
    expect(await applyPush(context.redis, keys, samplePush(2), 60)).toEqual({ kind: 'applied' });
    expect((await readAcceptedTotals(context.redis, keys)).flows).toBe(4n);
  });
});
