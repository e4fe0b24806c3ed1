import { describe, expect, it } from 'vitest';
import { parseIpv4, parseIpv6 } from '@flowbill/shared/ip/index';
import { MinuteAggregator } from '../aggregation/minute-aggregator.js';
import type { UsageEntry } from '../aggregation/usage-entry.js';
import { FlowBatch, FlowFlag } from '../decoder/batch.js';
import {
  type AttributedRecordSink,
  AttributedChunkReader,
  AttributedRecordWriter,
  CHUNK_EXPORTER,
  CHUNK_FLOWS,
  CHUNK_HEADER_BYTES,
  type ChunkContext,
  RECORD_BYTES,
  RECORD_BYTES_V6,
} from './attributed-records.js';
import { type AttributedFlow, type BatchAttributionSummary, BatchAttributor } from './batch-attributor.js';
import { HolderLookup } from './holder-lookup.js';
import { SubscriberIndex, type SubscriberAssignment } from './subscriber-index.js';
import { TrafficClassifier } from './traffic-classifier.js';
import { mulberry32 } from '../pcap/prng.js';
import { batchOfRows, type FlowRowSpec } from './testing/flow-rows.js';
import { UnattributedTally } from './unattributed-tally.js';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const MINUTE = 60_000;
const S0 = T0 / 1000;
const TWO_32 = 2n ** 32n;

// ---------------------------------------------------------------------------------------
// Helpers

/** Deterministic PRNG. */
const prng = mulberry32;

function exporterKey(id: number): string {
  return `192.0.2.${id}:2055`;
}

type RowSpec = FlowRowSpec;

function batchOf(rows: RowSpec[]): FlowBatch {
  return batchOfRows(rows, { start: T0 + 5 * MINUTE, end: T0 + 5 * MINUTE + 10_000, exporter: 0 });
}

/** Parsed view of one chunk as the output saw it (a copy). */
interface SeenChunk {
  kind: number;
  accepted: boolean;
  /** FLOWS: generation; EXPORTER: exporter id. */
  second: number;
  /** FLOWS: record count; EXPORTER: text length. */
  third: number;
  length: number;
  /** FLOWS: exporter id of every record, in order. */
  recordExporters: number[];
  /** EXPORTER: the key text. */
  text: string;
}

function parseChunk(chunk: Uint8Array, accepted: boolean): SeenChunk {
  const copy = chunk.slice();
  const view = new DataView(copy.buffer);
  const le = true; // native order on every platform vitest runs here (x86/arm little-endian)
  const kind = view.getUint32(0, le);
  const second = view.getUint32(4, le);
  const third = view.getUint32(8, le);
  const recordExporters: number[] = [];
  let text = '';
  if (kind === CHUNK_FLOWS) {
    let at = CHUNK_HEADER_BYTES;
    for (let k = 0; k < third; k++) {
      recordExporters.push(view.getUint32(at + 40, le));
      const tag = view.getUint32(at + 48, le);
      at += (tag & 2) !== 0 ? RECORD_BYTES_V6 : RECORD_BYTES;
    }
    expect(at).toBe(copy.length);
  } else if (kind === CHUNK_EXPORTER) {
    text = new TextDecoder().decode(copy.subarray(CHUNK_HEADER_BYTES, CHUNK_HEADER_BYTES + third));
  }
  return { kind, accepted, second, third, length: copy.length, recordExporters, text };
}

/**
 * The main-thread end: each chunk the writer outputs is copied into an 8-aligned ring
 * (a view that itself starts 8 bytes into its buffer) and read right away into `sink`.
 */
function ringHarness(options: {
  indexes: Map<number, SubscriberIndex>;
  classNames: readonly string[];
  sink: AttributedRecordSink;
  /** Refuse the n-th output call (0-based), or by chunk. */
  refuse?: (call: number, chunk: SeenChunk) => boolean;
  ringBytes?: number;
  /** Where EXPORTER chunks put the keys (e.g. the map an announcedAggregator reads). */
  exporters?: Map<number, string>;
}) {
  const size = options.ringBytes ?? 1 << 20;
  const ring = new Uint8Array(new ArrayBuffer(size + 16), 8, size);
  const reader = new AttributedChunkReader(ring);
  const exporters = options.exporters ?? new Map<number, string>();
  const indexOfCalls: number[] = [];
  const seen: SeenChunk[] = [];
  let readRecords = 0;
  const context: ChunkContext = {
    classNames: options.classNames,
    exporter: (id, key) => {
      exporters.set(id, key);
    },
    indexOf: (generation) => {
      indexOfCalls.push(generation);
      const index = options.indexes.get(generation);
      if (index === undefined) throw new Error(`no index of generation ${generation}`);
      return index;
    },
  };
  let position = 0;
  let calls = 0;
  const output = (chunk: Uint8Array): boolean => {
    const parsed = parseChunk(chunk, true);
    const refused = options.refuse?.(calls++, parsed) ?? false;
    parsed.accepted = !refused;
    seen.push(parsed);
    if (refused) return false;
    if (position + chunk.length > size) position = 0;
    ring.set(chunk, position);
    readRecords += reader.read(position, chunk.length, context, options.sink);
    position = (position + chunk.length + 7) & ~7;
    return true;
  };
  return { output, exporters, indexOfCalls, seen, reader, context, ring, get readRecords() { return readRecords; } };
}

/** Delivered FLOWS chunks holding records of an exporter id not announced by an earlier delivered EXPORTER chunk. */
function unannouncedUses(seen: readonly SeenChunk[]): { chunk: number; exporters: number[] }[] {
  const announced = new Set<number>();
  const problems: { chunk: number; exporters: number[] }[] = [];
  seen.forEach((c, n) => {
    if (!c.accepted) return;
    if (c.kind === CHUNK_EXPORTER) announced.add(c.second);
    else {
      const missing = [...new Set(c.recordExporters)].filter((id) => !announced.has(id));
      if (missing.length > 0) problems.push({ chunk: n, exporters: missing });
    }
  });
  return problems;
}

function tallyEntries(tally: UnattributedTally) {
  return [...tally.entries()].map(([id, count]) => [id, { ...count }]);
}

function sumSummaries(summaries: BatchAttributionSummary[]): BatchAttributionSummary {
  const total: BatchAttributionSummary = { records: 0, attributedRecords: 0, attributions: 0, unattributedRecords: 0, skippedRecords: 0 };
  for (const s of summaries) {
    total.records += s.records;
    total.attributedRecords += s.attributedRecords;
    total.attributions += s.attributions;
    total.unattributedRecords += s.unattributedRecords;
    total.skippedRecords += s.skippedRecords;
  }
  return total;
}

/** Aggregator whose exporter labels only exist once announced (like the collector's main thread). */
function announcedAggregator(exporters: Map<number, string>): MinuteAggregator {
  return new MinuteAggregator({
    exporterLabel: (id) => {
      const key = exporters.get(id);
      if (key === undefined) throw new Error(`exporter ${id} was not announced`);
      return key;
    },
  });
}

/** Records every call of an AttributedRecordSink. */
class SpySink implements AttributedRecordSink {
  holderRecords: { exporterId: number; holder: number; upload: boolean; trafficClass: string; subscriber: string; bytes: number; packets: number }[] = [];
  flows: { subscriberId: string; bytes: bigint; packets: bigint }[] = [];
  addHolderRecord(exporterId: number, index: SubscriberIndex, holder: number, upload: boolean, trafficClass: string, _a4: number, _a6: Uint8Array | null, _o6: number, _s: number, _e: number, bytes: number, packets: number): void {
    this.holderRecords.push({ exporterId, holder, upload, trafficClass, subscriber: index.subscriberOf(holder), bytes, packets });
  }
  add(flow: Readonly<AttributedFlow>): void {
    this.flows.push({ subscriberId: flow.subscriberId, bytes: flow.bytes, packets: flow.packets });
  }
}

// ---------------------------------------------------------------------------------------
// Tables for the randomized equivalence test

const RANDOM_HOSTS = 300;

function v4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

const hostAddress = (i: number) => v4(100, 65, i >>> 8, i & 255);

const equivalenceAssignments: SubscriberAssignment[] = [
  { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
  { subscriberId: 'bob', prefix: '100.64.0.8/30', validFrom: 0, validTo: null },
  // Reassigned inside the test range (T0 .. T0 + 2 h).
  { subscriberId: 'old-tenant', prefix: '100.64.0.50', validFrom: 0, validTo: T0 + 30 * MINUTE },
  { subscriberId: 'new-tenant', prefix: '100.64.0.50', validFrom: T0 + 30 * MINUTE, validTo: null },
  // Assigned, a gap, then someone else.
  { subscriberId: 'gina', prefix: '100.64.0.60', validFrom: T0 + 10 * MINUTE, validTo: T0 + 40 * MINUTE },
  { subscriberId: 'henry', prefix: '100.64.0.60', validFrom: T0 + 50 * MINUTE, validTo: null },
  // A covering /24 and a more specific /28 that is assigned only for a while.
  { subscriberId: 'dave', prefix: '100.64.1.0/24', validFrom: 0, validTo: null },
  { subscriberId: 'erin', prefix: '100.64.1.16/28', validFrom: T0 + 20 * MINUTE, validTo: T0 + 70 * MINUTE },
  { subscriberId: 'frank', prefix: '10.20.0.0/16', validFrom: 0, validTo: null },
  // IPv6.
  { subscriberId: 'carol', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
  { subscriberId: 'ivan', prefix: '2001:db8:2:1ab::/64', validFrom: T0 + 15 * MINUTE, validTo: null },
  { subscriberId: 'judy', prefix: '2001:db8:3::5', validFrom: 0, validTo: T0 + 45 * MINUTE },
  { subscriberId: 'kim', prefix: '2001:db8:3::5', validFrom: T0 + 45 * MINUTE, validTo: null },
  { subscriberId: 'lan', prefix: '2001:db8:4::/48', validFrom: 0, validTo: null },
  // Many /32 hosts (the host table), the first one reassigned mid-range.
  { subscriberId: 'host-0', prefix: '100.65.0.0', validFrom: 0, validTo: T0 + 60 * MINUTE },
  { subscriberId: 'host-0b', prefix: '100.65.0.0', validFrom: T0 + 60 * MINUTE, validTo: null },
  ...Array.from({ length: RANDOM_HOSTS - 1 }, (_, k) => ({
    subscriberId: `host-${k + 1}`,
    prefix: `100.65.${(k + 1) >>> 8}.${(k + 1) & 255}`,
    validFrom: 0,
    validTo: null,
  })),
];

const classifier = TrafficClassifier.build({
  classes: {
    local: ['80.81.192.0/21', '2001:7f8::/32', '100.64.0.8/30'],
    cdn: ['151.101.0.0/16', '2a04:4e40::/32'],
  },
});

function randomBatch(rnd: () => number, rows: number, exporters: readonly number[]): FlowBatch {
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(list: readonly T[]): T => list[int(list.length)];
  const bytes6 = (base: string, randomFrom: number): Uint8Array => {
    const b = parseIpv6(base);
    for (let k = randomFrom; k < 16; k++) b[k] = int(256);
    return b;
  };
  const sub4 = (): number => {
    switch (int(8)) {
      case 0:
        return v4(100, 64, 0, 7);
      case 1:
        return v4(100, 64, 0, 8 + int(4));
      case 2:
        return v4(100, 64, 0, 50);
      case 3:
        return v4(100, 64, 0, 60);
      case 4:
        return v4(100, 64, 1, rnd() < 0.5 ? 16 + int(16) : int(256));
      case 5:
        return v4(10, 20, int(256), int(256));
      default:
        return hostAddress(rnd() < 0.2 ? 0 : int(RANDOM_HOSTS));
    }
  };
  const remote4 = (): number => {
    switch (int(9)) {
      case 0:
        return v4(8, 8, 8, 8);
      case 1:
        return (rnd() * 4294967296) >>> 0;
      case 2:
        return v4(80, 81, 192 + int(8), int(256)); // local
      case 3:
        return v4(151, 101, int(256), int(256)); // cdn
      case 4:
        return v4(100, 64, 0, 12 + int(4)); // same /16 as subscribers, not assigned
      case 5:
        return v4(100, 64, 2, int(256));
      case 6:
        return v4(100, 65, 250, int(256)); // /16 of the hosts, no host there
      case 7:
        return v4(10, 21, 0, 1);
      default:
        return v4(1, 1, 1, 1);
    }
  };
  const sub6 = (): Uint8Array => {
    switch (int(4)) {
      case 0: {
        const b = bytes6('2001:db8:2:100::', 8);
        b[7] = int(256); // anywhere in carol's /56 (1ab is ivan's /64 after T0 + 15 min)
        return b;
      }
      case 1:
        return bytes6('2001:db8:2:1ab::', 8);
      case 2:
        return parseIpv6('2001:db8:3::5');
      default:
        return bytes6('2001:db8:4::', 6);
    }
  };
  const remote6 = (): Uint8Array => {
    switch (int(6)) {
      case 0:
        return bytes6('2001:7f8::', 4); // local
      case 1:
        return bytes6('2a04:4e40::', 4); // cdn
      case 2:
        return parseIpv6('2001:db8:3::6');
      case 3:
        return bytes6('2001:db8:2:200::', 8);
      case 4:
        return parseIpv6('2a00::1');
      default:
        return bytes6('2600::', 2);
    }
  };

  const batch = new FlowBatch(rows);
  for (let n = 0; n < rows; n++) {
    const i = batch.claim();
    const versionDraw = rnd();
    const version = versionDraw < 0.68 ? 4 : versionDraw < 0.98 ? 6 : 0;
    const roleDraw = rnd();
    const srcIsSub = roleDraw < 0.35 || (roleDraw >= 0.7 && roleDraw < 0.85);
    const dstIsSub = (roleDraw >= 0.35 && roleDraw < 0.7) || (roleDraw >= 0.7 && roleDraw < 0.85);
    batch.ipVersion[i] = version;
    if (version === 4) {
      batch.srcAddr4[i] = srcIsSub ? sub4() : remote4();
      batch.dstAddr4[i] = dstIsSub ? sub4() : remote4();
    } else if (version === 6) {
      batch.srcAddr6.set(srcIsSub ? sub6() : remote6(), i * 16);
      batch.dstAddr6.set(dstIsSub ? sub6() : remote6(), i * 16);
    }

    // Counters: zero, small, full 32-bit, above 32 bits.
    const counterDraw = rnd();
    if (counterDraw < 0.08) {
      batch.bytesLo[i] = 0;
      batch.packetsLo[i] = rnd() < 0.5 ? 0 : 1 + int(3);
    } else if (counterDraw < 0.7) {
      batch.bytesLo[i] = 1 + int(1_000_000);
      batch.packetsLo[i] = 1 + int(1000);
    } else if (counterDraw < 0.95) {
      batch.bytesLo[i] = (rnd() * 4294967296) >>> 0;
      batch.packetsLo[i] = int(10_000_000);
    } else {
      batch.bytesHi[i] = 1 + int(4);
      batch.bytesLo[i] = (rnd() * 4294967296) >>> 0;
      batch.packetsHi[i] = int(2);
      batch.packetsLo[i] = (rnd() * 4294967296) >>> 0;
    }
    batch.samplingRate[i] = pick([1, 1, 1, 1, 2, 10, 100, 512, 1000, 4096]);

    // Times: 1, 2, several minutes, long, zero-length, reversed, beyond maxMinutes.
    let start = T0 - 5 * MINUTE + int(125 * MINUTE);
    const timeDraw = rnd();
    if (timeDraw < 0.05) start = T0 + int(120) * MINUTE; // exactly on a boundary
    else if (timeDraw < 0.15) start += pick([0.25, 0.5, 0.75]);
    const minuteStart = Math.floor(start / MINUTE) * MINUTE;
    const spanDraw = rnd();
    let end: number;
    if (spanDraw < 0.12) end = start;
    else if (spanDraw < 0.42) end = Math.min(start + rnd() * 30_000, minuteStart + MINUTE - 1);
    else if (spanDraw < 0.67) end = minuteStart + MINUTE + int(MINUTE);
    else if (spanDraw < 0.87) end = start + (2 + int(9)) * MINUTE + int(MINUTE);
    else if (spanDraw < 0.96) end = start + (10 + int(80)) * MINUTE + rnd() * 1000;
    else if (spanDraw < 0.99) end = start - int(MINUTE);
    else end = start + 25 * 60 * MINUTE; // more than DEFAULT_MAX_MINUTES: clamped
    batch.start[i] = start;
    batch.end[i] = end;

    batch.exporterId[i] = pick(exporters);
    let flags = rnd() < 0.2 ? FlowFlag.Reverse : 0;
    if (rnd() < 0.03) flags |= FlowFlag.NoCounters;
    if (rnd() < 0.05) flags |= FlowFlag.RateUnknown;
    batch.flags[i] = flags;
  }
  return batch;
}

// ---------------------------------------------------------------------------------------

describe('AttributedRecordWriter + AttributedChunkReader', () => {
  it('aggregate exactly like BatchAttributor.attribute + MinuteAggregator.add, and attributeTo does too (seeded random batches)', () => {
    const index = SubscriberIndex.build(equivalenceAssignments);
    const lookup = HolderLookup.fromTables(index.lookupTables());
    const exporterIds = [1, 2];
    const labelOf = (id: number) => exporterKey(id);

    const attributor = new BatchAttributor({ subscribers: index, classifier });
    const aggA = new MinuteAggregator({ exporterLabel: labelOf });
    const aggC = new MinuteAggregator({ exporterLabel: labelOf });
    const tallyA = new UnattributedTally();
    const tallyB = new UnattributedTally();
    const tallyC = new UnattributedTally();

    const announced = new Map<number, string>();
    const aggB = announcedAggregator(announced);
    const harness = ringHarness({ indexes: new Map([[7, index]]), classNames: classifier.classNames, sink: aggB, exporters: announced });
    const writer = new AttributedRecordWriter({ classifier, lookup, generation: 7, exporterKey, output: harness.output });

    const rnd = prng(0x5eed_2025);
    const summariesA: BatchAttributionSummary[] = [];
    const drainedA: UsageEntry[] = [];
    const drainedB: UsageEntry[] = [];
    const drainedC: UsageEntry[] = [];
    const BATCHES = 40;
    for (let b = 0; b < BATCHES; b++) {
      const batch = randomBatch(rnd, 300 + Math.floor(rnd() * 400), exporterIds);
      const summaryA = attributor.attribute(batch, (flow) => aggA.add(flow), tallyA);
      writer.attribute(batch, tallyB);
      writer.flush();
      const summaryC = attributor.attributeTo(batch, aggC, tallyC);
      expect(summaryC).toEqual(summaryA);
      summariesA.push(summaryA);
      // Drain now and then, so the aggregators also agree across partial states.
      if (b % 8 === 7) {
        drainedA.push(...aggA.drain());
        drainedB.push(...aggB.drain());
        drainedC.push(...aggC.drain());
      }
    }
    drainedA.push(...aggA.drain());
    drainedB.push(...aggB.drain());
    drainedC.push(...aggC.drain());

    // Same records in the same order on every path: drain order (creation order) is equal, no sorting needed.
    expect(drainedB.length).toBe(drainedA.length);
    expect(drainedB).toEqual(drainedA);
    expect(drainedC).toEqual(drainedA);
    expect(aggB.anomalies).toEqual(aggA.anomalies);
    expect(aggC.anomalies).toEqual(aggA.anomalies);
    expect(tallyEntries(tallyB)).toEqual(tallyEntries(tallyA));
    expect(tallyEntries(tallyC)).toEqual(tallyEntries(tallyA));

    const total = sumSummaries(summariesA);
    expect(writer.counters).toEqual({ records: total.attributions, droppedRecords: 0, droppedChunks: 0 });
    expect(harness.readRecords).toBe(total.attributions);
    expect(harness.indexOfCalls.every((g) => g === 7)).toBe(true);
    expect(harness.indexOfCalls.length).toBe(harness.seen.filter((c) => c.kind === CHUNK_FLOWS).length);
    expect(unannouncedUses(harness.seen)).toEqual([]);
    expect([...harness.exporters]).toEqual([
      [0, exporterKey(0)],
      [1, exporterKey(1)],
      [2, exporterKey(2)],
    ]);

    // The data really covers what the test is about.
    expect(total.records).toBeGreaterThan(15_000);
    expect(total.skippedRecords).toBeGreaterThan(200);
    expect(total.unattributedRecords).toBeGreaterThan(1000);
    expect(total.attributions - total.attributedRecords).toBeGreaterThan(1000); // both ends subscribers
    expect(aggA.anomalies.clampedRecords).toBeGreaterThan(0);
    expect(aggA.anomalies.rejectedRecords).toBe(0);
    const subscribersSeen = new Set(drainedA.map((e) => e.subscriberId));
    for (const id of ['alice', 'bob', 'old-tenant', 'new-tenant', 'gina', 'henry', 'dave', 'erin', 'frank', 'carol', 'ivan', 'judy', 'kim', 'lan', 'host-0', 'host-0b', 'host-299']) {
      expect(subscribersSeen.has(id), id).toBe(true);
    }
    expect(new Set(drainedA.map((e) => e.trafficClass))).toEqual(new Set(['local', 'cdn', 'internet']));
    expect(new Set(drainedA.map((e) => e.exporter))).toEqual(new Set([exporterKey(1), exporterKey(2)]));
    expect(drainedA.some((e) => e.address.includes(':'))).toBe(true);
    expect(drainedA.some((e) => e.bytes === 0n && e.flows > 0n)).toBe(true);
    expect(drainedA.some((e) => e.flows === 0n)).toBe(true); // later minutes of spread flows
    // Ownership by flow start around the reassignment of 100.64.0.50.
    for (const e of drainedA.filter((x) => x.address === '100.64.0.50')) {
      if (e.flows > 0n) expect(e.subscriberId).toBe(e.minute * 1000 < T0 + 30 * MINUTE ? 'old-tenant' : 'new-tenant');
    }
    expect(tallyA.get(1)?.records).toBeGreaterThan(0);
    expect(tallyA.get(2)?.records).toBeGreaterThan(0);
  });

  it('keep counters beyond 2^53 exact on all three paths', () => {
    const index = SubscriberIndex.build([
      { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
      { subscriberId: 'bob', prefix: '100.64.0.8/30', validFrom: 0, validTo: null },
      { subscriberId: 'carol', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
    ]);
    const max32 = 0xffffffff;
    const at = (minute: number, seconds = 5) => T0 + minute * MINUTE + seconds * 1000;
    const rows: RowSpec[] = [
      // Both counters far beyond 2^53: (2^64 - 1) x (2^32 - 1).
      { src: '100.64.0.7', dst: '8.8.8.8', bytesHi: max32, bytes: max32, packetsHi: max32, packets: 1, rate: max32, start: at(0), end: at(0, 30) },
      // Raw bytes 2^53 (not a safe integer even unsampled), packets small, over 3 minutes.
      { src: '8.8.8.8', dst: '100.64.0.9', bytesHi: 0x200000, bytes: 0, packets: 10, rate: 1, start: at(1, 30), end: at(3, 30) },
      // Both ends subscribers, bytes 2^54 after sampling.
      { src: '100.64.0.7', dst: '100.64.0.10', bytesHi: 1, bytes: 0, packets: 10, rate: 2 ** 22, start: at(5), end: at(5, 40) },
      // IPv6, two minutes.
      { src: '2001:db8:2:1ab::77', dst: '2a00::1', bytesHi: max32, bytes: max32, packets: 1000, rate: 1000, start: at(7, 40), end: at(8, 20) },
      // 2^53 - 1 unsampled is still a safe integer (the number path) ...
      { src: '100.64.0.8', dst: '8.8.8.8', bytesHi: 0x1fffff, bytes: max32, packets: 1, rate: 1, start: at(10), end: at(10, 1) },
      // ... x 3 is not.
      { src: '100.64.0.8', dst: '8.8.8.8', bytesHi: 0x1fffff, bytes: max32, packets: 1, rate: 3, start: at(11), end: at(11, 1) },
      // Big bytes, zero packets, over ten minutes.
      { src: '100.64.0.7', dst: '8.8.8.8', bytesHi: 0x12345678, bytes: 0x9abcdef0, packets: 0, rate: 4096, start: at(20, 7), end: at(30, 13) },
      // Not attributed: exact in the tally.
      { src: '9.9.9.9', dst: '1.1.1.1', bytesHi: max32, bytes: max32, packetsHi: max32, packets: max32, rate: max32, exporter: 3 },
      { src: '9.9.9.9', dst: '1.1.1.2', bytesHi: 0, bytes: 5, packets: 1, rate: 7, exporter: 3 },
    ];
    // Five safe 2^52 records into one key: the sum passes 2^53 (the aggregator's carry).
    for (let k = 0; k < 5; k++) rows.push({ src: '100.64.0.7', dst: '8.8.8.8', bytesHi: 0x100000, bytes: k, packets: 1, start: at(40, k), end: at(40, k + 1) });
    const batch = batchOf(rows);

    const run = runAllPaths(index, batch);
    expect(run.drainedB).toEqual(run.drainedA);
    expect(run.drainedC).toEqual(run.drainedA);
    expect(tallyEntries(run.tallyB)).toEqual(tallyEntries(run.tallyA));
    expect(tallyEntries(run.tallyC)).toEqual(tallyEntries(run.tallyA));
    expect(run.summaryC).toEqual(run.summaryA);

    // Exact expected totals, from the batch's columns with bigint arithmetic.
    const scaled = (hi: number, lo: number, rate: number) => ((BigInt(hi) << 32n) | BigInt(lo)) * BigInt(rate);
    const expected = new Map<string, { bytes: bigint; packets: bigint }>();
    const addExpected = (key: string, row: number) => {
      const current = expected.get(key) ?? { bytes: 0n, packets: 0n };
      current.bytes += scaled(batch.bytesHi[row], batch.bytesLo[row], batch.samplingRate[row]);
      current.packets += scaled(batch.packetsHi[row], batch.packetsLo[row], batch.samplingRate[row]);
      expected.set(key, current);
    };
    for (let row = 0; row < batch.length; row++) {
      const src = batch.ipVersion[row] === 6 ? index.holderOf6(batch.srcAddr6, row * 16, batch.start[row]) : index.holderOf4(batch.srcAddr4[row], batch.start[row]);
      const dst = batch.ipVersion[row] === 6 ? index.holderOf6(batch.dstAddr6, row * 16, batch.start[row]) : index.holderOf4(batch.dstAddr4[row], batch.start[row]);
      if (src >= 0) addExpected(`${index.subscriberOf(src)} upload`, row);
      if (dst >= 0) addExpected(`${index.subscriberOf(dst)} download`, row);
    }
    for (const drained of [run.drainedA, run.drainedB, run.drainedC]) {
      const got = new Map<string, { bytes: bigint; packets: bigint }>();
      for (const e of drained) {
        const key = `${e.subscriberId} ${e.direction}`;
        const current = got.get(key) ?? { bytes: 0n, packets: 0n };
        current.bytes += e.bytes;
        current.packets += e.packets;
        got.set(key, current);
      }
      expect(got).toEqual(expected);
    }
    // A few values spelled out.
    const entryAt = (subscriberId: string, direction: string, minute: number) =>
      run.drainedB.find((e) => e.subscriberId === subscriberId && e.direction === direction && e.minute === S0 + minute * 60);
    expect(entryAt('alice', 'upload', 0)).toMatchObject({ bytes: (2n ** 64n - 1n) * (TWO_32 - 1n), packets: ((TWO_32 - 1n) * TWO_32 + 1n) * (TWO_32 - 1n), flows: 1n });
    expect(entryAt('bob', 'upload', 11)).toMatchObject({ bytes: (2n ** 53n - 1n) * 3n, packets: 3n, flows: 1n });
    expect(entryAt('bob', 'upload', 10)).toMatchObject({ bytes: 2n ** 53n - 1n, packets: 1n, flows: 1n });
    expect(entryAt('alice', 'upload', 40)).toMatchObject({ bytes: 5n * 2n ** 52n + 10n, packets: 5n, flows: 5n });
    // 2^53 bytes over [1:30, 3:30]: 30 s, 60 s, 30 s -> 1:2:1.
    expect([1, 2, 3].map((m) => entryAt('bob', 'download', m)?.bytes)).toEqual([2n ** 51n, 2n ** 52n, 2n ** 51n]);
    expect(run.tallyA.get(3)).toEqual({ records: 2, bytes: (2n ** 64n - 1n) * (TWO_32 - 1n) + 35n, packets: (2n ** 64n - 1n) * (TWO_32 - 1n) + 7n });
    // The reader hands the big records to add() (the bigint path), the others to addHolderRecord.
    const spy = new SpySink();
    const spyHarness = ringHarness({ indexes: new Map([[1, index]]), classNames: classifier.classNames, sink: spy });
    const writer = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index.lookupTables()), generation: 1, exporterKey, output: spyHarness.output });
    writer.attribute(batch, new UnattributedTally());
    writer.flush();
    expect(spy.flows.map((f) => f.subscriberId)).toEqual(['alice', 'bob', 'alice', 'bob', 'carol', 'bob', 'alice']);
    expect(spy.flows[0].bytes).toBe((2n ** 64n - 1n) * (TWO_32 - 1n));
    expect(spy.holderRecords.map((r) => [r.subscriber, r.bytes])).toEqual([
      ['bob', 2 ** 53 - 1],
      ...[0, 1, 2, 3, 4].map((k) => ['alice', 2 ** 52 + k]),
    ]);
  });

  it('tag chunks with the lookup generation; the reader attributes them with the index of that generation', () => {
    const index1 = SubscriberIndex.build([
      { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
      { subscriberId: 'bob', prefix: '100.64.0.8/30', validFrom: 0, validTo: null },
      { subscriberId: 'carol', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
    ]);
    // Same addresses, other subscribers and other holder ids; 100.64.0.8/30 is gone.
    const index2 = SubscriberIndex.build([
      { subscriberId: 'zed', prefix: '100.64.0.7', validFrom: 0, validTo: null },
      { subscriberId: 'yan', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
      { subscriberId: 'alice', prefix: '100.64.0.9', validFrom: 0, validTo: null },
    ]);
    expect(index1.holderOf4(parseIpv4('100.64.0.7'), T0)).toBe(0);
    expect(index2.holderOf4(parseIpv4('100.64.0.9'), T0)).toBe(2);
    const batch = batchOf([
      { src: '100.64.0.7', dst: '8.8.8.8' },
      { src: '8.8.8.8', dst: '100.64.0.10' },
      { src: '2001:db8:2:1ab::77', dst: '2a00::1' },
      { src: '100.64.0.9', dst: '8.8.8.8' },
    ]);

    const aggB = new MinuteAggregator({ exporterLabel: exporterKey });
    const harness = ringHarness({ indexes: new Map([[1, index1], [2, index2]]), classNames: classifier.classNames, sink: aggB });
    const writer = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index1.lookupTables()), generation: 1, exporterKey, output: harness.output });
    const tallyB = new UnattributedTally();
    writer.attribute(batch, tallyB);
    // No flush: replaceLookup must close the chunk of generation 1 itself.
    writer.replaceLookup(HolderLookup.fromTables(index2.lookupTables()), 2);
    writer.attribute(batch, tallyB);
    writer.flush();

    const flows = harness.seen.filter((c) => c.kind === CHUNK_FLOWS);
    // Generation 1's records, the marker of the switch (no records), generation 2's records.
    expect(flows.map((c) => [c.second, c.third])).toEqual([
      [1, 4],
      [2, 0],
      [2, 3],
    ]);
    expect(harness.indexOfCalls).toEqual([1, 2, 2]);

    const drainedB = aggB.drain();
    expect(drainedB.map((e) => [e.subscriberId, e.address, e.direction])).toEqual([
      ['alice', '100.64.0.7', 'upload'],
      ['bob', '100.64.0.10', 'download'],
      ['carol', '2001:db8:2:1ab::77', 'upload'],
      ['bob', '100.64.0.9', 'upload'],
      ['zed', '100.64.0.7', 'upload'],
      ['yan', '2001:db8:2:1ab::77', 'upload'],
      ['alice', '100.64.0.9', 'upload'],
    ]);
    expect(tallyB.get(0)).toEqual({ records: 1, bytes: 1000n, packets: 10n });

    // Path A with the same swap.
    const attributor = new BatchAttributor({ subscribers: index1, classifier });
    const aggA = new MinuteAggregator({ exporterLabel: exporterKey });
    const tallyA = new UnattributedTally();
    attributor.attribute(batch, (f) => aggA.add(f), tallyA);
    attributor.replaceSubscriberIndex(index2);
    attributor.attribute(batch, (f) => aggA.add(f), tallyA);
    expect(drainedB).toEqual(aggA.drain());
    expect(tallyEntries(tallyB)).toEqual(tallyEntries(tallyA));
  });

  it('announce each exporter id in an EXPORTER chunk before the first FLOWS chunk that uses it', () => {
    const index = SubscriberIndex.build([{ subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null }]);
    const harness = ringHarness({ indexes: new Map([[1, index]]), classNames: classifier.classNames, sink: new MinuteAggregator({ exporterLabel: exporterKey }) });
    const writer = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index.lookupTables()), generation: 1, exporterKey, output: harness.output });
    const up = (exporter: number): RowSpec => ({ src: '100.64.0.7', dst: '8.8.8.8', exporter });
    writer.attribute(batchOf([up(0), up(0), up(0)]), new UnattributedTally());
    writer.flush();
    // Exporter 5 only has unattributed traffic: no announcement for it.
    writer.attribute(batchOf([up(0), up(0), { src: '9.9.9.9', dst: '8.8.8.8', exporter: 5 }, up(2), up(0)]), new UnattributedTally());
    writer.flush();

    expect(harness.seen.map((c) => [c.kind, c.second, c.kind === CHUNK_FLOWS ? c.recordExporters : c.text])).toEqual([
      [CHUNK_EXPORTER, 0, exporterKey(0)],
      [CHUNK_FLOWS, 1, [0, 0, 0]],
      [CHUNK_FLOWS, 1, [0, 0]], // closed before the new announcements
      [CHUNK_EXPORTER, 1, exporterKey(1)],
      [CHUNK_EXPORTER, 2, exporterKey(2)],
      [CHUNK_FLOWS, 1, [2, 0]],
    ]);
    expect([...harness.exporters.keys()]).toEqual([0, 1, 2]);
    expect(unannouncedUses(harness.seen)).toEqual([]);
    expect(writer.counters).toEqual({ records: 7, droppedRecords: 0, droppedChunks: 0 });
  });

  it('retry a refused announcement before any records of that exporter are delivered', () => {
    const index = SubscriberIndex.build([{ subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null }]);
    const sink = new MinuteAggregator({ exporterLabel: exporterKey });
    // The ring refuses the first announcement of exporter 0 (full), then takes everything.
    const harness = ringHarness({ indexes: new Map([[1, index]]), classNames: classifier.classNames, sink, refuse: (call) => call === 0 });
    const writer = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index.lookupTables()), generation: 1, exporterKey, output: harness.output });
    const rows = [0, 1, 2, 3].map((k) => ({ src: '100.64.0.7', dst: '8.8.8.8', exporter: 0, start: T0 + k * MINUTE, end: T0 + k * MINUTE + 1 }));
    writer.attribute(batchOf(rows), new UnattributedTally());
    writer.flush();

    expect(harness.seen.filter((c) => !c.accepted).map((c) => [c.kind, c.second])).toEqual([[CHUNK_EXPORTER, 0]]);
    // Announced again, and taken this time.
    expect(harness.seen.filter((c) => c.accepted && c.kind === CHUNK_EXPORTER).map((c) => c.second)).toEqual([0]);
    // No delivered FLOWS chunk uses exporter 0 before that (the collector's main thread
    // throws "exporter 0 was not announced by the receive thread" on such a chunk).
    expect(unannouncedUses(harness.seen)).toEqual([]);
    // Every attribution is accounted for, delivered or dropped.
    expect(writer.counters.records + writer.counters.droppedRecords).toBe(4);
    expect(sink.drain().reduce((n, e) => n + Number(e.flows), 0)).toBe(writer.counters.records);
  });

  it('count refused FLOWS chunks as dropped and do not deliver them', () => {
    const index = SubscriberIndex.build([
      { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
      { subscriberId: 'carol', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
    ]);
    const spy = new SpySink();
    let flowsCalls = 0;
    // Refuse the second FLOWS chunk.
    const harness = ringHarness({ indexes: new Map([[1, index]]), classNames: classifier.classNames, sink: spy, refuse: (_call, chunk) => chunk.kind === CHUNK_FLOWS && flowsCalls++ === 1 });
    const writer = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index.lookupTables()), generation: 1, exporterKey, output: harness.output });
    const rows: RowSpec[] = [];
    for (let k = 0; k < 300; k++) rows.push(k % 3 === 0 ? { src: '2001:db8:2:1ab::77', dst: '2a00::1', bytes: k } : { src: '100.64.0.7', dst: '8.8.8.8', bytes: k });
    writer.attribute(batchOf(rows), new UnattributedTally());
    writer.flush();
    writer.attribute(batchOf(rows.slice(0, 10)), new UnattributedTally());
    writer.flush();

    const flows = harness.seen.filter((c) => c.kind === CHUNK_FLOWS);
    // 100 IPv6 + 200 IPv4 records: 100 x 72 + 200 x 56 + 16 bytes, one chunk of the default 256 KiB; then the second batch's.
    expect(flows.map((c) => [c.accepted, c.third])).toEqual([
      [true, 300],
      [false, 10],
    ]);
    expect(writer.counters).toEqual({ records: 300, droppedRecords: 10, droppedChunks: 1 });
    expect(harness.readRecords).toBe(300);
    expect(spy.holderRecords.map((r) => r.bytes)).toEqual(rows.map((r) => r.bytes));
  });

  it('split a big batch into chunks of at most chunkBytes, losing nothing', () => {
    const index = SubscriberIndex.build(equivalenceAssignments);
    const batch = randomBatch(prng(42), 5000, [1, 2]);
    const aggB = new MinuteAggregator({ exporterLabel: exporterKey });
    const harness = ringHarness({ indexes: new Map([[3, index]]), classNames: classifier.classNames, sink: aggB, ringBytes: 64 * 1024 });
    const writer = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index.lookupTables()), generation: 3, exporterKey, output: harness.output, chunkBytes: 4096 });
    const tallyB = new UnattributedTally();
    writer.attribute(batch, tallyB);
    writer.flush();

    const attributor = new BatchAttributor({ subscribers: index, classifier });
    const aggA = new MinuteAggregator({ exporterLabel: exporterKey });
    const tallyA = new UnattributedTally();
    const summary = attributor.attribute(batch, (f) => aggA.add(f), tallyA);

    const flows = harness.seen.filter((c) => c.kind === CHUNK_FLOWS);
    expect(flows.length).toBeGreaterThan(40);
    for (const c of flows) {
      expect(c.length).toBeLessThanOrEqual(4096);
      expect(c.length % 8).toBe(0);
    }
    // Every chunk but the last (and at most two closed for the announcements of exporters
    // 0..2) is full: the next record (56 or 72 bytes) would not fit.
    const full = flows.slice(0, -1).filter((c) => c.length + RECORD_BYTES_V6 > 4096);
    expect(flows.length - full.length).toBeLessThanOrEqual(3);
    expect(unannouncedUses(harness.seen)).toEqual([]);
    expect(flows.reduce((n, c) => n + c.third, 0)).toBe(summary.attributions);
    expect(writer.counters).toEqual({ records: summary.attributions, droppedRecords: 0, droppedChunks: 0 });
    expect(harness.readRecords).toBe(summary.attributions);
    expect(aggB.drain()).toEqual(aggA.drain());
    expect(tallyEntries(tallyB)).toEqual(tallyEntries(tallyA));

    // chunkBytes below 4096 is raised to 4096.
    const small = ringHarness({ indexes: new Map([[3, index]]), classNames: classifier.classNames, sink: new SpySink() });
    const smallWriter = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index.lookupTables()), generation: 3, exporterKey, output: small.output, chunkBytes: 100 });
    smallWriter.attribute(batch, new UnattributedTally());
    smallWriter.flush();
    const smallFlows = small.seen.filter((c) => c.kind === CHUNK_FLOWS);
    expect(smallFlows.map((c) => c.length)).toEqual(flows.map((c) => c.length));
  });
});

describe('AttributedChunkReader on malformed chunks', () => {
  const index = SubscriberIndex.build([
    { subscriberId: 'alice', prefix: '100.64.0.7', validFrom: 0, validTo: null },
    { subscriberId: 'carol', prefix: '2001:db8:2:100::/56', validFrom: 0, validTo: null },
  ]);

  /** One valid FLOWS chunk (IPv4 record, IPv6 record), copied at byte 64 of an aligned buffer. */
  function setup() {
    const chunks: Uint8Array[] = [];
    const writer = new AttributedRecordWriter({
      classifier,
      lookup: HolderLookup.fromTables(index.lookupTables()),
      generation: 1,
      exporterKey,
      output: (chunk) => {
        chunks.push(chunk.slice());
        return true;
      },
    });
    writer.attribute(batchOf([{ src: '100.64.0.7', dst: '80.81.192.1' }, { src: '2a00::1', dst: '2001:db8:2:1ab::1' }]), new UnattributedTally());
    writer.flush();
    expect(chunks.map((c) => new Uint32Array(c.buffer, 0, 1)[0])).toEqual([CHUNK_EXPORTER, CHUNK_FLOWS]);
    const flows = chunks[1];
    expect(flows.length).toBe(CHUNK_HEADER_BYTES + RECORD_BYTES + RECORD_BYTES_V6);
    const bytes = new Uint8Array(1024);
    bytes.set(flows, 64);
    const u32 = new Uint32Array(bytes.buffer);
    const i32 = new Int32Array(bytes.buffer);
    const sink = new SpySink();
    const context: ChunkContext = { classNames: classifier.classNames, exporter: () => {}, indexOf: () => index };
    const reader = new AttributedChunkReader(bytes);
    return { bytes, u32, i32, sink, context, reader, length: flows.length, head: 64 / 4, record0: (64 + CHUNK_HEADER_BYTES) / 4, record1: (64 + CHUNK_HEADER_BYTES + RECORD_BYTES) / 4 };
  }

  it('reads the valid chunk', () => {
    const s = setup();
    expect(s.reader.read(64, s.length, s.context, s.sink)).toBe(2);
    expect(s.sink.holderRecords.map((r) => [r.subscriber, r.upload, r.trafficClass, r.bytes, r.packets])).toEqual([
      ['alice', true, 'local', 1000, 10],
      ['carol', false, 'internet', 1000, 10],
    ]);
  });

  it('rejects an unknown kind', () => {
    const s = setup();
    s.u32[s.head] = 3;
    expect(() => s.reader.read(64, s.length, s.context, s.sink)).toThrow(RangeError);
    expect(() => s.reader.read(64, s.length, s.context, s.sink)).toThrow(/unknown chunk kind 3/);
    s.u32[s.head] = 0;
    expect(() => s.reader.read(64, s.length, s.context, s.sink)).toThrow(RangeError);
  });

  it('rejects a record count larger than the bytes', () => {
    const s = setup();
    s.u32[s.head + 2] = 3;
    expect(() => s.reader.read(64, s.length, s.context, s.sink)).toThrow(RangeError);
    // A length cut short of the second record.
    const t = setup();
    expect(() => t.reader.read(64, t.length - 8, t.context, t.sink)).toThrow(/shorter than its record count/);
    // A huge count.
    const u = setup();
    u.u32[u.head + 2] = 0xffffffff;
    expect(() => u.reader.read(64, u.length, u.context, u.sink)).toThrow(RangeError);
  });

  it('rejects a holder out of range', () => {
    for (const holder of [index.holderCount, -1, 0x7fffffff]) {
      const s = setup();
      s.i32[s.record1 + 9] = holder;
      expect(() => s.reader.read(64, s.length, s.context, s.sink)).toThrow(RangeError);
    }
    // The same holder is fine with an index that has it.
    const s = setup();
    s.i32[s.record1 + 9] = 0;
    expect(s.reader.read(64, s.length, s.context, s.sink)).toBe(2);
    expect(s.sink.holderRecords.map((r) => r.subscriber)).toEqual(['alice', 'alice']);
  });

  it('rejects a class number out of range', () => {
    const s = setup();
    const tag = s.u32[s.record0 + 12];
    s.u32[s.record0 + 12] = (tag & 0xff) | (classifier.classNames.length << 8);
    expect(() => s.reader.read(64, s.length, s.context, s.sink)).toThrow(RangeError);
    expect(s.sink.holderRecords).toEqual([]);
    const t = setup();
    t.u32[t.record1 + 12] = (t.u32[t.record1 + 12] & 0xff) | (0xffffff << 8);
    expect(() => t.reader.read(64, t.length, t.context, t.sink)).toThrow(/bad record/);
  });

  it('rejects unaligned offsets, lengths past the buffer, short chunks, and unaligned views', () => {
    const s = setup();
    s.bytes.copyWithin(68, 64, 64 + s.length);
    expect(() => s.reader.read(68, s.length, s.context, s.sink)).toThrow(RangeError);
    expect(() => s.reader.read(64, 8, s.context, s.sink)).toThrow(RangeError);
    expect(() => s.reader.read(1016, 16, s.context, s.sink)).toThrow(RangeError);
    expect(() => s.reader.read(1008, 24, s.context, s.sink)).toThrow(RangeError);
    expect(() => new AttributedChunkReader(new Uint8Array(new ArrayBuffer(64), 4, 32))).toThrow(RangeError);
    expect(s.sink.holderRecords).toEqual([]);
  });

  it('rejects an EXPORTER chunk whose text runs past its length', () => {
    const s = setup();
    s.u32[s.head] = CHUNK_EXPORTER;
    s.u32[s.head + 1] = 4;
    s.u32[s.head + 2] = 200;
    expect(() => s.reader.read(64, 32, s.context, s.sink)).toThrow(RangeError);
    const seen: [number, string][] = [];
    const text = new TextEncoder().encode('192.0.2.4:2055');
    s.u32[s.head + 2] = text.length;
    s.bytes.set(text, 64 + CHUNK_HEADER_BYTES);
    expect(s.reader.read(64, CHUNK_HEADER_BYTES + text.length, { ...s.context, exporter: (id, key) => seen.push([id, key]) }, s.sink)).toBe(0);
    expect(seen).toEqual([[4, '192.0.2.4:2055']]);
  });
});

/** Paths A (attribute + add), B (writer -> ring -> reader), C (attributeTo) over one batch. */
function runAllPaths(index: SubscriberIndex, batch: FlowBatch) {
  const attributor = new BatchAttributor({ subscribers: index, classifier });
  const aggA = new MinuteAggregator({ exporterLabel: exporterKey });
  const aggB = new MinuteAggregator({ exporterLabel: exporterKey });
  const aggC = new MinuteAggregator({ exporterLabel: exporterKey });
  const tallyA = new UnattributedTally();
  const tallyB = new UnattributedTally();
  const tallyC = new UnattributedTally();
  const summaryA = attributor.attribute(batch, (f) => aggA.add(f), tallyA);
  const harness = ringHarness({ indexes: new Map([[1, index]]), classNames: classifier.classNames, sink: aggB });
  const writer = new AttributedRecordWriter({ classifier, lookup: HolderLookup.fromTables(index.lookupTables()), generation: 1, exporterKey, output: harness.output });
  writer.attribute(batch, tallyB);
  writer.flush();
  const summaryC = attributor.attributeTo(batch, aggC, tallyC);
  return { drainedA: aggA.drain(), drainedB: aggB.drain(), drainedC: aggC.drain(), tallyA, tallyB, tallyC, summaryA, summaryC, writer };
}
