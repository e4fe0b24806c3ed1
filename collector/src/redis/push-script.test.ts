import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import { readAcceptedTotals } from './accepted.js';
import { RedisKeys, usageLine } from './keys.js';
import { buildPush, type Push } from './push.js';
import { applyPush } from './push-script.js';
import { dumpPrefix, entry, minuteLines, TEST_MINUTE } from './testing.js';

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
  it('appends one line per entry to its minute string, registers the minutes and the accepted totals per exporter and day', async () => {
    const push = buildPush({ ...run, seq: 1 }, [
      ...samplePush(1).entries,
      // All-zero entries write no line, and a minute with only those no key at all.
      entry({ subscriberId: 'idle', bytes: 0n, packets: 0n, flows: 0n }),
      entry({ minute: TEST_MINUTE + 120, bytes: 0n, packets: 0n, flows: 0n }),
    ]);
    expect(await applyPush(context.redis, keys, push, 60)).toEqual({ kind: 'applied' });
    expect(await context.redis.get(keys.minute(TEST_MINUTE))).toBe(
      'alice\t100.64.0.7\tdownload\tinternet\t4503599627370496\t3\t1\n' +
        'alice\t100.64.0.7\tdownload\tinternet\t5\t1\t1\n' +
        'alice\t100.64.0.7\tupload\tinternet\t7\t1\t0\n',
    );
    expect(await minuteLines(context.redis, keys.minute(TEST_MINUTE + 60))).toEqual([usageLine('bob', '2001:db8::1', 'download', 'local', 9n, 2n, 0n)]);
    expect(await context.redis.exists(keys.minute(TEST_MINUTE + 120))).toBe(0);
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

  it('appends every push after the lines already in the minute string, summing nothing', async () => {
    await applyPush(context.redis, keys, buildPush({ ...run, seq: 1 }, [entry({ bytes: 1n, packets: 1n, flows: 1n })]), 60);
    await applyPush(context.redis, keys, buildPush({ collectorId: 'c2', runId: 'r9', seq: 1 }, [entry({ bytes: 2n, packets: 2n, flows: 0n }), entry({ subscriberId: 'bob', bytes: 3n })]), 60);
    await applyPush(context.redis, keys, buildPush({ ...run, seq: 2 }, [entry({ bytes: 4n, packets: 0n, flows: 0n })]), 60);
    expect(await minuteLines(context.redis, keys.minute(TEST_MINUTE))).toEqual([
      'alice\t100.64.0.7\tdownload\tinternet\t1\t1\t1',
      'alice\t100.64.0.7\tdownload\tinternet\t2\t2\t0',
      'bob\t100.64.0.7\tdownload\tinternet\t3\t10\t1',
      'alice\t100.64.0.7\tdownload\tinternet\t4\t0\t0',
    ]);
    expect(await readAcceptedTotals(context.redis, keys)).toEqual({ bytes: 10n, packets: 13n, flows: 2n });
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

  it('refuses a push that would overflow an accepted total, writing nothing at all', async () => {
    await applyPush(context.redis, keys, samplePush(1), 60);
    // Bring one total close to the limit directly, then push more than fits, over two minutes.
    await context.redis.hset(keys.accepted, '192.0.2.1\t2025-03-01\tbytes', String(9n * 10n ** 18n - 10n));
    const before = await dumpPrefix(context.redis, context.prefix);
    const tooMuch = buildPush({ ...run, seq: 2 }, [entry({ subscriberId: 'bob' }), entry({ exporter: '192.0.2.2', minute: TEST_MINUTE + 60, bytes: 100n })]);
    expect(await applyPush(context.redis, keys, tooMuch, 60)).toEqual({ kind: 'overflow', fields: [`${keys.accepted} 192.0.2.1\t2025-03-01\tbytes`] });
    expect(await dumpPrefix(context.redis, context.prefix)).toEqual(before);
    // The refused seq stays unused: the next one applies.
    expect(await applyPush(context.redis, keys, buildPush({ ...run, seq: 3 }, [entry({ exporter: '192.0.2.2' })]), 60)).toEqual({ kind: 'applied' });
  });

  it('refuses a push that would take a minute string past the size limit, writing nothing at all', async () => {
    const line = `${usageLine('alice', '100.64.0.7', 'download', 'internet', 1000n, 10n, 1n)}\n`;
    const limit = 3 * Buffer.byteLength(line);
    for (let seq = 1; seq <= 3; seq++) expect(await applyPush(context.redis, keys, buildPush({ ...run, seq }, [entry()]), 60, limit)).toEqual({ kind: 'applied' });
    const before = await dumpPrefix(context.redis, context.prefix);
    const outcome = await applyPush(context.redis, keys, buildPush({ ...run, seq: 4 }, [entry({ minute: TEST_MINUTE + 60 }), entry()]), 60, limit);
    expect(outcome).toEqual({ kind: 'overflow', fields: [`${keys.minute(TEST_MINUTE)} would reach ${4 * Buffer.byteLength(line)} bytes`] });
    expect(await dumpPrefix(context.redis, context.prefix)).toEqual(before);
  });

  it('fails without writing anything when a minute key is not a string (a hash of the older layout)', async () => {
    await context.redis.hset(keys.minute(TEST_MINUTE + 60), 'bob\t2001:db8::1\tdownload\tlocal\tb', '9');
    const before = await dumpPrefix(context.redis, context.prefix);
    await expect(applyPush(context.redis, keys, samplePush(1), 60)).rejects.toThrow(`${keys.minute(TEST_MINUTE + 60)} is a hash, not a minute string`);
    expect(await dumpPrefix(context.redis, context.prefix)).toEqual(before);
  });

  it('runs after the server lost its script cache (EVALSHA falls back to EVAL)', async () => {
    await applyPush(context.redis, keys, samplePush(1), 60);
    await context.redis.script('FLUSH');
    expect(await applyPush(context.redis, keys, samplePush(2), 60)).toEqual({ kind: 'applied' });
    expect((await readAcceptedTotals(context.redis, keys)).flows).toBe(4n);
  });
});
