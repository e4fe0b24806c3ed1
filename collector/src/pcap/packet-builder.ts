/**
 * Build IPv4/IPv6 packets carrying UDP, TCP or ICMP, and wrap them in Ethernet frames.
 *
 * Every checksum is computed (IPv4 header, UDP over both families, TCP, ICMP, ICMPv6) so
 * tshark with checksum validation on, softflowd and any other consumer accept the packets.
 * Nothing here fragments: a packet larger than IP allows is a caller error and throws.
 */
import { parseAddress, type IpFamily, type ParsedAddress } from './address-text.js';
import { internetChecksum, transportChecksum } from './checksum.js';

export const IpProtocol = { Icmp: 1, Tcp: 6, Udp: 17, Icmpv6: 58 } as const;

export const TcpFlag = { Fin: 0x01, Syn: 0x02, Rst: 0x04, Psh: 0x08, Ack: 0x10, Urg: 0x20 } as const;

/** ICMP echo types: the numbers differ between ICMP (IPv4) and ICMPv6. */
export const IcmpEcho = {
  4: { request: 8, reply: 0 },
  6: { request: 128, reply: 129 },
} as const;

interface PacketSpecBase {
  readonly timestampMs: number;
  /** IPv4 dotted quad or IPv6 text; source and destination must be of the same family. */
  readonly srcAddress: string;
  readonly dstAddress: string;
  /** IPv4 TTL or IPv6 hop limit; 64 when omitted. */
  readonly ttl?: number;
}

export interface UdpPacketSpec extends PacketSpecBase {
  readonly protocol: 'udp';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

export interface TcpPacketSpec extends PacketSpecBase {
  readonly protocol: 'tcp';
  readonly srcPort: number;
  readonly dstPort: number;
  /** Unsigned 32-bit sequence and acknowledgement numbers. */
  readonly seq: number;
  readonly ack: number;
  /** Bitwise OR of TcpFlag values. */
  readonly flags: number;
  /** 64240 when omitted (a common Linux initial window). */
  readonly window?: number;
  /** Raw TCP option bytes, e.g. an MSS option on a SYN; padded with end-of-options to 4 bytes. */
  readonly options?: Uint8Array;
  readonly payload?: Uint8Array;
}

/** ICMP for IPv4 addresses, ICMPv6 for IPv6 addresses. */
export interface IcmpPacketSpec extends PacketSpecBase {
  readonly protocol: 'icmp';
  readonly icmpType: number;
  readonly icmpCode: number;
  /** For echo request/reply; for other types these two fields fill the 4 "rest of header" bytes. */
  readonly identifier: number;
  readonly sequence: number;
  readonly payload?: Uint8Array;
}

export type PacketSpec = UdpPacketSpec | TcpPacketSpec | IcmpPacketSpec;

const IPV4_HEADER_LENGTH = 20;
const IPV6_HEADER_LENGTH = 40;
const UDP_HEADER_LENGTH = 8;
const TCP_BASE_HEADER_LENGTH = 20;
const ICMP_HEADER_LENGTH = 8;
const MAX_IP_PACKET = 0xffff;
const EMPTY = new Uint8Array(0);

function familyOf(address: string): IpFamily {
  return address.includes(':') ? 6 : 4;
}

function paddedOptionsLength(spec: TcpPacketSpec): number {
  return Math.ceil((spec.options?.length ?? 0) / 4) * 4;
}

/** Bytes after the IP header: transport header plus payload. */
function transportLength(spec: PacketSpec): number {
  switch (spec.protocol) {
    case 'udp':
      return UDP_HEADER_LENGTH + spec.payload.length;
    case 'tcp':
      return TCP_BASE_HEADER_LENGTH + paddedOptionsLength(spec) + (spec.payload?.length ?? 0);
    case 'icmp':
      return ICMP_HEADER_LENGTH + (spec.payload?.length ?? 0);
  }
}

/**
 * The packet's size at layer 3: the IPv4 Total Length, or for IPv6 the 40-byte header plus
 * the Payload Length. This is what NetFlow/IPFIX octet counters count (no Ethernet header,
 * VLAN tags or FCS), so it is the unit of every synthetic total.
 */
export function ipPacketLength(spec: PacketSpec): number {
  const header = familyOf(spec.srcAddress) === 4 ? IPV4_HEADER_LENGTH : IPV6_HEADER_LENGTH;
  return header + transportLength(spec);
}

/** The IP protocol / IPv6 next-header number: 1 ICMP, 6 TCP, 17 UDP, 58 ICMPv6. */
export function ipProtocolNumber(spec: PacketSpec): number {
  switch (spec.protocol) {
    case 'udp':
      return IpProtocol.Udp;
    case 'tcp':
      return IpProtocol.Tcp;
    case 'icmp':
      return familyOf(spec.srcAddress) === 4 ? IpProtocol.Icmp : IpProtocol.Icmpv6;
  }
}

function checkUint(name: string, value: number, bits: 8 | 16 | 32): void {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new RangeError(`${name} must be an unsigned ${bits}-bit integer (got ${value})`);
  }
}

function buildUdpSegment(spec: UdpPacketSpec, src: ParsedAddress, dst: ParsedAddress): Uint8Array {
  checkUint('srcPort', spec.srcPort, 16);
  checkUint('dstPort', spec.dstPort, 16);
  const segment = new Uint8Array(UDP_HEADER_LENGTH + spec.payload.length);
  const view = new DataView(segment.buffer);
  view.setUint16(0, spec.srcPort);
  view.setUint16(2, spec.dstPort);
  view.setUint16(4, segment.length);
  segment.set(spec.payload, UDP_HEADER_LENGTH);
  // A computed checksum of 0 is sent as 0xffff: 0 means "no checksum" (and is illegal over IPv6).
  view.setUint16(6, transportChecksum(src, dst, IpProtocol.Udp, segment) || 0xffff);
  return segment;
}

function buildTcpSegment(spec: TcpPacketSpec, src: ParsedAddress, dst: ParsedAddress): Uint8Array {
  checkUint('srcPort', spec.srcPort, 16);
  checkUint('dstPort', spec.dstPort, 16);
  checkUint('seq', spec.seq, 32);
  checkUint('ack', spec.ack, 32);
  checkUint('flags', spec.flags, 8);
  const headerLength = TCP_BASE_HEADER_LENGTH + paddedOptionsLength(spec);
  if (headerLength > 60) throw new RangeError(`TCP options too long (${spec.options?.length} bytes; at most 40)`);
  const payload = spec.payload ?? EMPTY;
  const segment = new Uint8Array(headerLength + payload.length);
  const view = new DataView(segment.buffer);
  view.setUint16(0, spec.srcPort);
  view.setUint16(2, spec.dstPort);
  view.setUint32(4, spec.seq);
  view.setUint32(8, spec.ack);
  view.setUint8(12, (headerLength / 4) << 4);
  view.setUint8(13, spec.flags);
  view.setUint16(14, spec.window ?? 64240);
  // Bytes 16-17 checksum (below), 18-19 urgent pointer: 0. Option padding stays 0 (end of options).
  if (spec.options) segment.set(spec.options, TCP_BASE_HEADER_LENGTH);
  segment.set(payload, headerLength);
  view.setUint16(16, transportChecksum(src, dst, IpProtocol.Tcp, segment));
  return segment;
}

function buildIcmpMessage(spec: IcmpPacketSpec, src: ParsedAddress, dst: ParsedAddress): Uint8Array {
  checkUint('icmpType', spec.icmpType, 8);
  checkUint('icmpCode', spec.icmpCode, 8);
  checkUint('identifier', spec.identifier, 16);
  checkUint('sequence', spec.sequence, 16);
  const payload = spec.payload ?? EMPTY;
  const message = new Uint8Array(ICMP_HEADER_LENGTH + payload.length);
  const view = new DataView(message.buffer);
  view.setUint8(0, spec.icmpType);
  view.setUint8(1, spec.icmpCode);
  view.setUint16(4, spec.identifier);
  view.setUint16(6, spec.sequence);
  message.set(payload, ICMP_HEADER_LENGTH);
  // ICMPv6 covers a pseudo-header like UDP/TCP do; ICMP for IPv4 covers the message alone.
  const checksum =
    src.family === 6 ? transportChecksum(src, dst, IpProtocol.Icmpv6, message) : internetChecksum(message);
  view.setUint16(2, checksum);
  return message;
}

function buildTransport(spec: PacketSpec, src: ParsedAddress, dst: ParsedAddress): Uint8Array {
  switch (spec.protocol) {
    case 'udp':
      return buildUdpSegment(spec, src, dst);
    case 'tcp':
      return buildTcpSegment(spec, src, dst);
    case 'icmp':
      return buildIcmpMessage(spec, src, dst);
  }
}

/**
 * The complete IP packet (layer 3) for a spec. `ipv4Identification` fills the IPv4 ID field
 * (writers count it up per packet, as hosts do); it is ignored for IPv6.
 */
export function buildIpPacket(spec: PacketSpec, ipv4Identification = 0): Uint8Array {
  const src = parseAddress(spec.srcAddress);
  const dst = parseAddress(spec.dstAddress);
  if (src.family !== dst.family) {
    throw new RangeError(`source ${spec.srcAddress} and destination ${spec.dstAddress} are of different IP versions`);
  }
  const ttl = spec.ttl ?? 64;
  checkUint('ttl', ttl, 8);
  const transport = buildTransport(spec, src, dst);
  const protocol = ipProtocolNumber(spec);
  if (src.family === 4) {
    const totalLength = IPV4_HEADER_LENGTH + transport.length;
    if (totalLength > MAX_IP_PACKET) throw new RangeError(`IPv4 packet of ${totalLength} bytes exceeds 65535`);
    checkUint('ipv4Identification', ipv4Identification, 16);
    const packet = new Uint8Array(totalLength);
    const view = new DataView(packet.buffer);
    view.setUint8(0, 0x45); // version 4, header length 5 words
    view.setUint16(2, totalLength);
    view.setUint16(4, ipv4Identification);
    view.setUint16(6, 0x4000); // don't fragment, offset 0
    view.setUint8(8, ttl);
    view.setUint8(9, protocol);
    packet.set(src.bytes, 12);
    packet.set(dst.bytes, 16);
    view.setUint16(10, internetChecksum(packet.subarray(0, IPV4_HEADER_LENGTH)));
    packet.set(transport, IPV4_HEADER_LENGTH);
    return packet;
  }
  if (transport.length > MAX_IP_PACKET) {
    throw new RangeError(`IPv6 payload of ${transport.length} bytes exceeds 65535 (jumbograms are not built)`);
  }
  const packet = new Uint8Array(IPV6_HEADER_LENGTH + transport.length);
  const view = new DataView(packet.buffer);
  view.setUint32(0, 0x6000_0000); // version 6, traffic class 0, flow label 0
  view.setUint16(4, transport.length);
  view.setUint8(6, protocol);
  view.setUint8(7, ttl);
  packet.set(src.bytes, 8);
  packet.set(dst.bytes, 24);
  packet.set(transport, IPV6_HEADER_LENGTH);
  return packet;
}

export interface EthernetOptions {
  /** "02:00:00:00:00:01" when omitted (locally administered, so never a real vendor's). */
  readonly srcMac?: string;
  /** "02:00:00:00:00:02" when omitted. */
  readonly dstMac?: string;
  /**
   * VLAN IDs, outermost first. The innermost tag is 802.1Q (0x8100) and any outer ones are
   * 802.1ad service tags (0x88a8), as a QinQ provider network sends them.
   */
  readonly vlanIds?: readonly number[];
}

function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((part) => !/^[0-9a-fA-F]{2}$/.test(part))) {
    throw new RangeError(`not a MAC address: ${JSON.stringify(text)}`);
  }
  return Uint8Array.from(parts.map((part) => Number.parseInt(part, 16)));
}

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;
const ETHERTYPE_SERVICE_VLAN = 0x88a8;

/** Wrap an IP packet (its version nibble picks the ethertype) in an Ethernet II header. */
export function buildEthernetFrame(ipPacket: Uint8Array, options: EthernetOptions = {}): Uint8Array {
  const vlanIds = options.vlanIds ?? [];
  for (const id of vlanIds) {
    if (!Number.isInteger(id) || id < 0 || id > 4095) throw new RangeError(`VLAN ID must be 0-4095 (got ${id})`);
  }
  const version = ipPacket[0] >> 4;
  if (version !== 4 && version !== 6) throw new RangeError(`not an IP packet (version nibble ${version})`);
  const headerLength = 14 + 4 * vlanIds.length;
  const frame = new Uint8Array(headerLength + ipPacket.length);
  const view = new DataView(frame.buffer);
  frame.set(parseMac(options.dstMac ?? '02:00:00:00:00:02'), 0);
  frame.set(parseMac(options.srcMac ?? '02:00:00:00:00:01'), 6);
  let at = 12;
  vlanIds.forEach((id, index) => {
    const innermost = index === vlanIds.length - 1;
    view.setUint16(at, innermost ? ETHERTYPE_VLAN : ETHERTYPE_SERVICE_VLAN);
    view.setUint16(at + 2, id); // priority 0, drop-eligible 0
    at += 4;
  });
  view.setUint16(at, version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6);
  frame.set(ipPacket, headerLength);
  return frame;
}
