import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { parseAddress } from './address-text.js';
import { internetChecksum, transportChecksum } from './checksum.js';
import { buildEthernetFrame, buildIpPacket, ipPacketLength, IpProtocol, TcpFlag, type PacketSpec } from './packet-builder.js';
import { LinkType } from './pcap-format.js';
import { parsePcap, readPcapFile } from './reader.js';
import { encodePacketsPcap, encodePcap, encodeUdpDatagramsPcap, PcapWriter, writeUdpDatagramsPcap, type UdpDatagramSpec } from './writer.js';

const T0 = Date.UTC(2024, 2, 1, 12, 0, 0);

const DATAGRAMS: UdpDatagramSpec[] = [
  { timestampMs: T0 + 0.001, srcAddress: '192.0.2.10', srcPort: 50_000, dstAddress: '198.51.100.1', dstPort: 2055, payload: Uint8Array.from([0, 5, 0, 1]) },
  { timestampMs: T0 + 12.345, srcAddress: '2001:db8::a', srcPort: 50_001, dstAddress: '2001:db8::1:0:0:1', dstPort: 4739, payload: new Uint8Array(1200).fill(7) },
  { timestampMs: T0 + 1000, srcAddress: '10.0.0.1', srcPort: 9995, dstAddress: '10.0.0.2', dstPort: 9996, payload: new Uint8Array(0) },
];

function ipv4Header(frame: Uint8Array): Uint8Array {
  return frame.subarray(14, 34);
}

describe('UDP datagrams round trip through writer and reader', () => {
  for (const vlanIds of [[], [100], [200, 100]]) {
    it(`keeps addresses, ports, payloads and times (VLAN tags: ${JSON.stringify(vlanIds)})`, () => {
      const { datagrams, stats, header } = parsePcap(encodeUdpDatagramsPcap(DATAGRAMS, { vlanIds }));
      expect(header).toMatchObject({ linkType: LinkType.Ethernet, byteOrder: 'little-endian', timestampResolution: 'microseconds' });
      expect(stats).toMatchObject({ frames: 3, datagrams: 3, damage: null });
      expect(datagrams.map(({ frameNumber, timestampMs, ...rest }) => rest)).toEqual(
        DATAGRAMS.map(({ timestampMs, ...rest }) => rest),
      );
      datagrams.forEach((datagram, index) => {
        expect(datagram.frameNumber).toBe(index + 1);
        expect(Math.abs(datagram.timestampMs - DATAGRAMS[index].timestampMs)).toBeLessThan(0.0006);
      });
    });
  }

  it('reads addresses back in canonical form whatever form they were written in', () => {
    const written = { ...DATAGRAMS[1], srcAddress: '2001:DB8:0:0:0:0:0:A', dstAddress: '::ffff:192.0.2.1' };
    const [read] = parsePcap(encodeUdpDatagramsPcap([written])).datagrams;
    expect([read.srcAddress, read.dstAddress]).toEqual(['2001:db8::a', '::ffff:192.0.2.1']);
  });

  it('writes a file readPcapFile reads back', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'flowbill-pcap-writer-'));
    try {
      const path = join(directory, 'datagrams.pcap');
      writeUdpDatagramsPcap(path, DATAGRAMS);
      expect(readPcapFile(path).datagrams.map((d) => d.payload.length)).toEqual([4, 1200, 0]);
      expect(new Uint8Array(await readFile(path))).toEqual(encodeUdpDatagramsPcap(DATAGRAMS));
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});

describe('checksums', () => {
  const udp4 = buildIpPacket({ protocol: 'udp', ...DATAGRAMS[0] }, 7);
  const udp6 = buildIpPacket({ protocol: 'udp', ...DATAGRAMS[1] });

  it('gives IPv4 headers a checksum that verifies', () => {
    expect(internetChecksum(udp4.subarray(0, 20))).toBe(0);
    expect(new DataView(udp4.buffer).getUint16(10)).not.toBe(0);
    expect(new DataView(udp4.buffer).getUint16(4)).toBe(7);
  });

  it('computes UDP checksums over IPv4 and (mandatory) IPv6', () => {
    const src4 = parseAddress(DATAGRAMS[0].srcAddress);
    const dst4 = parseAddress(DATAGRAMS[0].dstAddress);
    // Re-summing a segment that carries its checksum gives 0 (or 0xffff's complement, 0).
    expect(transportChecksum(src4, dst4, IpProtocol.Udp, udp4.subarray(20))).toBe(0);
    const src6 = parseAddress(DATAGRAMS[1].srcAddress);
    const dst6 = parseAddress(DATAGRAMS[1].dstAddress);
    expect(new DataView(udp6.buffer).getUint16(46)).not.toBe(0);
    expect(transportChecksum(src6, dst6, IpProtocol.Udp, udp6.subarray(40))).toBe(0);
  });

  it('computes TCP, ICMP and ICMPv6 checksums', () => {
    const tcp: PacketSpec = {
      protocol: 'tcp', timestampMs: T0, srcAddress: '192.0.2.1', dstAddress: '192.0.2.2', srcPort: 40_000, dstPort: 443,
      seq: 0xfffffff0, ack: 0, flags: TcpFlag.Syn, options: Uint8Array.from([2, 4, 5, 0xb4, 1]),
    };
    const tcpPacket = buildIpPacket(tcp);
    expect(tcpPacket.length).toBe(20 + 20 + 8); // 5 option bytes padded to 8
    expect(transportChecksum(parseAddress('192.0.2.1'), parseAddress('192.0.2.2'), IpProtocol.Tcp, tcpPacket.subarray(20))).toBe(0);

    const icmp4 = buildIpPacket({
      protocol: 'icmp', timestampMs: T0, srcAddress: '192.0.2.1', dstAddress: '192.0.2.2', icmpType: 8, icmpCode: 0, identifier: 1, sequence: 2,
      payload: new Uint8Array(56),
    });
    expect(icmp4.length).toBe(84);
    expect(icmp4[9]).toBe(IpProtocol.Icmp);
    expect(internetChecksum(icmp4.subarray(20))).toBe(0);

    const icmp6 = buildIpPacket({
      protocol: 'icmp', timestampMs: T0, srcAddress: '2001:db8::1', dstAddress: '2001:db8::2', icmpType: 128, icmpCode: 0, identifier: 1, sequence: 2,
      payload: new Uint8Array(56),
    });
    expect(icmp6.length).toBe(104);
    expect(icmp6[6]).toBe(IpProtocol.Icmpv6);
    expect(transportChecksum(parseAddress('2001:db8::1'), parseAddress('2001:db8::2'), IpProtocol.Icmpv6, icmp6.subarray(40))).toBe(0);
  });
});

describe('packet building', () => {
  it('predicts every packet length with ipPacketLength', () => {
    const specs: PacketSpec[] = [
      { protocol: 'udp', ...DATAGRAMS[0] },
      { protocol: 'udp', ...DATAGRAMS[1] },
      { protocol: 'tcp', timestampMs: T0, srcAddress: '2001:db8::1', dstAddress: '2001:db8::2', srcPort: 1, dstPort: 2, seq: 1, ack: 2, flags: TcpFlag.Ack, payload: new Uint8Array(1440) },
      { protocol: 'icmp', timestampMs: T0, srcAddress: '192.0.2.1', dstAddress: '192.0.2.2', icmpType: 0, icmpCode: 0, identifier: 9, sequence: 9 },
    ];
    for (const spec of specs) expect(buildIpPacket(spec).length).toBe(ipPacketLength(spec));
  });

  it('tags VLANs outer 802.1ad, inner 802.1Q', () => {
    const frame = buildEthernetFrame(buildIpPacket({ protocol: 'udp', ...DATAGRAMS[0] }), { vlanIds: [300, 42] });
    expect(Array.from(frame.subarray(12, 22))).toEqual([0x88, 0xa8, 0x01, 0x2c, 0x81, 0x00, 0x00, 0x2a, 0x08, 0x00]);
  });

  it('rejects what cannot be sent', () => {
    expect(() => buildIpPacket({ protocol: 'udp', ...DATAGRAMS[0], dstAddress: '2001:db8::1' })).toThrow(/different IP versions/);
    expect(() => buildIpPacket({ protocol: 'udp', ...DATAGRAMS[0], payload: new Uint8Array(65_508) })).toThrow(RangeError);
    expect(() => buildIpPacket({ protocol: 'udp', ...DATAGRAMS[0], srcPort: 70_000 })).toThrow(/srcPort/);
    expect(() => buildIpPacket({ protocol: 'udp', ...DATAGRAMS[0], srcAddress: '10.1' })).toThrow(/not an IPv4 or IPv6 address/);
    expect(() => buildEthernetFrame(new Uint8Array([0x50]))).toThrow(/not an IP packet/);
  });
});

describe('PcapWriter', () => {
  it('cuts frames to the snap length and records the original length', () => {
    const writer = new PcapWriter({ snapLength: 40 });
    const frame = buildEthernetFrame(buildIpPacket({ protocol: 'udp', ...DATAGRAMS[0] }));
    writer.addFrame({ timestampMs: T0, data: frame });
    expect(writer.frameCount).toBe(1);
    const bytes = writer.toBytes();
    const record = new DataView(bytes.buffer, 24, 16);
    expect(record.getUint32(8, true)).toBe(40);
    expect(record.getUint32(12, true)).toBe(frame.length);
    const { stats } = parsePcap(bytes);
    expect(stats.skipped.truncated).toBe(1);
  });

  it('writes other link types as given', () => {
    const raw = buildIpPacket({ protocol: 'udp', ...DATAGRAMS[1] });
    const { header, datagrams } = parsePcap(encodePcap([{ timestampMs: T0, data: raw }], { linkType: LinkType.Raw }));
    expect(header.linkType).toBe(LinkType.Raw);
    expect(datagrams[0].payload).toEqual(DATAGRAMS[1].payload);
  });

  it('rounds timestamps to the microsecond, carrying into the next second', () => {
    const bytes = encodePcap([{ timestampMs: T0 + 999.9999, data: new Uint8Array(0) }]);
    const record = new DataView(bytes.buffer, 24, 16);
    expect(record.getUint32(0, true)).toBe(T0 / 1000 + 1);
    expect(record.getUint32(4, true)).toBe(0);
    expect(() => encodePcap([{ timestampMs: -1, data: new Uint8Array(0) }])).toThrow(RangeError);
  });

  it('writes identical bytes for identical input (IPv4 IDs count from 1 per file)', () => {
    const packets: PacketSpec[] = DATAGRAMS.map((d) => ({ protocol: 'udp', ...d }));
    const first = encodePacketsPcap(packets);
    expect(encodePacketsPcap(packets)).toEqual(first);
    const firstFrameIpv4 = ipv4Header(first.subarray(24 + 16));
    expect(new DataView(firstFrameIpv4.buffer, firstFrameIpv4.byteOffset).getUint16(4)).toBe(1);
  });
});
