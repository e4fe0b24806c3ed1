/**
 * From one captured frame to the UDP datagram inside it, or the reason there is none.
 *
 * Every check here reports instead of throwing: a capture of a real exporter holds ARP,
 * LLDP, cut-short frames and worse, and one bad frame must not cost the rest of the file.
 * IP header checksums are deliberately not verified: captures taken on the sending host
 * see packets before checksum offload fills them in, and tshark does not verify by default
 * either.
 */
import { formatIpv4, formatIpv6 } from './address-text.js';
import { LinkType } from './pcap-format.js';

export type SkipReason =
  /** The link layer carries something other than IPv4/IPv6 (ARP, LLDP, MPLS, ...). */
  | 'not-ip'
  /** An IP packet whose payload is not UDP (TCP, ICMP, ESP, ...). */
  | 'not-udp'
  /** A fragment of a fragmented UDP datagram: its payload is incomplete without reassembly. */
  | 'fragment'
  /** The frame was cut short (snap length, or the file ended) before the datagram ended. */
  | 'truncated'
  /** Header fields contradict each other (bad version nibble, lengths that do not fit). */
  | 'malformed'
  /** The file's link type is not one this decoder knows. */
  | 'unsupported-linktype';

export const SKIP_REASONS: readonly SkipReason[] = [
  'not-ip',
  'not-udp',
  'fragment',
  'truncated',
  'malformed',
  'unsupported-linktype',
];

export interface DecodedUdp {
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
  /** A view into the frame's bytes, not a copy. */
  readonly payload: Uint8Array;
}

export type FrameDecodeResult =
  | { readonly ok: true; readonly udp: DecodedUdp }
  | { readonly ok: false; readonly reason: SkipReason; readonly detail: string };

type Skip = Extract<FrameDecodeResult, { ok: false }>;

const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
/** 802.1Q customer tag, 802.1ad service tag, and the pre-standard QinQ tag some switches still send. */
const VLAN_ETHERTYPES = new Set([0x8100, 0x88a8, 0x9100]);

const IP_PROTOCOL_UDP = 17;
const IPV4_MIN_HEADER = 20;
const IPV6_HEADER = 40;
const UDP_HEADER = 8;

/** BSD loopback address families: AF_INET everywhere, AF_INET6 differs per OS. */
const NULL_FAMILY_IPV4 = 2;
const NULL_FAMILY_IPV6 = new Set([10 /* Linux */, 24 /* NetBSD, OpenBSD */, 28 /* FreeBSD */, 30 /* Darwin */]);

const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AUTHENTICATION = 51;
const IPV6_NO_NEXT_HEADER = 59;
const IPV6_DESTINATION_OPTIONS = 60;
/** Extension headers laid out as (next header, length in 8-octet units not counting the first). */
const IPV6_GENERIC_EXTENSION_HEADERS = new Set([
  IPV6_HOP_BY_HOP,
  IPV6_ROUTING,
  IPV6_DESTINATION_OPTIONS,
  135 /* Mobility */,
  139 /* HIP */,
  140 /* Shim6 */,
]);

function skip(reason: SkipReason, detail: string): Skip {
  return { ok: false, reason, detail };
}

function readUint16(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}

/** Where the IP header starts and which version the link layer announced (0: read the version nibble). */
interface NetworkLayer {
  readonly ok: true;
  readonly offset: number;
  readonly family: 0 | 4 | 6;
}

/** Decode one captured frame of the given pcap link type. */
export function decodeUdpFrame(linkType: number, frame: Uint8Array): FrameDecodeResult {
  const network = locateNetworkLayer(linkType, frame);
  if (!network.ok) return network;
  if (frame.length <= network.offset) {
    return skip('truncated', 'frame ends before the IP header');
  }
  const versionNibble = frame[network.offset] >> 4;
  if (network.family !== 0 && versionNibble !== network.family) {
    return skip('malformed', `IP version nibble ${versionNibble} in a frame announced as IPv${network.family}`);
  }
  if (versionNibble === 4) return decodeIpv4(frame, network.offset);
  if (versionNibble === 6) return decodeIpv6(frame, network.offset);
  return skip('malformed', `IP version nibble ${versionNibble}`);
}

function locateNetworkLayer(linkType: number, frame: Uint8Array): NetworkLayer | Skip {
  switch (linkType) {
    case LinkType.Ethernet:
      return followEthertypes(frame, 12, 14);
    case LinkType.LinuxSll:
      // packet type(2) ARPHRD type(2) address length(2) address(8) protocol(2)
      return followEthertypes(frame, 14, 16);
    case LinkType.LinuxSll2:
      // protocol(2) reserved(2) interface index(4) ARPHRD type(2) packet type(1) address length(1) address(8)
      return followEthertypes(frame, 0, 20);
    case LinkType.Raw:
    case LinkType.RawDlt12:
      return { ok: true, offset: 0, family: 0 };
    case LinkType.Ipv4:
      return { ok: true, offset: 0, family: 4 };
    case LinkType.Ipv6:
      return { ok: true, offset: 0, family: 6 };
    case LinkType.Null:
      return loopbackFamily(frame, 'capturing-host order');
    case LinkType.Loop:
      return loopbackFamily(frame, 'big-endian');
    default:
      return skip('unsupported-linktype', `pcap link type ${linkType}`);
  }
}

/**
 * Walk from an ethertype field through any stack of VLAN tags to the network layer.
 * `typeOffset` is where the first ethertype is, `dataOffset` where the bytes it describes
 * start (they are adjacent for Ethernet, not for SLL2). A VLAN tag is a 2-byte TCI
 * followed by the next ethertype, so each tag moves both 4 bytes on.
 */
function followEthertypes(frame: Uint8Array, typeOffset: number, dataOffset: number): NetworkLayer | Skip {
  let ethertypeAt = typeOffset;
  let dataAt = dataOffset;
  for (;;) {
    if (frame.length < ethertypeAt + 2 || frame.length < dataAt) {
      return skip('truncated', 'frame ends inside the link-layer header');
    }
    const ethertype = readUint16(frame, ethertypeAt);
    if (VLAN_ETHERTYPES.has(ethertype)) {
      ethertypeAt = dataAt + 2;
      dataAt += 4;
      continue;
    }
    if (ethertype === ETHERTYPE_IPV4) return { ok: true, offset: dataAt, family: 4 };
    if (ethertype === ETHERTYPE_IPV6) return { ok: true, offset: dataAt, family: 6 };
    return skip('not-ip', `ethertype ${hex16(ethertype)}`);
  }
}

/**
 * BSD loopback frames start with the socket address family as a 32-bit word. For
 * LINKTYPE_NULL it is in the capturing host's byte order, which the file does not record;
 * the families are small numbers, so a value with high bits set is the other order.
 */
function loopbackFamily(frame: Uint8Array, order: 'capturing-host order' | 'big-endian'): NetworkLayer | Skip {
  if (frame.length < 4) return skip('truncated', 'frame ends inside the loopback header');
  const view = new DataView(frame.buffer, frame.byteOffset, 4);
  let family = view.getUint32(0, false);
  if (order === 'capturing-host order' && (family & 0xffff0000) !== 0) {
    family = view.getUint32(0, true);
  }
  if (family === NULL_FAMILY_IPV4) return { ok: true, offset: 4, family: 4 };
  if (NULL_FAMILY_IPV6.has(family)) return { ok: true, offset: 4, family: 6 };
  return skip('not-ip', `loopback address family ${family}`);
}

function decodeIpv4(frame: Uint8Array, at: number): FrameDecodeResult {
  const captured = frame.length - at;
  if (captured < IPV4_MIN_HEADER) return skip('truncated', 'frame ends inside the IPv4 header');
  const headerLength = (frame[at] & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER) return skip('malformed', `IPv4 header length ${headerLength}`);
  // The total length, not the frame length, says where the packet ends: Ethernet pads short
  // frames and some captures keep the FCS.
  const totalLength = readUint16(frame, at + 2);
  if (totalLength < headerLength) {
    return skip('malformed', `IPv4 total length ${totalLength} is shorter than its header (${headerLength})`);
  }
  if (captured < totalLength) {
    return skip('truncated', `IPv4 packet of ${totalLength} bytes, ${captured} captured`);
  }
  const protocol = frame[at + 9];
  if (protocol !== IP_PROTOCOL_UDP) return skip('not-udp', `IP protocol ${protocol}`);
  const flagsAndOffset = readUint16(frame, at + 6);
  const moreFragments = (flagsAndOffset & 0x2000) !== 0;
  const fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
  if (fragmentOffset !== 0) {
    return skip('fragment', `IPv4 fragment at byte ${fragmentOffset} of a UDP datagram (no reassembly)`);
  }
  if (moreFragments) {
    return skip('fragment', 'first IPv4 fragment of a UDP datagram: payload incomplete without reassembly');
  }
  return decodeUdp(frame, at + headerLength, at + totalLength, formatIpv4(frame, at + 12), formatIpv4(frame, at + 16));
}

function decodeIpv6(frame: Uint8Array, at: number): FrameDecodeResult {
  const captured = frame.length - at;
  if (captured < IPV6_HEADER) return skip('truncated', 'frame ends inside the IPv6 header');
  const payloadLength = readUint16(frame, at + 4);
  let nextHeader = frame[at + 6];
  if (payloadLength === 0 && nextHeader === IPV6_HOP_BY_HOP) {
    return skip('malformed', 'IPv6 jumbogram (payload length 0): not supported');
  }
  const end = at + IPV6_HEADER + payloadLength;
  if (frame.length < end) {
    return skip('truncated', `IPv6 packet of ${IPV6_HEADER + payloadLength} bytes, ${captured} captured`);
  }
  let headerAt = at + IPV6_HEADER;
  // Each pass moves headerAt forward by at least 8 bytes, so this ends within `end`.
  for (;;) {
    if (nextHeader === IP_PROTOCOL_UDP) {
      return decodeUdp(frame, headerAt, end, formatIpv6(frame, at + 8), formatIpv6(frame, at + 24));
    }
    if (nextHeader === IPV6_NO_NEXT_HEADER) return skip('not-udp', 'IPv6 next header 59 (no next header)');
    let headerLength: number;
    if (IPV6_GENERIC_EXTENSION_HEADERS.has(nextHeader)) {
      if (end - headerAt < 2) return skip('malformed', `IPv6 extension header ${nextHeader} runs past the packet`);
      headerLength = (frame[headerAt + 1] + 1) * 8;
    } else if (nextHeader === IPV6_AUTHENTICATION) {
      if (end - headerAt < 2) return skip('malformed', 'IPv6 authentication header runs past the packet');
      headerLength = (frame[headerAt + 1] + 2) * 4;
    } else if (nextHeader === IPV6_FRAGMENT) {
      if (end - headerAt < 8) return skip('malformed', 'IPv6 fragment header runs past the packet');
      const offsetAndFlags = readUint16(frame, headerAt + 2);
      const fragmentOffset = offsetAndFlags & 0xfff8;
      const moreFragments = (offsetAndFlags & 1) !== 0;
      // Offset 0 without "more fragments" is an atomic fragment (RFC 6946): a whole packet.
      if (fragmentOffset !== 0 || moreFragments) {
        // Every fragment repeats the first header of the fragmented part, so TCP fragments are
        // recognisable as such; behind further extension headers we cannot tell and say 'fragment'.
        const fragmentOf = frame[headerAt];
        if (fragmentOf !== IP_PROTOCOL_UDP && !isIpv6ExtensionHeader(fragmentOf)) {
          return skip('not-udp', `fragmented IPv6 packet, next header ${fragmentOf}`);
        }
        return skip(
          'fragment',
          fragmentOffset === 0
            ? 'first IPv6 fragment: payload incomplete without reassembly'
            : `IPv6 fragment at byte ${fragmentOffset} (no reassembly)`,
        );
      }
      headerLength = 8;
    } else {
      return skip('not-udp', `IPv6 next header ${nextHeader}`);
    }
    if (end - headerAt < headerLength) {
      return skip('malformed', `IPv6 extension header ${nextHeader} runs past the packet`);
    }
    nextHeader = frame[headerAt];
    headerAt += headerLength;
  }
}

function isIpv6ExtensionHeader(nextHeader: number): boolean {
  return (
    IPV6_GENERIC_EXTENSION_HEADERS.has(nextHeader) ||
    nextHeader === IPV6_AUTHENTICATION ||
    nextHeader === IPV6_FRAGMENT
  );
}

/** The UDP header at `at`, inside an IP payload that ends at `end` (already known to be captured). */
function decodeUdp(frame: Uint8Array, at: number, end: number, srcAddress: string, dstAddress: string): FrameDecodeResult {
  if (end - at < UDP_HEADER) return skip('malformed', 'IP payload too short for a UDP header');
  const udpLength = readUint16(frame, at + 4);
  if (udpLength < UDP_HEADER) return skip('malformed', `UDP length ${udpLength}`);
  if (udpLength > end - at) {
    return skip('malformed', `UDP length ${udpLength} exceeds the IP payload (${end - at} bytes)`);
  }
  return {
    ok: true,
    udp: {
      srcAddress,
      srcPort: readUint16(frame, at),
      dstAddress,
      dstPort: readUint16(frame, at + 2),
      payload: frame.subarray(at + UDP_HEADER, at + udpLength),
    },
  };
}
