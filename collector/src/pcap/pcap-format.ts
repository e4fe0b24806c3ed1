/**
 * The classic libpcap file format: global header and record header layout.
 *
 * Reference: draft-ietf-opsawg-pcap ("PCAP Capture File Format") and pcap-savefile(5).
 * A file is a 24-byte global header followed by records, each a 16-byte record header
 * and the captured bytes of one frame. The magic number tells both the byte order of
 * every later field and whether the sub-second field counts micro- or nanoseconds.
 */

export const GLOBAL_HEADER_LENGTH = 24;
export const RECORD_HEADER_LENGTH = 16;

/** Magic numbers as read in big-endian order from the first four bytes of a file. */
const MAGIC_MICROSECONDS = 0xa1b2c3d4;
const MAGIC_NANOSECONDS = 0xa1b23c4d;
const MAGIC_MICROSECONDS_SWAPPED = 0xd4c3b2a1;
const MAGIC_NANOSECONDS_SWAPPED = 0x4d3cb2a1;
/** A pcapng file starts with a Section Header Block, whose block type is this palindrome. */
const PCAPNG_SECTION_HEADER = 0x0a0d0d0a;
const GZIP_MAGIC_16 = 0x1f8b;

/**
 * Largest captured length we believe in a record header. Wireshark uses the same bound
 * (WTAP_MAX_PACKET_SIZE_STANDARD) for ordinary link types; a bigger value in a record
 * header means the file is damaged, and following it would read garbage as records.
 */
export const MAX_PLAUSIBLE_CAPTURE_LENGTH = 262_144;

/** LINKTYPE_* values from the tcpdump.org link-layer header types registry. */
export const LinkType = {
  /** BSD loopback: 4-byte address family in the byte order of the capturing host. */
  Null: 0,
  Ethernet: 1,
  /** DLT_RAW as most BSDs and Linux number it in files written with the DLT value. */
  RawDlt12: 12,
  /** LINKTYPE_RAW: the frame is an IPv4 or IPv6 packet, told apart by its version nibble. */
  Raw: 101,
  /** OpenBSD loopback: like Null, but the address family is always big-endian. */
  Loop: 108,
  /** Linux "cooked" capture v1 (tcpdump -i any before libpcap 1.10). */
  LinuxSll: 113,
  Ipv4: 228,
  Ipv6: 229,
  /** Linux "cooked" capture v2 (tcpdump -i any with libpcap 1.10 and later). */
  LinuxSll2: 276,
} as const;

export type ByteOrder = 'little-endian' | 'big-endian';
export type TimestampResolution = 'microseconds' | 'nanoseconds';

export interface PcapFileHeader {
  readonly byteOrder: ByteOrder;
  readonly timestampResolution: TimestampResolution;
  readonly versionMajor: number;
  readonly versionMinor: number;
  readonly snapLength: number;
  /** Link type of every record (the low 16 bits of the header's link-type field). */
  readonly linkType: number;
}

export interface PcapRecordHeader {
  readonly seconds: number;
  /** Micro- or nanoseconds past `seconds`, as the file header's resolution says. */
  readonly fraction: number;
  readonly capturedLength: number;
  readonly originalLength: number;
}

/** The input is not a classic pcap file we can read at all (as opposed to a damaged frame). */
export class PcapFormatError extends Error {
  override readonly name = 'PcapFormatError';
}

function describeSource(sourceName: string | undefined): string {
  return sourceName === undefined ? 'the input' : sourceName;
}

/**
 * Parse and validate the global header. Throws PcapFormatError for anything that is not
 * a classic pcap file, naming pcapng and gzip explicitly because those are what people
 * most often hand to a pcap reader by mistake.
 */
export function parseGlobalHeader(bytes: Uint8Array, sourceName?: string): PcapFileHeader {
  const source = describeSource(sourceName);
  if (bytes.length < 4) {
    throw new PcapFormatError(`${source} is too short to be a pcap file (${bytes.length} bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic === PCAPNG_SECTION_HEADER) {
    throw new PcapFormatError(
      `${source} is a pcapng file; this reader handles classic libpcap files only. ` +
        'Convert it first: tshark -r in.pcapng -F pcap -w out.pcap',
    );
  }
  if (magic >>> 16 === GZIP_MAGIC_16) {
    throw new PcapFormatError(`${source} is gzip-compressed; decompress it first (gunzip)`);
  }
  let littleEndian: boolean;
  let timestampResolution: TimestampResolution;
  switch (magic) {
    case MAGIC_MICROSECONDS:
      [littleEndian, timestampResolution] = [false, 'microseconds'];
      break;
    case MAGIC_NANOSECONDS:
      [littleEndian, timestampResolution] = [false, 'nanoseconds'];
      break;
    case MAGIC_MICROSECONDS_SWAPPED:
      [littleEndian, timestampResolution] = [true, 'microseconds'];
      break;
    case MAGIC_NANOSECONDS_SWAPPED:
      [littleEndian, timestampResolution] = [true, 'nanoseconds'];
      break;
    default:
      throw new PcapFormatError(
        `${source} is not a pcap file: unknown magic number 0x${magic.toString(16).padStart(8, '0')}`,
      );
  }
  if (bytes.length < GLOBAL_HEADER_LENGTH) {
    throw new PcapFormatError(
      `${source} ends inside the pcap global header (${bytes.length} of ${GLOBAL_HEADER_LENGTH} bytes)`,
    );
  }
  const versionMajor = view.getUint16(4, littleEndian);
  const versionMinor = view.getUint16(6, littleEndian);
  // libpcap itself reads any 2.x file the same way; a different major version is a different format.
  if (versionMajor !== 2) {
    throw new PcapFormatError(`${source}: unsupported pcap version ${versionMajor}.${versionMinor}`);
  }
  return {
    byteOrder: littleEndian ? 'little-endian' : 'big-endian',
    timestampResolution,
    versionMajor,
    versionMinor,
    snapLength: view.getUint32(16, littleEndian),
    // The upper bits may carry an FCS-length hint; the link type is the low 16 bits.
    linkType: view.getUint32(20, littleEndian) & 0xffff,
  };
}

/** Read the 16-byte record header at `offset` (the caller checked that 16 bytes are there). */
export function parseRecordHeader(view: DataView, offset: number, header: PcapFileHeader): PcapRecordHeader {
  const littleEndian = header.byteOrder === 'little-endian';
  return {
    seconds: view.getUint32(offset, littleEndian),
    fraction: view.getUint32(offset + 4, littleEndian),
    capturedLength: view.getUint32(offset + 8, littleEndian),
    originalLength: view.getUint32(offset + 12, littleEndian),
  };
}

/**
 * Milliseconds since the epoch as a float. A double keeps about 0.25 µs of precision at
 * today's epoch values, so nanosecond files lose their last digits here; billing needs
 * nothing finer than milliseconds.
 */
export function recordTimestampMs(record: PcapRecordHeader, resolution: TimestampResolution): number {
  const fractionMs = resolution === 'nanoseconds' ? record.fraction / 1e6 : record.fraction / 1e3;
  return record.seconds * 1000 + fractionMs;
}

export interface GlobalHeaderOptions {
  readonly linkType: number;
  readonly snapLength: number;
}

/** A little-endian, microsecond-resolution, version 2.4 global header. */
export function encodeGlobalHeader(options: GlobalHeaderOptions): Uint8Array {
  const bytes = new Uint8Array(GLOBAL_HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC_MICROSECONDS, true);
  view.setUint16(4, 2, true);
  view.setUint16(6, 4, true);
  view.setInt32(8, 0, true); // thiszone: always 0 (timestamps are UTC)
  view.setUint32(12, 0, true); // sigfigs: always 0 in practice
  view.setUint32(16, options.snapLength, true);
  view.setUint32(20, options.linkType, true);
  return bytes;
}

/** A little-endian record header; the timestamp is rounded to the nearest microsecond. */
export function encodeRecordHeader(timestampMs: number, capturedLength: number, originalLength: number): Uint8Array {
  if (!Number.isFinite(timestampMs) || timestampMs < 0) {
    throw new RangeError(`pcap timestamps must be finite and not before 1970 (got ${timestampMs})`);
  }
  const totalMicroseconds = Math.round(timestampMs * 1000);
  const seconds = Math.floor(totalMicroseconds / 1e6);
  if (seconds > 0xffff_ffff) {
    throw new RangeError(`pcap timestamps end in 2106 (got ${timestampMs} ms)`);
  }
  const bytes = new Uint8Array(RECORD_HEADER_LENGTH);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, seconds, true);
  view.setUint32(4, totalMicroseconds - seconds * 1e6, true);
  view.setUint32(8, capturedLength, true);
  view.setUint32(12, originalLength, true);
  return bytes;
}
