/**
 * Reader tests on byte buffers built by hand here (not with writer.ts), so a bug shared by
 * the writer and the reader cannot hide itself in a round trip.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { LinkType, PcapFormatError } from './pcap-format.js';
import { parsePcap, readPcapFile, streamPcapFile, type SkippedFrame, type UdpDatagram } from './reader.js';

/** Bytes from hex text; whitespace is ignored so packets can be laid out field by field. */
function hex(text: string): Uint8Array {
  const digits = text.replace(/\s+/g, '');
  return Uint8Array.from(digits.match(/../g) ?? [], (pair) => Number.parseInt(pair, 16));
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

interface HandRecord {
  readonly seconds?: number;
  readonly fraction?: number;
  readonly data: Uint8Array;
  /** Bytes of `data` to store (default all): fewer simulates a snap length. */
  readonly captured?: number;
}

interface HandFileOptions {
  readonly littleEndian?: boolean;
  readonly nanoseconds?: boolean;
  readonly linkType?: number;
  readonly snapLength?: number;
}

/** A classic pcap file laid out field by field, in either byte order and either resolution. */
function handPcap(options: HandFileOptions, records: readonly HandRecord[]): Uint8Array {
  const littleEndian = options.littleEndian ?? true;
  const header = new DataView(new ArrayBuffer(24));
  header.setUint32(0, options.nanoseconds ? 0xa1b23c4d : 0xa1b2c3d4, littleEndian);
  header.setUint16(4, 2, littleEndian);
  header.setUint16(6, 4, littleEndian);
  header.setUint32(16, options.snapLength ?? 65535, littleEndian);
  header.setUint32(20, options.linkType ?? LinkType.Ethernet, littleEndian);
  const parts: Uint8Array[] = [new Uint8Array(header.buffer)];
  for (const record of records) {
    const captured = record.captured ?? record.data.length;
    const recordHeader = new DataView(new ArrayBuffer(16));
    recordHeader.setUint32(0, record.seconds ?? 1_700_000_000, littleEndian);
    recordHeader.setUint32(4, record.fraction ?? 0, littleEndian);
    recordHeader.setUint32(8, captured, littleEndian);
    recordHeader.setUint32(12, record.data.length, littleEndian);
    parts.push(new Uint8Array(recordHeader.buffer), record.data.subarray(0, captured));
  }
  return concat(...parts);
}

// 192.0.2.1:12345 -> 198.51.100.2:2055, payload de ad be ef (IPv4 total length 32).
const IPV4_UDP = hex(`
  45 00 00 20  00 01 00 00  40 11 00 00  c0 00 02 01  c6 33 64 02
  30 39 08 07  00 0c 00 00  de ad be ef`);
const PAYLOAD = hex('de ad be ef');
const MACS = hex('02 00 00 00 00 02  02 00 00 00 00 01');
const ETHERNET_IPV4 = concat(MACS, hex('08 00'), IPV4_UDP);

const IPV6_SRC = '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 01';
const IPV6_DST = '20 01 0d b8 00 00 00 00 00 00 00 00 00 00 00 02';
// [2001:db8::1]:12345 -> [2001:db8::2]:4739, payload de ad be ef.
const UDP_TO_4739 = hex('30 39 12 83  00 0c 00 00  de ad be ef');

function ipv6(nextHeader: number, afterHeader: Uint8Array): Uint8Array {
  const fixed = hex(`60 00 00 00  0000 ${nextHeader.toString(16).padStart(2, '0')} 40 ${IPV6_SRC} ${IPV6_DST}`);
  new DataView(fixed.buffer).setUint16(4, afterHeader.length);
  return concat(fixed, afterHeader);
}

function withIpv4Field(offset: number, value: number[]): Uint8Array {
  const packet = IPV4_UDP.slice();
  packet.set(value, offset);
  return packet;
}

function only(datagrams: UdpDatagram[]): UdpDatagram {
  expect(datagrams).toHaveLength(1);
  return datagrams[0];
}

function skipsOf(bytes: Uint8Array): SkippedFrame[] {
  const skips: SkippedFrame[] = [];
  parsePcap(bytes, { onSkip: (skip) => skips.push(skip) });
  return skips;
}

describe('pcap header variants', () => {
  const variants = [
    { name: 'little-endian microseconds', littleEndian: true, nanoseconds: false, fraction: 123_456, ms: 1_700_000_000_123.456 },
    { name: 'big-endian microseconds', littleEndian: false, nanoseconds: false, fraction: 123_456, ms: 1_700_000_000_123.456 },
    { name: 'little-endian nanoseconds', littleEndian: true, nanoseconds: true, fraction: 123_456_789, ms: 1_700_000_000_123.456_789 },
    { name: 'big-endian nanoseconds', littleEndian: false, nanoseconds: true, fraction: 123_456_789, ms: 1_700_000_000_123.456_789 },
  ];
  for (const variant of variants) {
    it(`reads ${variant.name}`, () => {
      const file = handPcap(variant, [{ fraction: variant.fraction, data: ETHERNET_IPV4 }]);
      const { header, datagrams, stats } = parsePcap(file);
      expect(header.byteOrder).toBe(variant.littleEndian ? 'little-endian' : 'big-endian');
      expect(header.timestampResolution).toBe(variant.nanoseconds ? 'nanoseconds' : 'microseconds');
      expect(header.linkType).toBe(LinkType.Ethernet);
      const datagram = only(datagrams);
      expect(datagram).toMatchObject({
        frameNumber: 1,
        srcAddress: '192.0.2.1',
        srcPort: 12345,
        dstAddress: '198.51.100.2',
        dstPort: 2055,
      });
      expect(datagram.payload).toEqual(PAYLOAD);
      // A double holds ~0.25 µs at this epoch: nanosecond digits are approximate by design.
      expect(Math.abs(datagram.timestampMs - variant.ms)).toBeLessThan(0.001);
      expect(stats).toMatchObject({ frames: 1, datagrams: 1, damage: null });
    });
  }
});

describe('link layers', () => {
  const cases: { name: string; linkType: number; frame: Uint8Array }[] = [
    { name: 'Ethernet with an 802.1Q tag', linkType: LinkType.Ethernet, frame: concat(MACS, hex('81 00 00 64  08 00'), IPV4_UDP) },
    {
      name: 'Ethernet with stacked 802.1ad + 802.1Q tags',
      linkType: LinkType.Ethernet,
      frame: concat(MACS, hex('88 a8 00 c8  81 00 00 64  08 00'), IPV4_UDP),
    },
    {
      name: 'Ethernet with the pre-standard 0x9100 QinQ tag',
      linkType: LinkType.Ethernet,
      frame: concat(MACS, hex('91 00 00 c8  81 00 00 64  08 00'), IPV4_UDP),
    },
    {
      name: 'Linux SLL',
      linkType: LinkType.LinuxSll,
      frame: concat(hex('00 00  00 01  00 06  02 00 00 00 00 01 00 00  08 00'), IPV4_UDP),
    },
    {
      name: 'Linux SLL with an untagged-in-capture VLAN',
      linkType: LinkType.LinuxSll,
      frame: concat(hex('00 00  00 01  00 06  02 00 00 00 00 01 00 00  81 00  00 64 08 00'), IPV4_UDP),
    },
    {
      name: 'Linux SLL2',
      linkType: LinkType.LinuxSll2,
      frame: concat(hex('08 00  00 00  00 00 00 02  00 01  04  06  02 00 00 00 00 01 00 00'), IPV4_UDP),
    },
    { name: 'raw IP (101)', linkType: LinkType.Raw, frame: IPV4_UDP },
    { name: 'raw IP (12)', linkType: LinkType.RawDlt12, frame: IPV4_UDP },
    { name: 'IPv4 (228)', linkType: LinkType.Ipv4, frame: IPV4_UDP },
    { name: 'BSD null, little-endian AF_INET', linkType: LinkType.Null, frame: concat(hex('02 00 00 00'), IPV4_UDP) },
    { name: 'BSD null, big-endian AF_INET', linkType: LinkType.Null, frame: concat(hex('00 00 00 02'), IPV4_UDP) },
    { name: 'OpenBSD loop', linkType: LinkType.Loop, frame: concat(hex('00 00 00 02'), IPV4_UDP) },
  ];
  for (const testCase of cases) {
    it(`finds the datagram in ${testCase.name}`, () => {
      const { datagrams } = parsePcap(handPcap({ linkType: testCase.linkType }, [{ data: testCase.frame }]));
      const datagram = only(datagrams);
      expect(datagram).toMatchObject({ srcAddress: '192.0.2.1', srcPort: 12345, dstAddress: '198.51.100.2', dstPort: 2055 });
      expect(datagram.payload).toEqual(PAYLOAD);
    });
  }

  it('reads IPv6 over raw (101), IPv6 (229) and Darwin null (AF_INET6 = 30)', () => {
    const packet = ipv6(17, UDP_TO_4739);
    for (const [linkType, frame] of [
      [LinkType.Raw, packet],
      [LinkType.Ipv6, packet],
      [LinkType.Null, concat(hex('1e 00 00 00'), packet)],
      [LinkType.Ethernet, concat(MACS, hex('86 dd'), packet)],
    ] as const) {
      const datagram = only(parsePcap(handPcap({ linkType }, [{ data: frame }])).datagrams);
      expect(datagram).toMatchObject({ srcAddress: '2001:db8::1', dstAddress: '2001:db8::2', dstPort: 4739 });
    }
  });

  it('uses the IP total length, not the frame length, so Ethernet padding is not payload', () => {
    const padded = concat(ETHERNET_IPV4, new Uint8Array(60 - ETHERNET_IPV4.length));
    expect(only(parsePcap(handPcap({}, [{ data: padded }])).datagrams).payload).toEqual(PAYLOAD);
  });

  it('reports an unknown link type per frame instead of failing', () => {
    const { datagrams, stats } = parsePcap(handPcap({ linkType: 147 }, [{ data: IPV4_UDP }, { data: IPV4_UDP }]));
    expect(datagrams).toHaveLength(0);
    expect(stats.skipped['unsupported-linktype']).toBe(2);
  });
});

describe('IPv6 extension headers', () => {
  it('steps over a hop-by-hop header', () => {
    const packet = ipv6(0, concat(hex('11 00  01 04 00 00 00 00'), UDP_TO_4739));
    const datagram = only(parsePcap(handPcap({ linkType: LinkType.Raw }, [{ data: packet }])).datagrams);
    expect(datagram).toMatchObject({ srcAddress: '2001:db8::1', srcPort: 12345, dstAddress: '2001:db8::2', dstPort: 4739 });
    expect(datagram.payload).toEqual(PAYLOAD);
  });

  it('steps over routing and destination-options headers in a chain', () => {
    const chain = concat(hex('3c 00 00 00 00 00 00 00'), hex('11 01  01 0c 00 00 00 00 00 00 00 00 00 00 00 00'), UDP_TO_4739);
    const datagram = only(parsePcap(handPcap({ linkType: LinkType.Raw }, [{ data: ipv6(43, chain) }])).datagrams);
    expect(datagram.payload).toEqual(PAYLOAD);
  });

  it('reads an atomic fragment (offset 0, no more fragments) as a whole datagram', () => {
    const packet = ipv6(44, concat(hex('11 00 00 00  12 34 56 78'), UDP_TO_4739));
    expect(only(parsePcap(handPcap({ linkType: LinkType.Raw }, [{ data: packet }])).datagrams).payload).toEqual(PAYLOAD);
  });

  it('skips first and later fragments as fragments, and a TCP fragment as not-udp', () => {
    const first = ipv6(44, concat(hex('11 00 00 01  12 34 56 78'), hex('30 39 12 83  05 dc 00 00  de ad be ef')));
    const later = ipv6(44, concat(hex('11 00 05 a8  12 34 56 78'), PAYLOAD));
    const tcp = ipv6(44, concat(hex('06 00 05 a8  12 34 56 78'), PAYLOAD));
    const skips = skipsOf(handPcap({ linkType: LinkType.Raw }, [{ data: first }, { data: later }, { data: tcp }]));
    expect(skips.map((skip) => skip.reason)).toEqual(['fragment', 'fragment', 'not-udp']);
  });

  it('reports an extension header that runs past the packet as malformed', () => {
    const packet = ipv6(0, concat(hex('11 05  01 04 00 00 00 00'), UDP_TO_4739));
    expect(skipsOf(handPcap({ linkType: LinkType.Raw }, [{ data: packet }])).map((s) => s.reason)).toEqual(['malformed']);
  });
});

describe('frames without a usable datagram', () => {
  it('skips each with a reason and keeps going', () => {
    const records: HandRecord[] = [
      { data: concat(MACS, hex('08 06'), new Uint8Array(28)) }, // ARP
      { data: concat(MACS, hex('08 00'), withIpv4Field(9, [6])) }, // TCP
      { data: concat(MACS, hex('08 00'), withIpv4Field(6, [0x00, 0xb9])) }, // later fragment
      { data: concat(MACS, hex('08 00'), withIpv4Field(6, [0x20, 0x00])) }, // first fragment (MF)
      { data: ETHERNET_IPV4, captured: 40 }, // cut by the snap length
      { data: concat(MACS, hex('08 00'), withIpv4Field(24, [0x00, 0x07])) }, // UDP length 7
      { data: concat(MACS, hex('08 00'), withIpv4Field(0, [0x44])) }, // IHL 4
      { data: ETHERNET_IPV4 },
    ];
    const skips: SkippedFrame[] = [];
    const { datagrams, stats } = parsePcap(handPcap({}, records), { onSkip: (skip) => skips.push(skip) });
    expect(skips.map((skip) => [skip.frameNumber, skip.reason])).toEqual([
      [1, 'not-ip'],
      [2, 'not-udp'],
      [3, 'fragment'],
      [4, 'fragment'],
      [5, 'truncated'],
      [6, 'malformed'],
      [7, 'malformed'],
    ]);
    expect(skips[0].detail).toContain('0x0806');
    expect(only(datagrams).frameNumber).toBe(8);
    expect(stats.skipped).toEqual({
      'not-ip': 1,
      'not-udp': 1,
      fragment: 2,
      truncated: 1,
      malformed: 2,
      'unsupported-linktype': 0,
    });
    expect(stats.frames).toBe(8);
    expect(stats.damage).toBeNull();
  });
});

describe('damaged files', () => {
  const intact = handPcap({}, [{ data: ETHERNET_IPV4 }, { data: ETHERNET_IPV4 }]);

  it('yields the whole records of a file cut inside the last record, and reports the cut', () => {
    const { datagrams, stats } = parsePcap(intact.subarray(0, intact.length - 5));
    expect(datagrams).toHaveLength(1);
    expect(stats.frames).toBe(2);
    expect(stats.skipped.truncated).toBe(1);
    expect(stats.damage).toMatchObject({ frameNumber: 2, byteOffset: 24 + 16 + ETHERNET_IPV4.length });
    expect(stats.damage?.message).toContain('file ends inside record 2');
  });

  it('still yields a cut last record whose datagram is whole (cut in the Ethernet padding)', () => {
    const padded = concat(ETHERNET_IPV4, new Uint8Array(14));
    const file = handPcap({}, [{ data: padded }]);
    const { datagrams, stats } = parsePcap(file.subarray(0, file.length - 10));
    expect(only(datagrams).payload).toEqual(PAYLOAD);
    expect(stats.damage?.frameNumber).toBe(1);
  });

  it('reports a file cut inside a record header', () => {
    const oneRecord = handPcap({}, [{ data: ETHERNET_IPV4 }]);
    const { datagrams, stats } = parsePcap(intact.subarray(0, oneRecord.length + 10));
    expect(datagrams).toHaveLength(1);
    expect(stats.skipped.truncated).toBe(1);
    expect(stats.damage?.message).toContain('inside the header of record 2');
  });

  it('stops at a record header announcing an impossible length', () => {
    const damaged = intact.slice();
    new DataView(damaged.buffer).setUint32(24 + 16 + ETHERNET_IPV4.length + 8, 0x7fff_ffff, true);
    const { datagrams, stats } = parsePcap(damaged);
    expect(datagrams).toHaveLength(1);
    expect(stats.skipped.malformed).toBe(1);
    expect(stats.damage?.frameNumber).toBe(2);
  });

  it('never throws on damaged frames: every frame is a datagram or a counted skip', () => {
    const records = [
      ETHERNET_IPV4,
      concat(MACS, hex('81 00 00 64  86 dd'), ipv6(0, concat(hex('11 00  01 04 00 00 00 00'), UDP_TO_4739))),
      concat(MACS, hex('08 00'), withIpv4Field(9, [6])),
      ETHERNET_IPV4,
    ].map((data) => ({ data }));
    const file = handPcap({}, records);
    fc.assert(
      fc.property(
        fc.array(fc.record({ at: fc.integer({ min: 24, max: file.length - 1 }), value: fc.integer({ min: 0, max: 255 }) }), {
          maxLength: 8,
        }),
        fc.integer({ min: 24, max: file.length }),
        (edits, length) => {
          const damaged = file.slice(0, length);
          for (const edit of edits) if (edit.at < damaged.length) damaged[edit.at] = edit.value;
          const { datagrams, stats } = parsePcap(damaged);
          const skipped = Object.values(stats.skipped).reduce((sum, count) => sum + count, 0);
          expect(stats.frames).toBe(stats.datagrams + skipped);
          expect(datagrams).toHaveLength(stats.datagrams);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('files that are not classic pcap', () => {
  it('rejects pcapng and says how to convert it', () => {
    const sectionHeader = hex('0a 0d 0d 0a  1c 00 00 00  4d 3c 2b 1a  01 00 00 00  ff ff ff ff ff ff ff ff  1c 00 00 00');
    expect(() => parsePcap(sectionHeader)).toThrow(PcapFormatError);
    expect(() => parsePcap(sectionHeader)).toThrow('tshark -r in.pcapng -F pcap -w out.pcap');
  });

  it('rejects gzip, an unknown magic, an empty file and a cut global header with a clear message', () => {
    expect(() => parsePcap(hex('1f 8b 08 00 00 00 00 00'))).toThrow(/gzip/);
    expect(() => parsePcap(hex('de ad be ef 00 00 00 00'))).toThrow(/unknown magic number 0xdeadbeef/);
    expect(() => parsePcap(new Uint8Array(0))).toThrow(/too short/);
    expect(() => parsePcap(handPcap({}, []).subarray(0, 20))).toThrow(/ends inside the pcap global header/);
  });
});

describe('reading from disk', () => {
  let directory: string;
  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'flowbill-pcap-reader-'));
  });
  afterAll(async () => {
    await rm(directory, { recursive: true, force: true });
  });

  it('names the file in format errors', async () => {
    const path = join(directory, 'capture.pcapng');
    await writeFile(path, hex('0a 0d 0d 0a  1c 00 00 00  4d 3c 2b 1a  01 00 00 00  ff ff ff ff ff ff ff ff  1c 00 00 00'));
    expect(() => readPcapFile(path)).toThrow(`${path} is a pcapng file`);
  });

  it('streams the same datagrams and stats as the in-memory reader, for any chunk size', async () => {
    const records: HandRecord[] = [];
    for (let index = 0; index < 40; index += 1) {
      records.push({ seconds: 1_700_000_000 + index, data: index % 7 === 3 ? concat(MACS, hex('08 06'), new Uint8Array(28)) : ETHERNET_IPV4 });
    }
    const file = handPcap({ littleEndian: false, nanoseconds: true }, records);
    const path = join(directory, 'many.pcap');
    await writeFile(path, file.subarray(0, file.length - 3));
    const expected = readPcapFile(path);
    expect(expected.stats.damage).not.toBeNull();
    for (const chunkBytes of [1, 7, 16, 4096]) {
      const stream = streamPcapFile(path, { chunkBytes });
      const streamed: UdpDatagram[] = [];
      for await (const datagram of stream) streamed.push(datagram);
      expect(streamed).toEqual(expected.datagrams);
      expect(stream.stats).toEqual(expected.stats);
      expect(stream.header).toEqual(expected.header);
    }
  });
});
