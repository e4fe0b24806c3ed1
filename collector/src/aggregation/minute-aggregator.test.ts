import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpv4, parseIpv6 } from '@flowbill/shared/ip/index';
import { BatchAttributor, SubscriberIndex, spreadOverMinutes, TrafficClassifier, UnattributedTally } from '../attribution/index.js';
import { FlowBatch } from '../decoder/batch.js';
import { MinuteAggregator, type UsageRecord } from './minute-aggregator.js';
import type { UsageEntry } from './usage-entry.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const M = 60_000;
const S0 = T0 / 1000;

function record(overrides: Partial<UsageRecord> = {}): UsageRecord {
  return {
    exporter: '192.0.2.1',
    subscriberId: 'alice',
    address: '100.64.0.7',
    direction: 'download',
    trafficClass: 'internet',
    start: T0 + 10_000,
    end: T0 + 20_000,
    bytes: 1000n,
    packets: 10n,
    ...overrides,
  };
}

/** Entries as comparable plain rows, sorted. */
function rows(entries: UsageEntry[]) {
  return entries
    .map((e) => `${e.exporter}|${e.subscriberId}|${e.address}|${e.minute}|${e.direction}|${e.trafficClass}|${e.bytes}|${e.packets}|${e.flows}`)
    .sort();
}

function totals(entries: UsageEntry[]) {
  return entries.reduce((t, e) => ({ bytes: t.bytes + e.bytes, packets: t.packets + e.packets, flows: t.flows + e.flows }), { bytes: 0n, packets: 0n, flows: 0n });
}

describe('MinuteAggregator', () => {
  it('sums records of the same key exactly, beyond 2^53', () => {
    const aggregator = new MinuteAggregator();
    aggregator.addRecord(record({ bytes: 2n ** 60n, packets: 3n }));
    aggregator.addRecord(record({ bytes: 2n ** 60n + 7n, packets: 4n }));
    aggregator.addRecord(record({ direction: 'upload', bytes: 5n, packets: 1n }));
    expect(rows(aggregator.drain())).toEqual([
      `192.0.2.1|alice|100.64.0.7|${S0}|download|internet|${2n ** 61n + 7n}|7|2`,
      `192.0.2.1|alice|100.64.0.7|${S0}|upload|internet|5|1|1`,
    ]);
    expect(aggregator.size).toBe(0);
  });

  it('keeps keys apart by every part of the key', () => {
    const aggregator = new MinuteAggregator();
    const base = record();
    aggregator.addRecord(base);
    aggregator.addRecord(record({ exporter: '192.0.2.2' }));
    aggregator.addRecord(record({ subscriberId: 'bob' }));
    aggregator.addRecord(record({ address: '100.64.0.8' }));
    aggregator.addRecord(record({ direction: 'upload' }));
    aggregator.addRecord(record({ trafficClass: 'local' }));
    aggregator.addRecord(record({ start: T0 + M + 1, end: T0 + M + 2 }));
    expect(aggregator.size).toBe(7);
  });

  it('spreads a flow over the minutes it spans, flow counted once in its start minute', () => {
    const aggregator = new MinuteAggregator();
    // 30 s in minute 0, 60 s in minute 1, 30 s in minute 2: 1:2:1.
    aggregator.addRecord(record({ start: T0 + 30_000, end: T0 + 150_000, bytes: 1000n, packets: 8n }));
    expect(rows(aggregator.drain())).toEqual([
      `192.0.2.1|alice|100.64.0.7|${S0}|download|internet|250|2|1`,
      `192.0.2.1|alice|100.64.0.7|${S0 + 60}|download|internet|500|4|0`,
      `192.0.2.1|alice|100.64.0.7|${S0 + 120}|download|internet|250|2|0`,
    ]);
  });

  it('puts a flow ending exactly on a minute boundary only in the minutes it covers', () => {
    const aggregator = new MinuteAggregator();
    aggregator.addRecord(record({ start: T0, end: T0 + M, bytes: 999n, packets: 3n }));
    aggregator.addRecord(record({ start: T0 + M, end: T0 + 2 * M, bytes: 1n, packets: 1n }));
    expect(rows(aggregator.drain())).toEqual([
      `192.0.2.1|alice|100.64.0.7|${S0}|download|internet|999|3|1`,
      `192.0.2.1|alice|100.64.0.7|${S0 + 60}|download|internet|1|1|1`,
    ]);
  });

  it('gives the leftover unit to the largest remainder at a boundary (largest remainder, exact total)', () => {
    const aggregator = new MinuteAggregator();
    // 1 ms before the boundary and 2 ms after: 10 bytes split 3.33 / 6.67 -> 3 / 7.
    aggregator.addRecord(record({ start: T0 + M - 1, end: T0 + M + 2, bytes: 10n, packets: 1n }));
    const entries = aggregator.drain();
    expect(rows(entries)).toEqual([
      `192.0.2.1|alice|100.64.0.7|${S0}|download|internet|3|0|1`,
      `192.0.2.1|alice|100.64.0.7|${S0 + 60}|download|internet|7|1|0`,
    ]);
  });

  it('counts the flow in its start minute even when that minute gets no bytes', () => {
    const aggregator = new MinuteAggregator();
    // 1 byte over 1 ms + 59 s: the start minute's share rounds to 0.
    aggregator.addRecord(record({ start: T0 + M - 1, end: T0 + 2 * M - 1000, bytes: 1n, packets: 1n }));
    aggregator.addRecord(record({ subscriberId: 'zero', bytes: 0n, packets: 0n }));
    expect(rows(aggregator.drain())).toEqual([
      `192.0.2.1|alice|100.64.0.7|${S0}|download|internet|0|0|1`,
      `192.0.2.1|alice|100.64.0.7|${S0 + 60}|download|internet|1|1|0`,
      `192.0.2.1|zero|100.64.0.7|${S0}|download|internet|0|0|1`,
    ]);
  });

  it('bills both subscribers of a record with subscribers at both ends (through BatchAttributor)', () => {
    const subscribers = SubscriberIndex.build([
      { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
      { subscriberId: 'bob', prefix: '100.64.0.8', validFrom: 0, validTo: null },
    ]);
    const attributor = new BatchAttributor({ subscribers, classifier: TrafficClassifier.allDefault() });
    const batch = new FlowBatch(4);
    const i = batch.claim();
    batch.ipVersion[i] = 4;
    batch.srcAddr4[i] = parseIpv4('100.64.0.7');
    batch.dstAddr4[i] = parseIpv4('100.64.0.8');
    batch.bytesLo[i] = 1500;
    batch.packetsLo[i] = 3;
    batch.samplingRate[i] = 10;
    batch.start[i] = T0 + 59_000;
    batch.end[i] = T0 + 61_000;
    batch.exporterId[i] = 7;
    const aggregator = new MinuteAggregator({ exporterLabel: (id) => `router-${id}` });
    attributor.attribute(batch, (flow) => aggregator.add(flow), new UnattributedTally());
    expect(rows(aggregator.drain())).toEqual([
      `router-7|alice|100.64.0.7|${S0}|upload|internet|7500|15|1`,
      `router-7|alice|100.64.0.7|${S0 + 60}|upload|internet|7500|15|0`,
      `router-7|bob|100.64.0.8|${S0}|download|internet|7500|15|1`,
      `router-7|bob|100.64.0.8|${S0 + 60}|download|internet|7500|15|0`,
    ]);
  });

  it('keeps subscribers apart when the index is rebuilt with other holder ids (address reassigned)', () => {
    const attributor = new BatchAttributor({
      subscribers: SubscriberIndex.build([
        { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
        { subscriberId: 'bob', prefix: '100.64.0.8', validFrom: 0, validTo: null },
      ]),
      classifier: TrafficClassifier.allDefault(),
    });
    const batch = new FlowBatch(4);
    const i = batch.claim();
    batch.ipVersion[i] = 4;
    batch.srcAddr4[i] = parseIpv4('8.8.8.8');
    batch.dstAddr4[i] = parseIpv4('100.64.0.7');
    batch.bytesLo[i] = 100;
    batch.packetsLo[i] = 1;
    batch.samplingRate[i] = 1;
    batch.start[i] = T0 + 1000;
    batch.end[i] = T0 + 2000;
    const aggregator = new MinuteAggregator();
    attributor.attribute(batch, (flow) => aggregator.add(flow), new UnattributedTally());
    // Rebuilt: carol now holds .7 and is holder 0, the id alice had.
    attributor.replaceSubscriberIndex(
      SubscriberIndex.build([
        { subscriberId: 'carol', prefix: '100.64.0.7', validFrom: 0, validTo: null },
        { subscriberId: 'alice', prefix: '100.64.0.9', validFrom: 0, validTo: null },
      ]),
    );
    attributor.attribute(batch, (flow) => aggregator.add(flow), new UnattributedTally());
    expect(rows(aggregator.drain())).toEqual([`0|alice|100.64.0.7|${S0}|download|internet|100|1|1`, `0|carol|100.64.0.7|${S0}|download|internet|100|1|1`]);
  });

  it('drains at most maxKeys entries and keeps the rest', () => {
    const aggregator = new MinuteAggregator();
    for (let k = 0; k < 10; k++) aggregator.addRecord(record({ subscriberId: `s${k}` }));
    const first = aggregator.drain(4);
    expect(first).toHaveLength(4);
    expect(aggregator.size).toBe(6);
    const rest = aggregator.drain();
    expect(new Set([...first, ...rest].map((e) => e.subscriberId)).size).toBe(10);
    expect(aggregator.size).toBe(0);
    // Drained objects are no longer shared with the aggregator.
    aggregator.addRecord(record({ subscriberId: 's0' }));
    expect(first.concat(rest).find((e) => e.subscriberId === 's0')?.bytes).toBe(1000n);
  });

  it('reports full at maxKeys and calls onFull so the caller can drain early', () => {
    const drained: UsageEntry[] = [];
    const aggregator = new MinuteAggregator({ maxKeys: 3, onFull: (a) => drained.push(...a.drain()) });
    for (let k = 0; k < 7; k++) aggregator.addRecord(record({ subscriberId: `s${k}` }));
    expect(drained).toHaveLength(6);
    expect(aggregator.size).toBe(1);
    expect(aggregator.full).toBe(false);
    const noCallback = new MinuteAggregator({ maxKeys: 2 });
    noCallback.addRecord(record({ subscriberId: 'a' }));
    expect(noCallback.full).toBe(false);
    noCallback.addRecord(record({ subscriberId: 'b' }));
    expect(noCallback.full).toBe(true);
  });

  it('puts a flow spanning more than maxMinutes into its start minute and counts it', () => {
    const aggregator = new MinuteAggregator({ maxMinutes: 5 });
    aggregator.addRecord(record({ start: T0, end: T0 + 10 * M, bytes: 100n, packets: 2n }));
    expect(rows(aggregator.drain())).toEqual([`192.0.2.1|alice|100.64.0.7|${S0}|download|internet|100|2|1`]);
    expect(aggregator.anomalies.clampedRecords).toBe(1);
  });

  it('refuses and counts records it cannot place or encode', () => {
    const aggregator = new MinuteAggregator();
    aggregator.addRecord(record({ start: Number.NaN, bytes: 10n, packets: 1n }));
    aggregator.addRecord(record({ subscriberId: 'bad\tid', bytes: 20n, packets: 2n }));
    aggregator.addRecord(record({ trafficClass: 'x\ny', bytes: 30n, packets: 3n }));
    aggregator.addRecord(record({ bytes: -1n }));
    expect(aggregator.size).toBe(0);
    expect(aggregator.anomalies).toEqual({ clampedRecords: 0, rejectedRecords: 4, rejectedBytes: 60n, rejectedPackets: 16n });
  });

  it('conserves bytes, packets and flows for any set of flows, however it is drained', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            subscriber: fc.constantFrom('a', 'b', 'c'),
            startOffset: fc.integer({ min: 0, max: 10 * M }),
            duration: fc.integer({ min: -1000, max: 5 * M }),
            bytes: fc.bigInt({ min: 0n, max: 2n ** 70n }),
            packets: fc.bigInt({ min: 0n, max: 2n ** 40n }),
          }),
          { maxLength: 60 },
        ),
        fc.integer({ min: 1, max: 20 }),
        (flows, chunk) => {
          const aggregator = new MinuteAggregator();
          const drained: UsageEntry[] = [];
          for (const f of flows) {
            aggregator.addRecord(record({ subscriberId: f.subscriber, start: T0 + f.startOffset, end: T0 + f.startOffset + f.duration, bytes: f.bytes, packets: f.packets }));
            if (aggregator.size > chunk) drained.push(...aggregator.drain(chunk));
          }
          drained.push(...aggregator.drain());
          const expected = flows.reduce((t, f) => ({ bytes: t.bytes + f.bytes, packets: t.packets + f.packets, flows: t.flows + 1n }), { bytes: 0n, packets: 0n, flows: 0n });
          expect(totals(drained)).toEqual(expected);
          for (const e of drained) expect(e.minute % 60).toBe(0);
        },
      ),
      { numRuns: 200 },
    );
  });
});

/** A batch-like IPv6 column with `address` at row `row`. */
function column6(address: Uint8Array, row: number): Uint8Array {
  const column = new Uint8Array((row + 1) * 16);
  column.set(address, row * 16);
  return column;
}

describe('MinuteAggregator fast path (numbers and the interned entry table)', () => {
  /** What the bigint spreader says, summed per key: the reference the fast path must match. */
  function reference(flows: readonly { exporter: string; subscriberId: string; address: string; direction: 'upload' | 'download'; start: number; end: number; bytes: bigint; packets: bigint }[]) {
    const out = new Map<string, { bytes: bigint; packets: bigint; flows: bigint }>();
    const add = (key: string, bytes: bigint, packets: bigint, flows: bigint) => {
      const e = out.get(key) ?? { bytes: 0n, packets: 0n, flows: 0n };
      e.bytes += bytes;
      e.packets += packets;
      e.flows += flows;
      out.set(key, e);
    };
    for (const f of flows) {
      const key = (minuteMs: number) => `${f.exporter}|${f.subscriberId}|${f.address}|${minuteMs / 1000}|${f.direction}|internet`;
      const startMinute = Math.floor(f.start / M) * M;
      let counted = false;
      spreadOverMinutes(f.start, f.end, f.bytes, f.packets, (minute, bytes, packets) => {
        const flows = !counted && minute === startMinute ? 1n : 0n;
        if (flows === 1n) counted = true;
        add(key(minute), bytes, packets, flows);
      });
      if (!counted) add(key(startMinute), 0n, 0n, 1n);
    }
    return out;
  }

  function summed(entries: readonly UsageEntry[]) {
    const out = new Map<string, { bytes: bigint; packets: bigint; flows: bigint }>();
    for (const e of entries) {
      const key = `${e.exporter}|${e.subscriberId}|${e.address}|${e.minute}|${e.direction}|${e.trafficClass}`;
      const t = out.get(key) ?? { bytes: 0n, packets: 0n, flows: 0n };
      t.bytes += e.bytes;
      t.packets += e.packets;
      t.flows += e.flows;
      out.set(key, t);
    }
    return out;
  }

  it('gives exactly what the bigint spreader gives, for any flows, sizes and drains', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            exporterId: fc.integer({ min: 0, max: 2 }),
            subscriber: fc.integer({ min: 0, max: 3 }),
            upload: fc.boolean(),
            v6: fc.boolean(),
            startOffset: fc.double({ min: 0, max: 5 * M, noNaN: true }),
            duration: fc.oneof(fc.integer({ min: -1000, max: 3 * M }), fc.double({ min: 0, max: 2, noNaN: true })),
            bytes: fc.oneof(fc.bigInt({ min: 0n, max: 2000n }), fc.bigInt({ min: 0n, max: 2n ** 40n }), fc.bigInt({ min: 0n, max: 2n ** 70n })),
            packets: fc.oneof(fc.bigInt({ min: 0n, max: 3n }), fc.bigInt({ min: 0n, max: 2n ** 54n })),
          }),
          { maxLength: 80 },
        ),
        fc.integer({ min: 0, max: 30 }),
        (specs, chunk) => {
          const aggregator = new MinuteAggregator({ exporterLabel: (id) => `r${id}` });
          const drained: UsageEntry[] = [];
          const flows = specs.map((s) => ({
            exporter: `r${s.exporterId}`,
            // Two subscribers share one address (a reassignment): the cache must tell them apart.
            subscriberId: `s${s.subscriber}`,
            address: s.v6 ? `2001:db8::${(s.subscriber % 2) + 1}` : `100.64.0.${s.subscriber % 2}`,
            direction: (s.upload ? 'upload' : 'download') as 'upload' | 'download',
            start: T0 + s.startOffset,
            end: T0 + s.startOffset + s.duration,
            bytes: s.bytes,
            packets: s.packets,
          }));
          specs.forEach((s, k) => {
            const f = flows[k];
            aggregator.add({
              row: k,
              exporterId: s.exporterId,
              subscriberId: f.subscriberId,
              assignedPrefix: `${f.address}/32`,
              direction: f.direction,
              trafficClass: 'internet',
              ipVersion: s.v6 ? 6 : 4,
              address4: s.v6 ? 0 : parseIpv4(f.address),
              // IPv6 addresses sit in a batch column at row * 16, like BatchAttributor's.
              address6: s.v6 ? column6(parseIpv6(f.address), k) : null,
              address6Offset: s.v6 ? k * 16 : 0,
              bytes: f.bytes,
              packets: f.packets,
              start: f.start,
              end: f.end,
            });
            if (chunk > 0 && aggregator.size > chunk) drained.push(...aggregator.drain(chunk));
          });
          drained.push(...aggregator.drain());
          expect(summed(drained)).toEqual(reference(flows));
          expect(aggregator.anomalies.rejectedRecords).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives the same entries through BatchAttributor (holder shortcuts) as through addRecord, across drains', () => {
    const subscribers = SubscriberIndex.build([
      { subscriberId: 'alice', prefix: '100.64.0.4/30', validFrom: 0, validTo: null },
      { subscriberId: 'bob', prefix: '100.64.0.9', validFrom: 0, validTo: null },
      { subscriberId: 'carol', prefix: '2001:db8::/64', validFrom: 0, validTo: null },
    ]);
    const attributor = new BatchAttributor({ subscribers, classifier: TrafficClassifier.allDefault() });
    const addresses4 = ['100.64.0.4', '100.64.0.5', '100.64.0.7', '100.64.0.9'];
    const addresses6 = ['2001:db8::1', '2001:db8::2'];
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            v6: fc.boolean(),
            address: fc.integer({ min: 0, max: 3 }),
            upload: fc.boolean(),
            exporterId: fc.integer({ min: 0, max: 1 }),
            startOffset: fc.integer({ min: 0, max: 4 * M }),
            duration: fc.integer({ min: 0, max: 2 * M }),
            bytes: fc.integer({ min: 0, max: 100_000 }),
            packets: fc.integer({ min: 0, max: 100 }),
            drainAfter: fc.boolean(),
          }),
          { maxLength: 60 },
        ),
        (specs) => {
          const viaAttributor = new MinuteAggregator({ exporterLabel: (id) => `r${id}` });
          const viaRecords = new MinuteAggregator();
          const drainedA: UsageEntry[] = [];
          const drainedB: UsageEntry[] = [];
          const remote4 = parseIpv4('198.18.0.1');
          const remote6 = parseIpv6('2001:db8:ffff::1');
          for (const s of specs) {
            const batch = new FlowBatch(1);
            const i = batch.claim();
            const address = s.v6 ? addresses6[s.address % 2] : addresses4[s.address];
            if (s.v6) {
              batch.ipVersion[i] = 6;
              batch.srcAddr6.set(s.upload ? parseIpv6(address) : remote6, 0);
              batch.dstAddr6.set(s.upload ? remote6 : parseIpv6(address), 0);
            } else {
              batch.ipVersion[i] = 4;
              batch.srcAddr4[i] = s.upload ? parseIpv4(address) : remote4;
              batch.dstAddr4[i] = s.upload ? remote4 : parseIpv4(address);
            }
            batch.bytesLo[i] = s.bytes;
            batch.packetsLo[i] = s.packets;
            batch.samplingRate[i] = 1;
            batch.start[i] = T0 + s.startOffset;
            batch.end[i] = T0 + s.startOffset + s.duration;
            batch.exporterId[i] = s.exporterId;
            attributor.attribute(batch, (flow) => viaAttributor.add(flow), new UnattributedTally());
            viaRecords.addRecord({
              exporter: `r${s.exporterId}`,
              subscriberId: subscribers.subscriberAt(address, T0)!,
              address,
              direction: s.upload ? 'upload' : 'download',
              trafficClass: 'internet',
              start: T0 + s.startOffset,
              end: T0 + s.startOffset + s.duration,
              bytes: BigInt(s.bytes),
              packets: BigInt(s.packets),
            });
            if (s.drainAfter) {
              drainedA.push(...viaAttributor.drain(1));
              drainedB.push(...viaRecords.drain(1));
            }
          }
          drainedA.push(...viaAttributor.drain());
          drainedB.push(...viaRecords.drain());
          expect(summed(drainedA)).toEqual(summed(drainedB));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('gives a tied leftover unit to the earlier minute, over two minutes and over three', () => {
    const aggregator = new MinuteAggregator();
    // 1 s on each side of a boundary, 3 bytes: quotas 1.5 / 1.5 -> 2 / 1.
    aggregator.addRecord(record({ start: T0 + M - 1000, end: T0 + M + 1000, bytes: 3n, packets: 1n }));
    // 30 s, 60 s, 30 s: 2 packets -> quotas 0.5 / 1 / 0.5 -> 1 / 1 / 0.
    aggregator.addRecord(record({ subscriberId: 'bob', start: T0 + 30_000, end: T0 + 150_000, bytes: 0n, packets: 2n }));
    expect(rows(aggregator.drain())).toEqual([
      `192.0.2.1|alice|100.64.0.7|${S0}|download|internet|2|1|1`,
      `192.0.2.1|alice|100.64.0.7|${S0 + 60}|download|internet|1|0|0`,
      `192.0.2.1|bob|100.64.0.7|${S0}|download|internet|0|1|1`,
      `192.0.2.1|bob|100.64.0.7|${S0 + 60}|download|internet|0|1|0`,
    ]);
  });

  it('takes counters as numbers from BatchAttributor and keeps them exact past 2^53 in a sum', () => {
    const subscribers = SubscriberIndex.build([{ subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null }]);
    const attributor = new BatchAttributor({ subscribers, classifier: TrafficClassifier.allDefault() });
    const batch = new FlowBatch(4);
    for (let k = 0; k < 3; k++) {
      const i = batch.claim();
      batch.ipVersion[i] = 4;
      batch.srcAddr4[i] = parseIpv4('8.8.8.8');
      batch.dstAddr4[i] = parseIpv4('100.64.0.7');
      // 2^52 + 1 bytes each: every record is a safe integer, the sum of three is not.
      batch.bytesHi[i] = 2 ** 20;
      batch.bytesLo[i] = 1;
      batch.packetsLo[i] = 3;
      batch.samplingRate[i] = 1;
      batch.start[i] = T0 + 1000;
      batch.end[i] = T0 + 2000;
      batch.exporterId[i] = 0;
    }
    const aggregator = new MinuteAggregator();
    attributor.attribute(batch, (flow) => aggregator.add(flow), new UnattributedTally());
    expect(rows(aggregator.drain())).toEqual([`0|alice|100.64.0.7|${S0}|download|internet|${3n * (2n ** 52n + 1n)}|9|3`]);
  });
});
