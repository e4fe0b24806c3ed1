/**
 * Read classic libpcap files and yield the UDP datagrams they carry.
 *
 * Why not a library: the project prefers a maintained npm package, and we looked.
 * - `pcap-parser` (0.2.1, its last release, from about 2012): rejects nanosecond files as
 *   "unknown magic number", uses the deprecated `new Buffer` constructor, checks the version
 *   with `&&` so 3.4 passes, ends silently on a cut-short last record, offers only an event
 *   API with no types, and decodes nothing below the record layer.
 * - `pcap` (node_pcap): a native libpcap binding (node-gyp, libpcap headers) — far more
 *   than reading a file needs, and a native build on every machine.
 * - `pcap-ng-parser` (1.0.0): pcapng only, Ethernet only, self-described as in development.
 * The record layer is ~60 lines (pcap-format.ts) and the decoding we need (VLAN stacks,
 * SLL/SLL2, IPv6 extension headers, per-frame skip reasons) is ours to write either way,
 * so the parser is written here.
 */
import { createReadStream, readFileSync } from 'node:fs';

import { decodeUdpFrame, SKIP_REASONS, type SkipReason } from './frame-decoder.js';
import {
  GLOBAL_HEADER_LENGTH,
  MAX_PLAUSIBLE_CAPTURE_LENGTH,
  parseGlobalHeader,
  parseRecordHeader,
  RECORD_HEADER_LENGTH,
  recordTimestampMs,
  type PcapFileHeader,
  type PcapRecordHeader,
} from './pcap-format.js';

export interface UdpDatagram {
  /** 1-based record number in the file, as tshark's frame.number counts. */
  readonly frameNumber: number;
  /** Capture time in milliseconds since the Unix epoch (fractional; about 0.25 µs precision). */
  readonly timestampMs: number;
  /** Dotted-quad IPv4 or RFC 5952 IPv6 text. */
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
  /** The UDP payload, exactly UDP length − 8 bytes. */
  readonly payload: Uint8Array;
}

export interface SkippedFrame {
  readonly frameNumber: number;
  /** Null only when the file ends inside the record header, before the timestamp. */
  readonly timestampMs: number | null;
  readonly reason: SkipReason;
  /** Human-readable specifics, e.g. "ethertype 0x0806" or "IPv4 packet of 1500 bytes, 96 captured". */
  readonly detail: string;
}

/** Damage to the file itself (as opposed to one frame): reading stopped here. */
export interface PcapFileDamage {
  /** The record that could not be read whole. */
  readonly frameNumber: number;
  /** File offset of that record's header. */
  readonly byteOffset: number;
  readonly message: string;
}

export interface PcapReadStats {
  /** Records seen, including a cut-short last one: frames = datagrams + sum of skipped. */
  frames: number;
  datagrams: number;
  skipped: Record<SkipReason, number>;
  /** Null for an intact file. */
  damage: PcapFileDamage | null;
}

export interface PcapReadOptions {
  /** Called once for every frame that yields no datagram, in file order. */
  readonly onSkip?: (frame: SkippedFrame) => void;
  /** Name used in error messages (readPcapFile passes the path). */
  readonly sourceName?: string;
}

export interface PcapStreamOptions extends PcapReadOptions {
  /** Bytes read from the file at a time; 64 KiB when omitted. */
  readonly chunkBytes?: number;
}

export interface PcapReadResult {
  readonly header: PcapFileHeader;
  readonly datagrams: UdpDatagram[];
  readonly stats: PcapReadStats;
}

function emptyStats(): PcapReadStats {
  const skipped = Object.fromEntries(SKIP_REASONS.map((reason) => [reason, 0])) as Record<SkipReason, number>;
  return { frames: 0, datagrams: 0, skipped, damage: null };
}

function concatBytes(first: Uint8Array, second: Uint8Array): Uint8Array {
  const joined = new Uint8Array(first.length + second.length);
  joined.set(first, 0);
  joined.set(second, first.length);
  return joined;
}

/**
 * Incremental decoder: push file bytes in any chunking, then finish().
 *
 * It never writes into a buffer it was given or has handed out, so payload views stay
 * valid; a record split across chunks is joined into a fresh buffer.
 */
class PcapDatagramDecoder {
  header: PcapFileHeader | null = null;
  readonly stats = emptyStats();
  private pending: Uint8Array = new Uint8Array(0);
  /** File offset of pending[0]. */
  private pendingFileOffset = 0;
  private stopped = false;

  constructor(private readonly options: PcapReadOptions) {}

  push(chunk: Uint8Array): UdpDatagram[] {
    const datagrams: UdpDatagram[] = [];
    if (this.stopped || chunk.length === 0) return datagrams;
    // A Buffer's slice() is a view, not a copy; plain Uint8Array views keep payload semantics
    // the same whatever the caller passed (and make payloads compare equal across readers).
    const plain = new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const bytes = this.pending.length === 0 ? plain : concatBytes(this.pending, plain);
    let offset = 0;
    if (this.header === null) {
      if (bytes.length < GLOBAL_HEADER_LENGTH) {
        this.keepPending(bytes, 0);
        return datagrams;
      }
      this.header = parseGlobalHeader(bytes, this.options.sourceName);
      offset = GLOBAL_HEADER_LENGTH;
    }
    const header = this.header;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Some writers put 0 or a too-small value in the snap length; never distrust less than the standard bound.
    const maxCapturedLength = Math.max(header.snapLength, MAX_PLAUSIBLE_CAPTURE_LENGTH);
    while (bytes.length - offset >= RECORD_HEADER_LENGTH) {
      const record = parseRecordHeader(view, offset, header);
      if (record.capturedLength > maxCapturedLength) {
        const message = `record header claims ${record.capturedLength} captured bytes (more than ${maxCapturedLength}); the file is damaged from here on`;
        const frameNumber = this.skipFrame(recordTimestampMs(record, header.timestampResolution), 'malformed', message);
        this.stop({ frameNumber, byteOffset: this.pendingFileOffset + offset, message });
        return datagrams;
      }
      const frameStart = offset + RECORD_HEADER_LENGTH;
      if (bytes.length - frameStart < record.capturedLength) break;
      this.decodeRecord(record, bytes.subarray(frameStart, frameStart + record.capturedLength), datagrams);
      offset = frameStart + record.capturedLength;
    }
    this.keepPending(bytes, offset);
    return datagrams;
  }

  /** Call at end of input: reports a cut-short last record and decodes what it holds. */
  finish(): UdpDatagram[] {
    const datagrams: UdpDatagram[] = [];
    if (this.header === null) {
      // Throws the precise reason: too short, pcapng, unknown magic, ...
      this.header = parseGlobalHeader(this.pending, this.options.sourceName);
    }
    if (this.stopped || this.pending.length === 0) return datagrams;
    const header = this.header;
    const bytes = this.pending;
    const frameNumber = this.stats.frames + 1;
    if (bytes.length < RECORD_HEADER_LENGTH) {
      const message = `file ends inside the header of record ${frameNumber} (${bytes.length} of ${RECORD_HEADER_LENGTH} bytes)`;
      this.skipFrame(null, 'truncated', message);
      this.stop({ frameNumber, byteOffset: this.pendingFileOffset, message });
      return datagrams;
    }
    const record = parseRecordHeader(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0, header);
    const present = bytes.length - RECORD_HEADER_LENGTH;
    // The frame may still hold a whole datagram (cut in Ethernet padding, say); let the decoder judge.
    this.decodeRecord(record, bytes.subarray(RECORD_HEADER_LENGTH), datagrams);
    this.stop({
      frameNumber,
      byteOffset: this.pendingFileOffset,
      message: `file ends inside record ${frameNumber}: ${record.capturedLength} captured bytes announced, ${present} present`,
    });
    return datagrams;
  }

  private keepPending(bytes: Uint8Array, consumed: number): void {
    this.pending = bytes.subarray(consumed);
    this.pendingFileOffset += consumed;
  }

  private stop(damage: PcapFileDamage): void {
    this.stopped = true;
    this.stats.damage = damage;
    this.pending = new Uint8Array(0);
  }

  private decodeRecord(record: PcapRecordHeader, frame: Uint8Array, datagrams: UdpDatagram[]): void {
    const header = this.header as PcapFileHeader;
    const timestampMs = recordTimestampMs(record, header.timestampResolution);
    const result = decodeUdpFrame(header.linkType, frame);
    if (!result.ok) {
      this.skipFrame(timestampMs, result.reason, result.detail);
      return;
    }
    this.stats.frames += 1;
    this.stats.datagrams += 1;
    datagrams.push({ frameNumber: this.stats.frames, timestampMs, ...result.udp });
  }

  /** Count a frame that yields no datagram and tell the caller; returns its frame number. */
  private skipFrame(timestampMs: number | null, reason: SkipReason, detail: string): number {
    this.stats.frames += 1;
    this.stats.skipped[reason] += 1;
    const frameNumber = this.stats.frames;
    this.options.onSkip?.({ frameNumber, timestampMs, reason, detail });
    return frameNumber;
  }
}

/**
 * Decode a whole pcap file held in memory. Throws PcapFormatError only when the input is
 * not a classic pcap file (pcapng, gzip, unknown magic, shorter than the global header);
 * damaged frames and a cut-short end are reported in `stats`.
 *
 * Payloads are views into `bytes`: copy them before changing `bytes`.
 */
export function parsePcap(bytes: Uint8Array, options: PcapReadOptions = {}): PcapReadResult {
  const decoder = new PcapDatagramDecoder(options);
  const datagrams = decoder.push(bytes);
  datagrams.push(...decoder.finish());
  return { header: decoder.header as PcapFileHeader, datagrams, stats: decoder.stats };
}

/** parsePcap on a file read whole; error messages name the path. */
export function readPcapFile(path: string, options: PcapReadOptions = {}): PcapReadResult {
  return parsePcap(readFileSync(path), { sourceName: path, ...options });
}

/**
 * Datagrams of a pcap file, read in chunks so a capture larger than memory can be replayed.
 * `header` and `stats` fill in as iteration proceeds and are final when it ends; iterating
 * again reads the file again with fresh stats. Each payload is its own copy, so holding on to
 * a few datagrams does not keep the file's chunks alive.
 */
export class PcapFileStream implements AsyncIterable<UdpDatagram> {
  private decoder: PcapDatagramDecoder;

  constructor(
    readonly path: string,
    private readonly options: PcapStreamOptions = {},
  ) {
    this.decoder = this.newDecoder();
  }

  get header(): PcapFileHeader | null {
    return this.decoder.header;
  }

  get stats(): PcapReadStats {
    return this.decoder.stats;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<UdpDatagram> {
    const decoder = this.newDecoder();
    this.decoder = decoder;
    for await (const chunk of createReadStream(this.path, { highWaterMark: this.options.chunkBytes ?? 1 << 16 })) {
      for (const datagram of decoder.push(chunk as Buffer)) yield ownPayload(datagram);
    }
    for (const datagram of decoder.finish()) yield ownPayload(datagram);
  }

  private newDecoder(): PcapDatagramDecoder {
    return new PcapDatagramDecoder({ sourceName: this.path, ...this.options });
  }
}

function ownPayload(datagram: UdpDatagram): UdpDatagram {
  return { ...datagram, payload: datagram.payload.slice() };
}

/** Open a pcap file for chunked, asynchronous reading: `for await (const d of streamPcapFile(p))`. */
export function streamPcapFile(path: string, options: PcapStreamOptions = {}): PcapFileStream {
  return new PcapFileStream(path, options);
}
