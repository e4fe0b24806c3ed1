import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '@flowbill/shared/ip/index';
import { BatchAttributor, SubscriberIndex, TrafficClassifier, UnattributedTally } from '../attribution/index.js';
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
