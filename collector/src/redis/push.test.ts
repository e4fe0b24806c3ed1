/**
 * buildPush without Redis: the byte-level line writer against the plain text of usageLine,
 * and the accepted sums against bigint sums.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { UsageEntry } from '../aggregation/index.js';
import { acceptedField, parseUsageLine, usageLine, utcDay } from './keys.js';
import { buildPush } from './push.js';
import { entry, TEST_MINUTE } from './testing.js';

const id = { collectorId: 'c1', runId: 'r1', seq: 1 };

/** What buildPush must produce, computed the obvious way. */
function expected(entries: readonly UsageEntry[]): { minutes: Map<number, string>; accepted: Map<string, bigint> } {
  const minutes = new Map<number, string>();
  const accepted = new Map<string, bigint>();
  for (const e of entries) {
    if (e.bytes === 0n && e.packets === 0n && e.flows === 0n) continue;
    minutes.set(e.minute, `${minutes.get(e.minute) ?? ''}${usageLine(e.subscriberId, e.address, e.direction, e.trafficClass, e.bytes, e.packets, e.flows)}\n`);
    const day = utcDay(e.minute);
    for (const [counter, value] of [
      ['bytes', e.bytes],
      ['packets', e.packets],
      ['flows', e.flows],
    ] as const) {
      const field = acceptedField(e.exporter, day, counter);
      accepted.set(field, (accepted.get(field) ?? 0n) + value);
    }
  }
  for (const [field, value] of accepted) if (value === 0n) accepted.delete(field);
  return { minutes, accepted };
}

function actual(entries: readonly UsageEntry[]) {
  const push = buildPush(id, entries);
  return { minutes: new Map([...push.minutes].map(([minute, text]) => [minute, text.toString('utf8')])), accepted: new Map(push.accepted) };
}

describe('buildPush', () => {
  it('writes one line per non-zero entry, per minute in entry order, and sums accepted per exporter and UTC day', () => {
    const entries = [
      entry({ bytes: 0n, packets: 0n, flows: 0n }),
      entry({ bytes: 9n, packets: 10n, flows: 99n }),
      entry({ minute: TEST_MINUTE + 60, subscriberId: 'bob', direction: 'upload', bytes: 1234567890123n, packets: 0n, flows: 0n }),
      entry({ exporter: '192.0.2.9', bytes: 0n, packets: 1n, flows: 0n }),
      // 23:59 UTC of the same day, then the next day.
      entry({ minute: Date.parse('2025-03-01T23:59:00Z') / 1000 }),
      entry({ minute: Date.parse('2025-03-02T00:00:00Z') / 1000 }),
    ];
    const push = actual(entries);
    expect(push).toEqual(expected(entries));
    expect(push.minutes.get(TEST_MINUTE)).toBe('alice\t100.64.0.7\tdownload\tinternet\t9\t10\t99\nalice\t100.64.0.7\tdownload\tinternet\t0\t1\t0\n');
    expect(push.accepted.get('192.0.2.1\t2025-03-01\tbytes')).toBe(9n + 1234567890123n + 1000n);
    expect(push.accepted.get('192.0.2.1\t2025-03-02\tflows')).toBe(1n);
    expect(push.accepted.has('192.0.2.9\t2025-03-01\tbytes')).toBe(false);
  });

  it('writes counters past 2^53 and sums accepted past 2^53 exactly', () => {
    const entries = [
      entry({ bytes: 2n ** 53n - 1n, packets: 2n ** 53n - 1n, flows: 2n ** 53n - 1n }),
      entry({ subscriberId: 'bob', bytes: 2n ** 53n - 1n, packets: 1n, flows: 0n }),
      entry({ subscriberId: 'carol', bytes: 2n ** 64n + 7n, packets: 2n ** 53n, flows: 1n }),
    ];
    const push = actual(entries);
    expect(push).toEqual(expected(entries));
    expect(push.minutes.get(TEST_MINUTE)?.split('\n')[2]).toBe('carol\t100.64.0.7\tdownload\tinternet\t18446744073709551623\t9007199254740992\t1');
    expect(push.accepted.get('192.0.2.1\t2025-03-01\tbytes')).toBe(2n * (2n ** 53n - 1n) + 2n ** 64n + 7n);
  });

  it('writes non-ASCII text as UTF-8, whatever byte length it has', () => {
    const entries = [entry({ subscriberId: 'zoë-€-😀', trafficClass: 'ünï' }), entry({ subscriberId: 'plain' })];
    const push = buildPush(id, entries);
    const text = push.minutes.get(TEST_MINUTE) as Buffer;
    expect(text.toString('utf8')).toBe(expected(entries).minutes.get(TEST_MINUTE));
    expect(parseUsageLine(text.toString('utf8').split('\n')[0])?.subscriberId).toBe('zoë-€-😀');
  });

  it('refuses negative counters (a line the flusher could not parse)', () => {
    expect(() => buildPush(id, [entry({ packets: -1n })])).toThrow(RangeError);
  });

  it('matches the plain text and bigint sums for any entries', () => {
    const text = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\t') && !s.includes('\n'));
    const counter = fc.oneof(fc.constant(0n), fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 2n ** 53n - 1n }), fc.bigInt({ min: 0n, max: 2n ** 70n }));
    const usage = fc.record({
      exporter: fc.constantFrom('192.0.2.1', '192.0.2.2', '2001:db8::9'),
      subscriberId: text,
      address: fc.oneof(fc.ipV4(), fc.ipV6()),
      minute: fc.integer({ min: 0, max: 3000 }).map((k) => TEST_MINUTE + 60 * k),
      direction: fc.constantFrom('download' as const, 'upload' as const),
      trafficClass: text,
      bytes: counter,
      packets: counter,
      flows: counter,
    });
    fc.assert(
      fc.property(fc.array(usage, { maxLength: 300 }), (entries) => {
        expect(actual(entries)).toEqual(expected(entries));
      }),
      { numRuns: 200 },
    );
  });
});
