import { describe, expect, it } from 'vitest';
import { createRedisPrefix, withRedisPrefix } from '@flowbill/shared/testing/redis';
import { backoffDelay } from './backoff.js';
import { acceptedField, parseAcceptedField, parseUsageLine, RedisKeys, usageLine, utcDay } from './keys.js';
import { MALFORMED_LINES } from './testing.js';

describe('RedisKeys', () => {
  it('puts every key under the prefix and the {u} hash tag', () => {
    const keys = new RedisKeys('flowbill:');
    expect([keys.minute(1740823200), keys.minutes, keys.accepted, keys.pushSeq('c1', 'r1'), keys.flushing, keys.batch('b1'), keys.claimed('b1', 60)]).toEqual([
      'flowbill:{u}:m:1740823200',
      'flowbill:{u}:minutes',
      'flowbill:{u}:accepted',
      'flowbill:{u}:push:c1:r1',
      'flowbill:{u}:flushing',
      'flowbill:{u}:b:b1',
      'flowbill:{u}:f:b1:60',
    ]);
  });

  it('refuses prefixes and ids that would move the hash tag or break the layout', () => {
    expect(() => new RedisKeys('a{b}:')).toThrow(RangeError);
    expect(() => new RedisKeys('x'.repeat(65))).toThrow(RangeError);
    expect(() => new RedisKeys('p:').pushSeq('a:b', 'r')).toThrow(RangeError);
    expect(() => new RedisKeys('p:').batch('')).toThrow(RangeError);
  });
});

describe('usage lines and accepted fields', () => {
  it('round-trips usage lines, IPv6 addresses and counters past 2^53 included', () => {
    const line = usageLine('sub-1', '2001:db8::1', 'upload', 'local', 2n ** 64n, 0, 3n);
    expect(line).toBe('sub-1\t2001:db8::1\tupload\tlocal\t18446744073709551616\t0\t3');
    expect(parseUsageLine(line)).toEqual({
      rowKey: 'sub-1\t2001:db8::1\tupload\tlocal',
      subscriberId: 'sub-1',
      address: '2001:db8::1',
      direction: 'upload',
      trafficClass: 'local',
      bytes: '18446744073709551616',
      packets: '0',
      flows: '3',
    });
  });

  it('rejects lines this layout never writes', () => {
    for (const line of MALFORMED_LINES) {
      expect(parseUsageLine(line), JSON.stringify(line)).toBeNull();
    }
  });

  it('keys accepted totals by exporter and UTC day', () => {
    expect(utcDay(1740873540)).toBe('2025-03-01'); // 23:59 UTC
    expect(utcDay(1740873600)).toBe('2025-03-02');
    expect(parseAcceptedField(acceptedField('192.0.2.1', '2025-03-01', 'flows'))).toEqual({ exporter: '192.0.2.1', day: '2025-03-01', counter: 'flows' });
    expect(parseAcceptedField('192.0.2.1\tbytes')).toBeNull();
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with at most 20 % jitter off', () => {
    const options = { initialMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 40].map((n) => backoffDelay(n, options, () => 0))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(2, options, () => 1)).toBe(160);
  });
});

describe('Redis test prefixes', () => {
  it('withRedisPrefix deletes its own keys afterwards and nobody else’s', async () => {
    const other = await createRedisPrefix();
    try {
      await other.redis.set(`${other.prefix}keep`, '1');
      let used = '';
      await withRedisPrefix(async ({ prefix, redis }) => {
        used = prefix;
        await redis.set(`${prefix}a`, '1');
        await redis.append(`${prefix}{u}:m:1`, 'line\n');
      });
      expect(used).not.toBe(other.prefix);
      expect(await other.redis.keys(`${used}*`)).toEqual([]);
      expect(await other.redis.get(`${other.prefix}keep`)).toBe('1');
    } finally {
      await other.cleanup();
    }
  });
});
