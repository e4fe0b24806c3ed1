import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAddressOrPrefix, parseIpv6, prefixContainsIpv4, prefixContainsIpv6 } from '@flowbill/shared/ip/index';
import { AttributionTableError } from './attribution-table-error.js';
import { NO_HOLDER, type SubscriberAssignment, SubscriberIndex } from './subscriber-index.js';

const at = (iso: string) => Date.parse(iso);
const forever = (subscriberId: string, prefix: string): SubscriberAssignment => ({ subscriberId, prefix, validFrom: 0, validTo: null });

describe('SubscriberIndex with IPv4', () => {
  const index = SubscriberIndex.build([
    forever('pool-owner', '100.64.0.0/24'),
    forever('alice', '100.64.0.7'),
    forever('bob', '100.64.0.8/30'),
  ]);
  const noon = at('2025-03-01T12:00:00Z');

  it('finds hosts and prefixes', () => {
    expect(index.subscriberAt('100.64.0.7', noon)).toBe('alice');
    expect(index.subscriberAt('100.64.0.9', noon)).toBe('bob');
    expect(index.subscriberAt('100.64.0.11', noon)).toBe('bob');
  });

  it('lets the longest prefix win', () => {
    expect(index.subscriberAt('100.64.0.6', noon)).toBe('pool-owner');
    expect(index.subscriberAt('100.64.0.12', noon)).toBe('pool-owner');
  });

  it('returns no holder outside every assignment', () => {
    expect(index.subscriberAt('100.64.1.0', noon)).toBeUndefined();
    expect(index.holderOf4(0x08080808, noon)).toBe(NO_HOLDER);
  });

  it('names the matched assignment', () => {
    const holder = index.holderOf4(0x64400007, noon);
    expect(index.subscriberOf(holder)).toBe('alice');
    expect(index.assignedPrefixOf(holder)).toBe('100.64.0.7/32');
  });

  it('returns no holder before validFrom', () => {
    expect(index.holderOf4(0x64400007, -1)).toBe(NO_HOLDER);
  });
});

describe('SubscriberIndex /16 presence filter', () => {
  it('still finds prefixes shorter than /16, across the /16s they cover, and nothing beside them', () => {
    const index = SubscriberIndex.build([forever('wide', '10.0.0.0/8'), forever('mid', '172.16.0.0/12'), forever('narrow', '192.168.7.0/24'), forever('host', '198.51.100.9')]);
    const noon = at('2025-03-01T12:00:00Z');
    expect(index.subscriberAt('10.255.255.255', noon)).toBe('wide');
    expect(index.subscriberAt('10.0.0.1', noon)).toBe('wide');
    expect(index.subscriberAt('172.31.200.1', noon)).toBe('mid');
    expect(index.subscriberAt('172.32.0.1', noon)).toBeUndefined();
    expect(index.subscriberAt('192.168.7.200', noon)).toBe('narrow');
    expect(index.subscriberAt('192.168.8.1', noon)).toBeUndefined();
    expect(index.subscriberAt('198.51.100.9', noon)).toBe('host');
    expect(index.subscriberAt('198.51.100.10', noon)).toBeUndefined();
    expect(index.subscriberAt('11.0.0.1', noon)).toBeUndefined();
    expect(SubscriberIndex.build([forever('everything', '0.0.0.0/0')]).subscriberAt('203.0.113.1', noon)).toBe('everything');
  });
});

describe('SubscriberIndex with IPv6 prefixes of different lengths', () => {
  const index = SubscriberIndex.build([
    forever('isp-pool', '2001:db8::/32'),
    forever('business', '2001:db8:1::/48'),
    forever('home-56', '2001:db8:2:100::/56'),
    forever('home-64', '2001:db8:2:200::/64'),
    forever('server', '2001:db8:2:200::80'),
    forever('v4-user', '100.64.0.1'),
  ]);

  it.each([
    ['2001:db8:2:200::80', 'server', '2001:db8:2:200::80/128'],
    ['2001:db8:2:200::81', 'home-64', '2001:db8:2:200::/64'],
    ['2001:db8:2:1ff:ffff:ffff:ffff:ffff', 'home-56', '2001:db8:2:100::/56'],
    ['2001:db8:1:ffff::1', 'business', '2001:db8:1::/48'],
    ['2001:db8:ffff::1', 'isp-pool', '2001:db8::/32'],
  ])('%s belongs to %s via %s', (address, subscriber, prefix) => {
    const column = new Uint8Array(32);
    column.set(parseIpv6(address), 16);
    const holder = index.holderOf6(column, 16, 0);
    expect(index.subscriberOf(holder)).toBe(subscriber);
    expect(index.assignedPrefixOf(holder)).toBe(prefix);
  });

  it('does not confuse IPv4 and IPv6', () => {
    expect(index.subscriberAt('2001:db9::1', 0)).toBeUndefined();
    expect(index.subscriberAt('::ffff:100.64.0.1', 0)).toBeUndefined();
    expect(index.subscriberAt('100.64.0.1', 0)).toBe('v4-user');
  });
});

describe('SubscriberIndex over time', () => {
  const reassignment = at('2025-03-01T10:23:17.250Z');
  const index = SubscriberIndex.build([
    { subscriberId: 'old-tenant', prefix: '100.64.0.7', validFrom: at('2025-01-01T00:00:00Z'), validTo: reassignment },
    { subscriberId: 'new-tenant', prefix: '100.64.0.7', validFrom: reassignment, validTo: null },
    { subscriberId: 'pool-owner', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
    { subscriberId: 'trial', prefix: '2001:db8:2:1a0::/64', validFrom: at('2025-03-01T10:00:00Z'), validTo: at('2025-03-01T11:00:00Z') },
  ]);

  it('moves an address reassigned mid-hour to the new subscriber from that moment', () => {
    expect(index.subscriberAt('100.64.0.7', at('2025-03-01T10:00:00Z'))).toBe('old-tenant');
    expect(index.subscriberAt('100.64.0.7', reassignment - 1)).toBe('old-tenant');
    expect(index.subscriberAt('100.64.0.7', reassignment)).toBe('new-tenant');
    expect(index.subscriberAt('100.64.0.7', at('2025-03-01T10:59:59Z'))).toBe('new-tenant');
    expect(index.subscriberAt('100.64.0.7', at('2024-12-31T23:59:59Z'))).toBeUndefined();
  });

  it('lets a more specific prefix win only while it is valid', () => {
    expect(index.subscriberAt('2001:db8:2:1a0::9', at('2025-03-01T09:59:59.999Z'))).toBe('pool-owner');
    expect(index.subscriberAt('2001:db8:2:1a0::9', at('2025-03-01T10:00:00Z'))).toBe('trial');
    expect(index.subscriberAt('2001:db8:2:1a0::9', at('2025-03-01T10:59:59.999Z'))).toBe('trial');
    expect(index.subscriberAt('2001:db8:2:1a0::9', at('2025-03-01T11:00:00Z'))).toBe('pool-owner');
    expect(index.subscriberAt('2001:db8:2:1a1::9', at('2025-03-01T10:30:00Z'))).toBe('pool-owner');
  });
});

describe('SubscriberIndex.build rejects bad tables', () => {
  function problemsOf(assignments: SubscriberAssignment[]): readonly string[] {
    try {
      SubscriberIndex.build(assignments);
    } catch (error) {
      expect(error).toBeInstanceOf(AttributionTableError);
      return (error as AttributionTableError).problems;
    }
    throw new Error('expected the table to be rejected');
  }

  it('rejects a prefix with host bits set, naming the row and the network meant', () => {
    const problems = problemsOf([forever('alice', '100.64.0.0/24'), forever('bob', '10.0.0.1/24')]);
    expect(problems).toEqual([
      'row 1 (subscriber "bob", prefix "10.0.0.1/24"): invalid prefix "10.0.0.1/24": host bits are set after the first 24 bits (the network is 10.0.0.0/24)',
    ]);
  });

  it('rejects malformed addresses and empty subscriber ids', () => {
    const problems = problemsOf([forever('alice', '2001:db8::/129'), forever('', '100.64.0.1'), forever('carol', '100.64.0.300')]);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toContain('length must be a decimal 0..128, got "129"');
    expect(problems[1]).toContain('subscriberId must be a non-empty string');
    expect(problems[2]).toContain('invalid IPv4 address "100.64.0.300"');
  });

  it('rejects empty or inverted validity intervals and non-finite times', () => {
    const problems = problemsOf([
      { subscriberId: 'a', prefix: '100.64.0.1', validFrom: 1000, validTo: 1000 },
      { subscriberId: 'b', prefix: '100.64.0.2', validFrom: 1000, validTo: 500 },
      { subscriberId: 'c', prefix: '100.64.0.3', validFrom: Number.NaN, validTo: null },
    ]);
    expect(problems[0]).toMatch(/row 0 .*validTo \(1970-01-01T00:00:01.000Z\) must be after validFrom/);
    expect(problems[1]).toMatch(/row 1 .*must be after validFrom/);
    expect(problems[2]).toMatch(/row 2 .*validFrom must be a finite number/);
  });

  it('rejects one prefix held by two subscribers at the same time', () => {
    const problems = problemsOf([
      { subscriberId: 'alice', prefix: '100.64.0.7/32', validFrom: 0, validTo: null },
      { subscriberId: 'bob', prefix: '100.64.0.7', validFrom: at('2025-03-01T10:00:00Z'), validTo: at('2025-03-01T11:00:00Z') },
    ]);
    expect(problems).toEqual([
      '100.64.0.7/32 is assigned to "alice" [1970-01-01T00:00:00.000Z, open) and to "bob" [2025-03-01T10:00:00.000Z, 2025-03-01T11:00:00.000Z) at the same time',
    ]);
  });

  it('accepts duplicate rows of the same subscriber', () => {
    const index = SubscriberIndex.build([forever('alice', '100.64.0.7'), forever('alice', '100.64.0.7/32')]);
    expect(index.subscriberAt('100.64.0.7', 5)).toBe('alice');
  });
});

describe('SubscriberIndex agrees with a linear scan', () => {
  // Nested candidates so longest-prefix and time fallbacks interact often.
  const prefixes4 = ['10.0.0.0/8', '10.1.0.0/16', '10.1.2.0/24', '10.1.2.0/25', '10.1.2.3/32', '10.1.2.128/26'];
  const prefixes6 = ['2001:db8::/32', '2001:db8:0:100::/56', '2001:db8:0:180::/64', '2001:db8:0:180::1/128', '2001:db8:1::/48'];
  const addresses4 = ['10.1.2.3', '10.1.2.4', '10.1.2.130', '10.1.3.0', '10.9.9.9', '11.0.0.0'];
  const addresses6 = ['2001:db8:0:180::1', '2001:db8:0:180::2', '2001:db8:0:1ff::', '2001:db8:1:1::', '2001:db8:2::', '2002::'];

  // Per prefix: consecutive non-overlapping intervals, each with a random subscriber.
  const timelineOf = (prefix: string) =>
    fc
      .array(fc.record({ gap: fc.integer({ min: 0, max: 3 }), span: fc.integer({ min: 1, max: 4 }), who: fc.constantFrom('a', 'b', 'c'), open: fc.boolean() }), {
        maxLength: 3,
      })
      .map((steps) => {
        const rows: SubscriberAssignment[] = [];
        let time = 0;
        for (const step of steps) {
          const from = time + step.gap;
          const isLast = step === steps[steps.length - 1];
          rows.push({ subscriberId: step.who, prefix, validFrom: from, validTo: isLast && step.open ? null : from + step.span });
          time = from + step.span;
        }
        return rows;
      });
  const table = fc
    .tuple(...[...prefixes4, ...prefixes6].map(timelineOf))
    .map((perPrefix) => perPrefix.flat());

  const ipv4 = (text: string) => text.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
  const parsedPrefixes = new Map([...prefixes4, ...prefixes6].map((text) => [text, parseAddressOrPrefix(text)]));
  const containers = new Map(
    [...addresses4, ...addresses6].map((address) => {
      const matches = (prefixText: string) => {
        const prefix = parsedPrefixes.get(prefixText)!;
        return address.includes(':') ? prefixContainsIpv6(prefix, parseIpv6(address)) : prefixContainsIpv4(prefix, ipv4(address));
      };
      return [address, new Set([...parsedPrefixes.keys()].filter(matches))];
    }),
  );

  /** Reference: of the rows valid at `time` whose prefix contains `address`, the longest prefix's subscriber. */
  function naive(rows: SubscriberAssignment[], address: string, time: number): string | undefined {
    let best: { length: number; who: string } | undefined;
    for (const row of rows) {
      const length = parsedPrefixes.get(row.prefix)!.length;
      const valid = row.validFrom <= time && (row.validTo === null || time < row.validTo);
      if (containers.get(address)!.has(row.prefix) && valid && (best === undefined || length > best.length)) {
        best = { length, who: row.subscriberId };
      }
    }
    return best?.who;
  }

  it('for every address and time', () => {
    fc.assert(
      fc.property(table, (rows) => {
        const index = SubscriberIndex.build(rows);
        for (let time = -1; time <= 16; time += 0.5) {
          for (const address of [...addresses4, ...addresses6]) {
            expect(index.subscriberAt(address, time), `${address} at ${time}`).toBe(naive(rows, address, time));
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
