import { describe, expect, it } from 'vitest';
import { type FlowBatch, FlowFlag } from '../decoder/batch.js';
import { type AttributedFlow, BatchAttributor, subscriberAddressText } from './batch-attributor.js';
import { SubscriberIndex } from './subscriber-index.js';
import { TrafficClassifier } from './traffic-classifier.js';
import { batchOfRows, type FlowRowSpec } from './testing/flow-rows.js';
import { UnattributedTally } from './unattributed-tally.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const MINUTE = 60_000;

type RowSpec = FlowRowSpec;

function batchOf(rows: RowSpec[]): FlowBatch {
  return batchOfRows(rows, { start: T0 + 5 * MINUTE, end: T0 + 6 * MINUTE, exporter: 1 });
}

/** Copy of what the sink saw (it reuses one object), with the address as text. */
type Seen = Omit<AttributedFlow, 'address6' | 'address6Offset' | 'address4'> & { address: string };

function run(attributor: BatchAttributor, batch: FlowBatch) {
  const seen: Seen[] = [];
  const tally = new UnattributedTally();
  const summary = attributor.attribute(
    batch,
    (flow) => {
      const { address6: _column, address6Offset: _offset, address4: _numeric, ...rest } = flow;
      seen.push({ ...rest, address: subscriberAddressText(flow) });
    },
    tally,
  );
  return { seen, tally, summary };
}

const subscribers = SubscriberIndex.build([
  { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
  { subscriberId: 'bob', prefix: '100.64.0.8/30', validFrom: 0, validTo: null },
  { subscriberId: 'carol', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
  { subscriberId: 'old-tenant', prefix: '100.64.0.50', validFrom: 0, validTo: T0 + 30 * MINUTE },
  { subscriberId: 'new-tenant', prefix: '100.64.0.50', validFrom: T0 + 30 * MINUTE, validTo: null },
]);
const classifier = TrafficClassifier.build({ classes: { local: ['80.81.192.0/21', '2001:7f8::/32'] } });

describe('BatchAttributor', () => {
  it('attributes downloads to the destination subscriber, classified by the source', () => {
    const { seen, summary } = run(new BatchAttributor({ subscribers, classifier }), batchOf([{ src: '80.81.192.5', dst: '100.64.0.7', rate: 100 }]));
    expect(seen).toEqual([
      {
        row: 0,
        exporterId: 1,
        subscriberId: 'alice',
        assignedPrefix: '100.64.0.7/32',
        direction: 'download',
        trafficClass: 'local',
        ipVersion: 4,
        address: '100.64.0.7',
        bytes: 100_000n,
        packets: 1000n,
        start: T0 + 5 * MINUTE,
        end: T0 + 6 * MINUTE,
      },
    ]);
    expect(summary).toEqual({ records: 1, attributedRecords: 1, attributions: 1, unattributedRecords: 0, skippedRecords: 0 });
  });

  it('attributes uploads to the source subscriber, classified by the destination', () => {
    const { seen } = run(new BatchAttributor({ subscribers, classifier }), batchOf([{ src: '100.64.0.9', dst: '8.8.8.8' }]));
    expect(seen.map((f) => [f.subscriberId, f.direction, f.trafficClass, f.address, f.assignedPrefix])).toEqual([
      ['bob', 'upload', 'internet', '100.64.0.9', '100.64.0.8/30'],
    ]);
  });

  it('attributes IPv6 by prefix and reads the address from the batch column', () => {
    const { seen } = run(
      new BatchAttributor({ subscribers, classifier }),
      batchOf([
        { src: '2a00::1', dst: '2a00::2' },
        { src: '2001:7f8:1::9', dst: '2001:db8:2:1ab::77' },
        { src: '2001:db8:2:1ab::77', dst: '2606:4700::1111' },
      ]),
    );
    expect(seen.map((f) => [f.row, f.subscriberId, f.direction, f.trafficClass, f.address, f.ipVersion])).toEqual([
      [1, 'carol', 'download', 'local', '2001:db8:2:1ab::77', 6],
      [2, 'carol', 'upload', 'internet', '2001:db8:2:1ab::77', 6],
    ]);
  });

  it('counts a record between two subscribers for both: upload for the sender, download for the receiver', () => {
    const { seen, summary } = run(new BatchAttributor({ subscribers, classifier }), batchOf([{ src: '100.64.0.7', dst: '100.64.0.10', bytes: 500 }]));
    expect(seen.map((f) => [f.subscriberId, f.direction, f.address, f.bytes])).toEqual([
      ['alice', 'upload', '100.64.0.7', 500n],
      ['bob', 'download', '100.64.0.10', 500n],
    ]);
    expect(summary.attributedRecords).toBe(1);
    expect(summary.attributions).toBe(2);
  });

  it('counts records with no subscriber at either end per exporter, with scaled bytes', () => {
    const { seen, tally, summary } = run(
      new BatchAttributor({ subscribers, classifier }),
      batchOf([
        { src: '8.8.8.8', dst: '1.1.1.1', bytes: 100, packets: 2, rate: 10, exporter: 4 },
        { src: '2a00::1', dst: '2a00::2', bytes: 7, packets: 1, exporter: 4 },
        { src: '9.9.9.9', dst: '1.1.1.1', bytes: 50, packets: 1, exporter: 9 },
        { src: '100.64.0.7', dst: '1.1.1.1', exporter: 4 },
      ]),
    );
    expect(seen).toHaveLength(1);
    expect(tally.get(4)).toEqual({ records: 2, bytes: 1007n, packets: 21n });
    expect(tally.get(9)).toEqual({ records: 1, bytes: 50n, packets: 1n });
    expect(summary.unattributedRecords).toBe(3);
  });

  it('counts records without addresses as unattributed and skips records without counters', () => {
    const batch = batchOf([
      { src: '100.64.0.7', dst: '8.8.8.8', flags: FlowFlag.NoCounters },
      { src: '100.64.0.7', dst: '8.8.8.8' },
    ]);
    batch.ipVersion[1] = 0;
    const { seen, tally, summary } = run(new BatchAttributor({ subscribers, classifier }), batch);
    expect(seen).toEqual([]);
    expect(summary.skippedRecords).toBe(1);
    expect(tally.get(1)?.records).toBe(1);
  });

  it('keeps counters exact beyond 2^53', () => {
    const batch = batchOf([{ src: '100.64.0.7', dst: '8.8.8.8', rate: 1000 }]);
    batch.bytesHi[0] = 0xffffffff;
    batch.bytesLo[0] = 0xffffffff;
    const { seen } = run(new BatchAttributor({ subscribers, classifier }), batch);
    expect(seen[0].bytes).toBe((2n ** 64n - 1n) * 1000n);
  });

  it('uses the holder at the flow start for an address reassigned mid-hour', () => {
    const { seen } = run(
      new BatchAttributor({ subscribers, classifier }),
      batchOf([
        { src: '100.64.0.50', dst: '8.8.8.8', start: T0 + 30 * MINUTE - 1, end: T0 + 31 * MINUTE },
        { src: '100.64.0.50', dst: '8.8.8.8', start: T0 + 30 * MINUTE, end: T0 + 31 * MINUTE },
      ]),
    );
    expect(seen.map((f) => f.subscriberId)).toEqual(['old-tenant', 'new-tenant']);
  });

  it('uses a swapped-in index and classifier from the next batch on', () => {
    const attributor = new BatchAttributor({ subscribers, classifier });
    const batch = batchOf([{ src: '100.64.0.99', dst: '80.81.192.5' }]);
    expect(run(attributor, batch).seen).toEqual([]);

    attributor.replaceSubscriberIndex(SubscriberIndex.build([{ subscriberId: 'dave', prefix: '100.64.0.96/29', validFrom: 0, validTo: null }]));
    attributor.replaceClassifier(TrafficClassifier.build({ classes: {}, defaultClass: 'anything' }));
    expect(run(attributor, batch).seen.map((f) => [f.subscriberId, f.trafficClass])).toEqual([['dave', 'anything']]);
  });

  it('finishes a batch with the tables it started with when a swap happens meanwhile', () => {
    const attributor = new BatchAttributor({ subscribers, classifier });
    const batch = batchOf([
      { src: '100.64.0.7', dst: '8.8.8.8' },
      { src: '100.64.0.7', dst: '8.8.8.8' },
    ]);
    const who: string[] = [];
    attributor.attribute(
      batch,
      (flow) => {
        who.push(flow.subscriberId);
        attributor.replaceSubscriberIndex(SubscriberIndex.EMPTY);
      },
      new UnattributedTally(),
    );
    expect(who).toEqual(['alice', 'alice']);
    expect(run(attributor, batch).seen).toEqual([]);
  });
});
