/**
 * Attribute every record of a FlowBatch to the subscribers at its ends.
 *
 * Per record, at the record's start time:
 * - source is a subscriber      -> `upload` for it, classified by the destination;
 * - destination is a subscriber -> `download` for it, classified by the source;
 * - both                        -> both of the above (each subscriber is billed its side);
 * - neither                     -> counted in the UnattributedTally under the exporter id.
 * Records flagged NoCounters carry nothing to bill and are only counted as skipped.
 *
 * The start time decides ownership because whoever held the address when the flow
 * began is the party that sent or requested it; a flow outliving a reassignment is
 * bounded by the exporter's active timeout (minutes), and the minute spreader
 * (spread.ts) distributes its volume over time, not over owners.
 *
 * Tables are swapped by replacing a reference (replaceSubscriberIndex /
 * replaceClassifier). `attribute` reads both references once, so each batch is
 * attributed against one consistent pair even if a swap happens from a callback.
 */
import { formatIpv4, formatIpv6 } from '@flowbill/shared/ip/index';
import { FlowBatch, FlowFlag } from '../decoder/batch.js';
import type { AttributedRecordSink } from './attributed-records.js';
import { NO_HOLDER, SubscriberIndex } from './subscriber-index.js';
import type { TrafficClassifier } from './traffic-classifier.js';
import type { UnattributedTally } from './unattributed-tally.js';

export type Direction = 'upload' | 'download';

/**
 * One subscriber's share of one record. The sink receives the same object for every
 * attribution of a batch, overwritten each time: copy what must outlive the call.
 */
export interface AttributedFlow {
  /** Batch row of the record, to read further columns (ports, protocol, AS...). */
  row: number;
  exporterId: number;
  subscriberId: string;
  /** Canonical text of the assignment that matched, e.g. "100.64.0.7/32" or "2001:db8:1:100::/56". */
  assignedPrefix: string;
  direction: Direction;
  /** Class of the remote end. */
  trafficClass: string;
  ipVersion: 4 | 6;
  /** The subscriber-side address for IPv4 (uint32); 0 for IPv6. */
  address4: number;
  /** For IPv6, the batch column holding the subscriber-side address (read at address6Offset); null for IPv4. */
  address6: Uint8Array | null;
  address6Offset: number;
  /** Counters multiplied by the sampling rate, exact. */
  bytes: bigint;
  packets: bigint;
  /**
   * The same counters as numbers when they are safe integers (<= 2^53 - 1, every real
   * flow), else -1 (read `bytes` / `packets`). Optional: only BatchAttributor sets them, so
   * a consumer can skip bigint arithmetic per record. On the attributor's reused object
   * they are not enumerable (copies of the object look as before), and `bytes` / `packets`
   * are built from them when read.
   */
  bytesNumber?: number;
  packetsNumber?: number;
  /**
   * The matching holder (one subscriber + assigned prefix) as a dense id of `holderIndex`,
   * so a consumer can key per-subscriber state by number instead of hashing
   * `subscriberId` per record. Optional and not enumerable, like bytesNumber: only
   * BatchAttributor sets them; the id means nothing without its index object (ids change
   * when the index is rebuilt).
   */
  holder?: number;
  holderIndex?: SubscriberIndex;
  /** Flow start and end, ms since epoch. */
  start: number;
  end: number;
}

export type AttributedFlowSink = (flow: Readonly<AttributedFlow>) => void;

export interface BatchAttributionSummary {
  /** Rows read. */
  records: number;
  /** Rows with a subscriber at one end or both. */
  attributedRecords: number;
  /** Sink calls (a record with subscribers at both ends makes two). */
  attributions: number;
  /** Rows added to the unattributed tally. */
  unattributedRecords: number;
  /** Rows flagged NoCounters. */
  skippedRecords: number;
}

export interface AttributionTables {
  readonly subscribers: SubscriberIndex;
  readonly classifier: TrafficClassifier;
}

export class BatchAttributor {
  private subscriberIndex: SubscriberIndex;
  private trafficClassifier: TrafficClassifier;
  /** Reused for every sink call; see AttributedFlow and reusableFlow(). */
  private readonly flow: ReusableFlow = reusableFlow();

  constructor(tables: AttributionTables) {
    this.subscriberIndex = tables.subscribers;
    this.trafficClassifier = tables.classifier;
  }

  get subscribers(): SubscriberIndex {
    return this.subscriberIndex;
  }

  get classifier(): TrafficClassifier {
    return this.trafficClassifier;
  }

  /** Use `next` from the next batch on (build it fully first; this only swaps the reference). */
  replaceSubscriberIndex(next: SubscriberIndex): void {
    this.subscriberIndex = next;
  }

  replaceClassifier(next: TrafficClassifier): void {
    this.trafficClassifier = next;
  }

  /** Attribute rows 0..batch.length-1; see the file comment for the rules. */
  attribute(batch: FlowBatch, sink: AttributedFlowSink, unattributed: UnattributedTally): BatchAttributionSummary {
    const subscribers = this.subscriberIndex;
    const classifier = this.trafficClassifier;
    const flow = this.flow;
    const summary: BatchAttributionSummary = { records: batch.length, attributedRecords: 0, attributions: 0, unattributedRecords: 0, skippedRecords: 0 };

    for (let row = 0; row < batch.length; row++) {
      if ((batch.flags[row] & FlowFlag.NoCounters) !== 0) {
        summary.skippedRecords++;
        continue;
      }
      const version = batch.ipVersion[row];
      const time = batch.start[row];
      const offset = row * 16;
      let sourceHolder = NO_HOLDER;
      let destinationHolder = NO_HOLDER;
      if (version === 4) {
        sourceHolder = subscribers.holderOf4(batch.srcAddr4[row], time);
        destinationHolder = subscribers.holderOf4(batch.dstAddr4[row], time);
      } else if (version === 6) {
        sourceHolder = subscribers.holderOf6(batch.srcAddr6, offset, time);
        destinationHolder = subscribers.holderOf6(batch.dstAddr6, offset, time);
      }

      const rate = batch.samplingRate[row];
      if (sourceHolder === NO_HOLDER && destinationHolder === NO_HOLDER) {
        const bytes = scaledCounter(batch.bytesHi[row], batch.bytesLo[row], rate);
        const packets = scaledCounter(batch.packetsHi[row], batch.packetsLo[row], rate);
        unattributed.add(batch.exporterId[row], bytes, packets);
        summary.unattributedRecords++;
        continue;
      }

      summary.attributedRecords++;
      flow.index = subscribers;
      flow.holderIndex = subscribers;
      flow.row = row;
      flow.exporterId = batch.exporterId[row];
      flow.ipVersion = version === 4 ? 4 : 6;
      // Counters as numbers when exact (no bigint per record); see scaledCounter.
      const bytesHi = batch.bytesHi[row];
      const bytesLo = batch.bytesLo[row];
      const bytesProduct = (bytesHi * TWO_32 + bytesLo) * rate;
      if (bytesProduct <= Number.MAX_SAFE_INTEGER) {
        flow.bytesNumber = bytesProduct;
        flow.bytesBig = null;
      } else {
        flow.bytesNumber = -1;
        flow.bytesBig = scaledCounter(bytesHi, bytesLo, rate);
      }
      const packetsHi = batch.packetsHi[row];
      const packetsLo = batch.packetsLo[row];
      const packetsProduct = (packetsHi * TWO_32 + packetsLo) * rate;
      if (packetsProduct <= Number.MAX_SAFE_INTEGER) {
        flow.packetsNumber = packetsProduct;
        flow.packetsBig = null;
      } else {
        flow.packetsNumber = -1;
        flow.packetsBig = scaledCounter(packetsHi, packetsLo, rate);
      }
      flow.start = time;
      flow.end = batch.end[row];
      flow.address6Offset = version === 4 ? 0 : offset;

      if (sourceHolder !== NO_HOLDER) {
        flow.subscriberId = subscribers.subscriberOf(sourceHolder);
        flow.holder = sourceHolder;
        flow.assignedPrefixOverride = null;
        flow.direction = 'upload';
        if (version === 4) {
          flow.trafficClass = classifier.classOf4(batch.dstAddr4[row]);
          flow.address4 = batch.srcAddr4[row];
          flow.address6 = null;
        } else {
          flow.trafficClass = classifier.classOf6(batch.dstAddr6, offset);
          flow.address4 = 0;
          flow.address6 = batch.srcAddr6;
        }
        summary.attributions++;
        sink(flow);
      }
      if (destinationHolder !== NO_HOLDER) {
        flow.subscriberId = subscribers.subscriberOf(destinationHolder);
        flow.holder = destinationHolder;
        flow.assignedPrefixOverride = null;
        flow.direction = 'download';
        if (version === 4) {
          flow.trafficClass = classifier.classOf4(batch.srcAddr4[row]);
          flow.address4 = batch.dstAddr4[row];
          flow.address6 = null;
        } else {
          flow.trafficClass = classifier.classOf6(batch.srcAddr6, offset);
          flow.address4 = 0;
          flow.address6 = batch.dstAddr6;
        }
        summary.attributions++;
        sink(flow);
      }
    }
    return summary;
  }

  /**
   * attribute() straight into an AttributedRecordSink (MinuteAggregator.addHolderRecord),
   * without an AttributedFlow in between: the collector's per-record path. Same rules and
   * summary; a record whose scaled counters are not safe integers goes through the sink's
   * add(flow) with exact bigints. The rules are written twice on purpose (this loop builds no
   * object per record); attributed-records.test.ts checks that both give the same usage.
   */
  attributeTo(batch: FlowBatch, sink: AttributedRecordSink, unattributed: UnattributedTally): BatchAttributionSummary {
    const subscribers = this.subscriberIndex;
    const classifier = this.trafficClassifier;
    const summary: BatchAttributionSummary = { records: batch.length, attributedRecords: 0, attributions: 0, unattributedRecords: 0, skippedRecords: 0 };
    for (let row = 0; row < batch.length; row++) {
      if ((batch.flags[row] & FlowFlag.NoCounters) !== 0) {
        summary.skippedRecords++;
        continue;
      }
      const version = batch.ipVersion[row];
      const time = batch.start[row];
      const offset = row * 16;
      let sourceHolder = NO_HOLDER;
      let destinationHolder = NO_HOLDER;
      if (version === 4) {
        sourceHolder = subscribers.holderOf4(batch.srcAddr4[row], time);
        destinationHolder = subscribers.holderOf4(batch.dstAddr4[row], time);
      } else if (version === 6) {
        sourceHolder = subscribers.holderOf6(batch.srcAddr6, offset, time);
        destinationHolder = subscribers.holderOf6(batch.dstAddr6, offset, time);
      }
      const rate = batch.samplingRate[row];
      if (sourceHolder === NO_HOLDER && destinationHolder === NO_HOLDER) {
        unattributed.add(batch.exporterId[row], scaledCounter(batch.bytesHi[row], batch.bytesLo[row], rate), scaledCounter(batch.packetsHi[row], batch.packetsLo[row], rate));
        summary.unattributedRecords++;
        continue;
      }
      const bytes = (batch.bytesHi[row] * TWO_32 + batch.bytesLo[row]) * rate;
      const packets = (batch.packetsHi[row] * TWO_32 + batch.packetsLo[row]) * rate;
      if (bytes > Number.MAX_SAFE_INTEGER || packets > Number.MAX_SAFE_INTEGER) {
        // Rare (corrupt or absurd counters): the exact bigint path, through the flow object.
        const one = this.attribute(oneRow(batch, row), (flow) => sink.add(flow), unattributed);
        summary.attributedRecords += one.attributedRecords;
        summary.attributions += one.attributions;
        continue;
      }
      summary.attributedRecords++;
      const exporterId = batch.exporterId[row];
      const end = batch.end[row];
      if (sourceHolder !== NO_HOLDER) {
        summary.attributions++;
        if (version === 4) sink.addHolderRecord(exporterId, subscribers, sourceHolder, true, classifier.classOf4(batch.dstAddr4[row]), batch.srcAddr4[row], null, 0, time, end, bytes, packets);
        else sink.addHolderRecord(exporterId, subscribers, sourceHolder, true, classifier.classOf6(batch.dstAddr6, offset), 0, batch.srcAddr6, offset, time, end, bytes, packets);
      }
      if (destinationHolder !== NO_HOLDER) {
        summary.attributions++;
        if (version === 4) sink.addHolderRecord(exporterId, subscribers, destinationHolder, false, classifier.classOf4(batch.srcAddr4[row]), batch.dstAddr4[row], null, 0, time, end, bytes, packets);
        else sink.addHolderRecord(exporterId, subscribers, destinationHolder, false, classifier.classOf6(batch.srcAddr6, offset), 0, batch.dstAddr6, offset, time, end, bytes, packets);
      }
    }
    return summary;
  }
}

/** A batch holding a copy of one row of `batch` (the rare bigint path of attributeTo). */
function oneRow(batch: FlowBatch, row: number): FlowBatch {
  const single = new FlowBatch(1);
  single.copyRowFrom(batch, row);
  return single;
}

const TWO_32 = 4294967296;

/** The attributor's reused sink object (also AttributedChunkReader's): counters held as numbers, bigints built on read. */
export interface ReusableFlow extends AttributedFlow {
  bytesNumber: number;
  packetsNumber: number;
  /** The exact counter when it is not a safe integer (then the number is -1). */
  bytesBig: bigint | null;
  packetsBig: bigint | null;
  /** assignedPrefix is read from the index when asked for (one memory access less per record). */
  index: SubscriberIndex;
  holder: number;
  holderIndex: SubscriberIndex;
  assignedPrefixOverride: string | null;
}

/**
 * The flow object BatchAttributor reuses. `bytes` and `packets` are enumerable accessors
 * (a spread copy gets their bigint values, as it got the plain fields before);
 * bytesNumber / packetsNumber and the bigint fallbacks are not enumerable.
 */
export function reusableFlow(): ReusableFlow {
  const flow = {
    row: 0,
    exporterId: 0,
    subscriberId: '',
    direction: 'upload',
    trafficClass: '',
    ipVersion: 4,
    address4: 0,
    address6: null,
    address6Offset: 0,
    start: 0,
    end: 0,
  } as Omit<ReusableFlow, 'bytes' | 'packets' | 'bytesNumber' | 'packetsNumber' | 'bytesBig' | 'packetsBig' | 'assignedPrefix' | 'index' | 'holder' | 'assignedPrefixOverride'>;
  Object.defineProperties(flow, {
    index: { value: SubscriberIndex.EMPTY, writable: true, enumerable: false },
    holderIndex: { value: SubscriberIndex.EMPTY, writable: true, enumerable: false },
    holder: { value: NO_HOLDER, writable: true, enumerable: false },
    assignedPrefixOverride: { value: null, writable: true, enumerable: false },
    assignedPrefix: {
      enumerable: true,
      get(this: ReusableFlow): string {
        return this.assignedPrefixOverride ?? (this.holder === NO_HOLDER ? '' : this.index.assignedPrefixOf(this.holder));
      },
      set(this: ReusableFlow, value: string) {
        this.assignedPrefixOverride = value;
      },
    },
    bytesNumber: { value: 0, writable: true, enumerable: false },
    packetsNumber: { value: 0, writable: true, enumerable: false },
    bytesBig: { value: null, writable: true, enumerable: false },
    packetsBig: { value: null, writable: true, enumerable: false },
    bytes: {
      enumerable: true,
      get(this: ReusableFlow): bigint {
        return this.bytesBig ?? BigInt(this.bytesNumber);
      },
      set(this: ReusableFlow, value: bigint) {
        this.bytesBig = value;
        this.bytesNumber = value >= 0n && value <= MAX_SAFE_BIG ? Number(value) : -1;
      },
    },
    packets: {
      enumerable: true,
      get(this: ReusableFlow): bigint {
        return this.packetsBig ?? BigInt(this.packetsNumber);
      },
      set(this: ReusableFlow, value: bigint) {
        this.packetsBig = value;
        this.packetsNumber = value >= 0n && value <= MAX_SAFE_BIG ? Number(value) : -1;
      },
    },
  });
  return flow as ReusableFlow;
}

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * (hi * 2^32 + lo) * rate, exact, as the decoder's scaledBytesOf computes it, but with
 * one bigint allocation instead of six when the product fits a double exactly (which
 * is every real flow). A product above 2^53 - 1 rounds to at least 2^53 in double
 * arithmetic, so the comparison never accepts an inexact value.
 */
export function scaledCounter(hi: number, lo: number, rate: number): bigint {
  const product = (hi * TWO_32 + lo) * rate;
  if (product <= Number.MAX_SAFE_INTEGER) return BigInt(product);
  return ((BigInt(hi) << 32n) | BigInt(lo)) * BigInt(rate);
}

/** Text of the subscriber-side address of an attribution (allocates; for keys and logs, not per record in bulk). */
export function subscriberAddressText(flow: Readonly<AttributedFlow>): string {
  return flow.address6 === null ? formatIpv4(flow.address4) : formatIpv6(flow.address6, flow.address6Offset);
}
