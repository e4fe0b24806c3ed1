/**
 * Attributed records as bytes: what the collector's receive thread hands to the main
 * thread through the shared ring (service/receiver/), instead of raw datagrams.
 *
 * The receive thread decodes and attributes (AttributedRecordWriter: the rules of
 * BatchAttributor, with a HolderLookup instead of a SubscriberIndex) and writes one fixed
 * record per attribution; the main thread reads them back as AttributedFlow objects
 * (readAttributedChunk) for MinuteAggregator.add, with the subscriber texts of its own
 * SubscriberIndex of the same generation (holder ids are that index's). Splitting there
 * balances the two threads: receiving + decoding + attribution on one, aggregation + Redis
 * on the other (bench/RESULTS.md, "Ingestion").
 *
 * Chunks (native byte order: both ends are threads of one process). Every chunk starts with
 * a u32 kind; offsets are in bytes, chunks and records are 8-aligned.
 *
 *   FLOWS     u32 kind=1, u32 index generation, u32 record count, u32 0, then records
 *             (replaceLookup writes one with no records: "generation N from here on")
 *   EXPORTER  u32 kind=2, u32 exporter id, u32 text length, u32 0, then UTF-8 "address:port"
 *             (written before the first FLOWS chunk that uses the id)
 *
 * A FLOWS record, RECORD_BYTES (+16 for IPv6):
 *   +0 f64 start  +8 f64 end (ms since the epoch)
 *   +16 u32 bytes hi  +20 u32 bytes lo  +24 u32 packets hi  +28 u32 packets lo  +32 u32 sampling rate
 *   +36 i32 holder  +40 u32 exporter id  +44 u32 IPv4 address (subscriber side)
 *   +48 u32 tag: bit 0 upload, bit 1 IPv6, class number << 8   +52 u32 0
 *   +56 16 bytes IPv6 address (subscriber side), IPv6 records only
 * Counters travel raw (hi, lo, rate): the reader scales them exactly as BatchAttributor does.
 */
import { type FlowBatch, FlowFlag } from '../decoder/batch.js';
import { type AttributedFlow, reusableFlow, scaledCounter } from './batch-attributor.js';
import type { HolderLookup } from './holder-lookup.js';
import { NO_HOLDER } from './ownership-timeline.js';
import type { SubscriberIndex } from './subscriber-index.js';
import type { TrafficClassifier } from './traffic-classifier.js';
import type { UnattributedTally } from './unattributed-tally.js';

export const CHUNK_FLOWS = 1;
export const CHUNK_EXPORTER = 2;
export const CHUNK_HEADER_BYTES = 16;
export const RECORD_BYTES = 56;
export const RECORD_BYTES_V6 = 72;
const TAG_UPLOAD = 1;
const TAG_V6 = 2;
const TWO_32 = 4294967296;

/** Where finished chunks go (the ring); false = refused (the ring is full): the chunk is lost and counted. */
export type ChunkOutput = (chunk: Uint8Array) => boolean;

export interface WriterCounters {
  /** Attributions written into chunks the output took. */
  records: number;
  /** Attributions in chunks the output refused. */
  droppedRecords: number;
  droppedChunks: number;
}

/**
 * Receive-thread side: attribute a decoded batch into FLOWS chunks. Exporter ids are
 * announced (EXPORTER chunk) before their first use; `exporterKey(id)` gives the text.
 */
export class AttributedRecordWriter {
  readonly counters: WriterCounters = { records: 0, droppedRecords: 0, droppedChunks: 0 };
  private readonly buffer: ArrayBuffer;
  private readonly bytes: Uint8Array;
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private at = CHUNK_HEADER_BYTES;
  private count = 0;
  private generation = 0;
  private lookup: HolderLookup;
  /** Exporter ids below this were announced. */
  private announced = 0;
  private readonly classNumbers = new Map<string, number>();
  private lastClass = '';
  private lastClassNumber = 0;

  constructor(
    private readonly options: {
      classifier: TrafficClassifier;
      lookup: HolderLookup;
      generation: number;
      exporterKey: (id: number) => string;
      output: ChunkOutput;
      /** Chunk size (default 256 KiB); a chunk is written when the next record would not fit. */
      chunkBytes?: number;
    },
  ) {
    const size = Math.max(4096, Math.floor((options.chunkBytes ?? 262_144) / 8) * 8);
    this.buffer = new ArrayBuffer(size);
    this.bytes = new Uint8Array(this.buffer);
    this.u32 = new Uint32Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
    this.f64 = new Float64Array(this.buffer);
    this.lookup = options.lookup;
    this.generation = options.generation;
    options.classifier.classNames.forEach((name, n) => this.classNumbers.set(name, n));
  }

  /** Attribute with `lookup` (holder ids of index `generation`) from the next record on. */
  replaceLookup(lookup: HolderLookup, generation: number): void {
    this.flush();
    this.lookup = lookup;
    this.generation = generation;
    // An empty FLOWS chunk marks the switch even when no record follows for a while, so the
    // reader can let older indexes go (an idle collector would otherwise keep every one).
    // Refused (ring full): harmless, the next records carry the generation anyway.
    const marker = new Uint32Array([CHUNK_FLOWS, generation, 0, 0]);
    this.options.output(new Uint8Array(marker.buffer));
  }

  /**
   * Attribute rows 0..batch.length-1 (BatchAttributor's rules: source subscriber ->
   * upload classified by the destination, destination subscriber -> download classified by
   * the source, neither -> `unattributed`, NoCounters rows skipped). Records stay in the
   * current chunk until it fills or flush().
   */
  attribute(batch: FlowBatch, unattributed: UnattributedTally): void {
    const lookup = this.lookup;
    const classifier = this.options.classifier;
    for (let row = 0; row < batch.length; row++) {
      if ((batch.flags[row] & FlowFlag.NoCounters) !== 0) continue;
      const version = batch.ipVersion[row];
      const time = batch.start[row];
      const offset = row * 16;
      let source = NO_HOLDER;
      let destination = NO_HOLDER;
      if (version === 4) {
        source = lookup.holderOf4(batch.srcAddr4[row], time);
        destination = lookup.holderOf4(batch.dstAddr4[row], time);
      } else if (version === 6) {
        source = lookup.holderOf6(batch.srcAddr6, offset, time);
        destination = lookup.holderOf6(batch.dstAddr6, offset, time);
      }
      if (source === NO_HOLDER && destination === NO_HOLDER) {
        const rate = batch.samplingRate[row];
        unattributed.add(batch.exporterId[row], scaledCounter(batch.bytesHi[row], batch.bytesLo[row], rate), scaledCounter(batch.packetsHi[row], batch.packetsLo[row], rate));
        continue;
      }
      const exporterId = batch.exporterId[row];
      if (exporterId >= this.announced && !this.announceUpTo(exporterId)) {
        // The ring refused the announcement (full): its records cannot go before it. They are
        // lost like a refused chunk's, and counted; the next row announces again.
        this.counters.droppedRecords += (source !== NO_HOLDER ? 1 : 0) + (destination !== NO_HOLDER ? 1 : 0);
        continue;
      }
      if (source !== NO_HOLDER) {
        const trafficClass = version === 4 ? classifier.classOf4(batch.dstAddr4[row]) : classifier.classOf6(batch.dstAddr6, offset);
        this.put(batch, row, source, TAG_UPLOAD, trafficClass, batch.srcAddr4[row], batch.srcAddr6, offset);
      }
      if (destination !== NO_HOLDER) {
        const trafficClass = version === 4 ? classifier.classOf4(batch.srcAddr4[row]) : classifier.classOf6(batch.srcAddr6, offset);
        this.put(batch, row, destination, 0, trafficClass, batch.dstAddr4[row], batch.dstAddr6, offset);
      }
    }
  }

  /** Hand the current chunk to the output (if it holds records). */
  flush(): void {
    if (this.count === 0) return;
    const u32 = this.u32;
    u32[0] = CHUNK_FLOWS;
    u32[1] = this.generation;
    u32[2] = this.count;
    u32[3] = 0;
    if (this.options.output(this.bytes.subarray(0, this.at))) this.counters.records += this.count;
    else {
      this.counters.droppedRecords += this.count;
      this.counters.droppedChunks++;
    }
    this.at = CHUNK_HEADER_BYTES;
    this.count = 0;
  }

  private put(batch: FlowBatch, row: number, holder: number, direction: number, trafficClass: string, address4: number, address6: Uint8Array, offset6: number): void {
    const v6 = batch.ipVersion[row] === 6;
    const size = v6 ? RECORD_BYTES_V6 : RECORD_BYTES;
    if (this.at + size > this.bytes.length) this.flush();
    const at = this.at;
    const f64 = this.f64;
    const u32 = this.u32;
    const w = at >>> 2;
    f64[at >>> 3] = batch.start[row];
    f64[(at >>> 3) + 1] = batch.end[row];
    u32[w + 4] = batch.bytesHi[row];
    u32[w + 5] = batch.bytesLo[row];
    u32[w + 6] = batch.packetsHi[row];
    u32[w + 7] = batch.packetsLo[row];
    u32[w + 8] = batch.samplingRate[row];
    this.i32[w + 9] = holder;
    u32[w + 10] = batch.exporterId[row];
    u32[w + 11] = v6 ? 0 : address4;
    u32[w + 12] = direction | (v6 ? TAG_V6 : 0) | (this.classNumber(trafficClass) << 8);
    u32[w + 13] = 0;
    if (v6) this.bytes.set(address6.subarray(offset6, offset6 + 16), at + RECORD_BYTES);
    this.at = at + size;
    this.count++;
  }

  private classNumber(name: string): number {
    if (name === this.lastClass) return this.lastClassNumber;
    const n = this.classNumbers.get(name);
    if (n === undefined) throw new Error(`traffic class "${name}" is not one of the classifier's classes`);
    this.lastClass = name;
    this.lastClassNumber = n;
    return n;
  }

  /** EXPORTER chunks for every id up to `id`, before the records that use them; false if the output refused one. */
  private announceUpTo(id: number): boolean {
    // Records already in the chunk may use an id announced below: keep the order.
    this.flush();
    const encoder = new TextEncoder();
    for (; this.announced <= id; this.announced++) {
      const text = encoder.encode(this.options.exporterKey(this.announced));
      const chunk = new Uint8Array(CHUNK_HEADER_BYTES + text.length);
      const head = new Uint32Array(chunk.buffer, 0, 4);
      head[0] = CHUNK_EXPORTER;
      head[1] = this.announced;
      head[2] = text.length;
      chunk.set(text, CHUNK_HEADER_BYTES);
      // Refused (ring full): announce again before the next records.
      if (!this.options.output(chunk)) return false;
    }
    return true;
  }
}

/** Main-thread side: what a chunk's records need that the chunk does not carry. */
export interface ChunkContext {
  /** The SubscriberIndex whose lookup tables the receive thread used for `generation`. */
  indexOf(generation: number): SubscriberIndex;
  /** Class names by number (the classifier's classNames, same configuration as the writer's). */
  readonly classNames: readonly string[];
  /** An EXPORTER chunk. */
  exporter(id: number, key: string): void;
}

/** Where AttributedChunkReader and BatchAttributor.attributeTo put records (MinuteAggregator implements it). */
export interface AttributedRecordSink {
  addHolderRecord(
    exporterId: number,
    index: SubscriberIndex,
    holder: number,
    upload: boolean,
    trafficClass: string,
    address4: number,
    address6: Uint8Array | null,
    offset6: number,
    start: number,
    end: number,
    bytes: number,
    packets: number,
  ): void;
  /** A record whose counters are not safe integers (corrupt or absurd exports): the general path. */
  add(flow: Readonly<AttributedFlow>): void;
}

/**
 * Reads chunks out of one buffer (the ring's) into an AttributedRecordSink (the
 * aggregator), record by record as numbers.
 */
export class AttributedChunkReader {
  private readonly u32: Uint32Array;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly flow = reusableFlow();
  private readonly decoder = new TextDecoder();

  constructor(private readonly bytes: Uint8Array) {
    if (bytes.byteOffset % 8 !== 0) throw new RangeError('chunk buffer view must start 8-aligned');
    const buffer = bytes.buffer as ArrayBuffer;
    this.u32 = new Uint32Array(buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.i32 = new Int32Array(buffer, bytes.byteOffset, bytes.byteLength >>> 2);
    this.f64 = new Float64Array(buffer, bytes.byteOffset, bytes.byteLength >>> 3);
  }

  /**
   * The chunk at `bytes[offset..offset+length)` (offset 8-aligned). Returns the
   * attributions read. Throws on a malformed chunk (a bug between the threads).
   */
  read(offset: number, length: number, context: ChunkContext, sink: AttributedRecordSink): number {
    if (offset % 8 !== 0 || length < CHUNK_HEADER_BYTES || offset + length > this.bytes.length) throw new RangeError(`bad chunk at ${offset} (${length} bytes)`);
    const u32 = this.u32;
    const head = offset >>> 2;
    const kind = u32[head];
    if (kind === CHUNK_EXPORTER) {
      const textLength = u32[head + 2];
      if (CHUNK_HEADER_BYTES + textLength > length) throw new RangeError('exporter chunk longer than its record');
      const start = offset + CHUNK_HEADER_BYTES;
      context.exporter(u32[head + 1], this.decoder.decode(this.bytes.slice(start, start + textLength)));
      return 0;
    }
    if (kind !== CHUNK_FLOWS) throw new RangeError(`unknown chunk kind ${kind}`);
    const index = context.indexOf(u32[head + 1]);
    const count = u32[head + 2];
    const classNames = context.classNames;
    const f64 = this.f64;
    const i32 = this.i32;
    const end = offset + length;
    let at = offset + CHUNK_HEADER_BYTES;
    for (let k = 0; k < count; k++) {
      const w = at >>> 2;
      const tag = u32[w + 12];
      const v6 = (tag & TAG_V6) !== 0;
      const size = v6 ? RECORD_BYTES_V6 : RECORD_BYTES;
      if (at + size > end) throw new RangeError('flows chunk shorter than its record count');
      const holder = i32[w + 9];
      const trafficClass = classNames[tag >>> 8];
      if (trafficClass === undefined || !(holder >= 0 && holder < index.holderCount)) throw new RangeError(`bad record: class ${tag >>> 8}, holder ${holder}`);
      const rate = u32[w + 8];
      const bytes = (u32[w + 4] * TWO_32 + u32[w + 5]) * rate;
      const packets = (u32[w + 6] * TWO_32 + u32[w + 7]) * rate;
      if (bytes <= Number.MAX_SAFE_INTEGER && packets <= Number.MAX_SAFE_INTEGER) {
        sink.addHolderRecord(u32[w + 10], index, holder, (tag & TAG_UPLOAD) !== 0, trafficClass, u32[w + 11], v6 ? this.bytes : null, at + RECORD_BYTES, f64[at >>> 3], f64[(at >>> 3) + 1], bytes, packets);
      } else {
        sink.add(this.bigRecord(at, index, holder, tag, trafficClass));
      }
      at += size;
    }
    return count;
  }

  /** The record at `at` as an AttributedFlow with exact bigint counters (rare). */
  private bigRecord(at: number, index: SubscriberIndex, holder: number, tag: number, trafficClass: string): Readonly<AttributedFlow> {
    const u32 = this.u32;
    const w = at >>> 2;
    const flow = this.flow;
    const rate = u32[w + 8];
    flow.bytesNumber = -1;
    flow.bytesBig = scaledCounter(u32[w + 4], u32[w + 5], rate);
    flow.packetsNumber = -1;
    flow.packetsBig = scaledCounter(u32[w + 6], u32[w + 7], rate);
    flow.row = 0;
    flow.index = index;
    flow.holderIndex = index;
    flow.holder = holder;
    flow.assignedPrefixOverride = null;
    flow.subscriberId = index.subscriberOf(holder);
    flow.exporterId = u32[w + 10];
    flow.direction = (tag & TAG_UPLOAD) !== 0 ? 'upload' : 'download';
    flow.trafficClass = trafficClass;
    flow.start = this.f64[at >>> 3];
    flow.end = this.f64[(at >>> 3) + 1];
    const v6 = (tag & TAG_V6) !== 0;
    flow.ipVersion = v6 ? 6 : 4;
    flow.address4 = v6 ? 0 : u32[w + 11];
    flow.address6 = v6 ? this.bytes : null;
    flow.address6Offset = v6 ? at + RECORD_BYTES : 0;
    return flow;
  }
}
