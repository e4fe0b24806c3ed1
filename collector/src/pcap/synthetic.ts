/**
 * Seeded synthetic subscriber traffic with exact ground-truth totals.
 *
 * The point is to check a NetFlow exporter (softflowd) plus our collector end to end: write
 * the packets to a pcap (writePacketsPcap), let the exporter turn them into flow records,
 * and compare what it reports with `totals`. Everything derives from the seed, so a failure
 * reproduces exactly.
 *
 * What is counted: bytes are layer-3 packet sizes — the IPv4 Total Length, or for IPv6 the
 * 40-byte header plus the Payload Length — which is what NetFlow v5 dOctets and IPFIX
 * octetDeltaCount count. Ethernet headers, VLAN tags, FCS and the pcap record headers are
 * not counted. Packets are counted one per IP packet.
 *
 * The traffic: TCP connections with a full handshake, request/response data and a FIN close
 * (so an exporter expires the flow at once rather than on a timeout), UDP (DNS-like
 * query/response and QUIC-like streams) and ICMP/ICMPv6 echo. Payload bytes are zeros: only
 * their sizes matter to flow accounting.
 */
import { canonicalAddress } from './address-text.js';
import {
  IcmpEcho,
  ipPacketLength,
  ipProtocolNumber,
  TcpFlag,
  type IcmpPacketSpec,
  type PacketSpec,
  type TcpPacketSpec,
  type UdpPacketSpec,
} from './packet-builder.js';
import { SeededRandom } from './prng.js';

export type ConversationKind = 'tcp' | 'udp' | 'icmp';

export interface SyntheticTrafficOptions {
  readonly seed: number;
  /** The ISP's customers: IPv4 and/or IPv6 addresses. Each converses with remotes of its own IP version. */
  readonly subscribers: readonly string[];
  /** Hosts on the internet the subscribers talk to. */
  readonly remotes: readonly string[];
  /** First possible packet time, ms since the epoch. */
  readonly startMs: number;
  /** Every packet falls in [startMs, startMs + durationMs). */
  readonly durationMs: number;
  /** Number of conversations; 40 when omitted. */
  readonly conversations?: number;
  /** Relative weights of the conversation kinds; { tcp: 6, udp: 3, icmp: 1 } when omitted. */
  readonly mix?: Readonly<Partial<Record<ConversationKind, number>>>;
}

export interface SyntheticConversation {
  readonly kind: ConversationKind;
  /** The side that opened the conversation (sent the SYN, the query, the echo request). */
  readonly clientAddress: string;
  /** 0 for ICMP. */
  readonly clientPort: number;
  readonly serverAddress: string;
  /** 0 for ICMP. */
  readonly serverPort: number;
  readonly packets: number;
  readonly bytes: number;
}

/** Traffic in one direction between two addresses with one IP protocol. */
export interface DirectionTotal {
  readonly srcAddress: string;
  readonly dstAddress: string;
  /** IP protocol number: 6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6. */
  readonly protocol: number;
  readonly packets: number;
  /** Sum of IP packet lengths (see the module comment). */
  readonly bytes: number;
}

export interface AddressTotal {
  readonly address: string;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly packetsReceived: number;
  readonly bytesReceived: number;
}

export interface TrafficTotals {
  readonly packets: number;
  readonly bytes: number;
  /** Sorted by source, destination, protocol. */
  readonly byDirection: readonly DirectionTotal[];
  /** Sorted by address. */
  readonly byAddress: readonly AddressTotal[];
}

export interface SyntheticTraffic {
  /** In time order; addresses in canonical text (dotted quad, RFC 5952). */
  readonly packets: readonly PacketSpec[];
  readonly conversations: readonly SyntheticConversation[];
  readonly totals: TrafficTotals;
}

/** A packet spec without its time: conversations are laid out first and placed in the window after. */
type Untimed<T> = T extends unknown ? Omit<T, 'timestampMs'> : never;

interface TimedDraft {
  /** Microseconds since the conversation's first packet. */
  readonly offsetUs: number;
  readonly packet: Untimed<PacketSpec>;
}

interface Endpoints {
  readonly client: string;
  readonly clientPort: number;
  readonly server: string;
  readonly serverPort: number;
  readonly family: 4 | 6;
}

const DEFAULT_CONVERSATIONS = 40;
const DEFAULT_MIX: Record<ConversationKind, number> = { tcp: 6, udp: 3, icmp: 1 };
/** Linux's ephemeral port range. */
const EPHEMERAL_PORTS = [32_768, 60_999] as const;
const TCP_SERVER_PORTS = [443, 443, 443, 80, 80, 22, 993, 8080];
/** Bytes of payload shared (as views) by every synthetic packet. */
const ZEROS = new Uint8Array(65_536);
/** A server inside the subscriber's network (inbound connections) is less common than outbound. */
const INBOUND_TCP_SHARE = 0.2;

function zeros(length: number): Uint8Array {
  return ZEROS.subarray(0, length);
}

function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

/**
 * SYN options as Linux sends them, so SYN sizes look real: MSS, NOP, window scale 7,
 * SACK permitted, NOP, NOP (12 bytes).
 */
function synOptions(mss: number): Uint8Array {
  return Uint8Array.from([2, 4, mss >> 8, mss & 0xff, 1, 3, 3, 7, 4, 2, 1, 1]);
}

/** A TCP connection: handshake, 1-3 request/response rounds, FIN close from either side. */
function tcpConversation(rng: SeededRandom, ends: Endpoints): TimedDraft[] {
  const drafts: TimedDraft[] = [];
  // MSS that fills a 1500-byte IP packet with a 20-byte TCP header.
  const mss = ends.family === 4 ? 1460 : 1440;
  const rttUs = rng.int(2_000, 80_000);
  let nowUs = 0;
  let clientSeq = rng.uint32();
  let serverSeq = rng.uint32();

  const send = (fromClient: boolean, flags: number, payloadLength: number, options?: Uint8Array): void => {
    const packet: Untimed<TcpPacketSpec> = {
      protocol: 'tcp',
      srcAddress: fromClient ? ends.client : ends.server,
      dstAddress: fromClient ? ends.server : ends.client,
      srcPort: fromClient ? ends.clientPort : ends.serverPort,
      dstPort: fromClient ? ends.serverPort : ends.clientPort,
      seq: fromClient ? clientSeq : serverSeq,
      ack: (flags & TcpFlag.Ack) !== 0 ? (fromClient ? serverSeq : clientSeq) : 0,
      flags,
      ...(options ? { options } : {}),
      payload: zeros(payloadLength),
    };
    drafts.push({ offsetUs: nowUs, packet });
    // SYN and FIN each take one sequence number.
    const consumed = payloadLength + ((flags & (TcpFlag.Syn | TcpFlag.Fin)) !== 0 ? 1 : 0);
    if (fromClient) clientSeq = (clientSeq + consumed) >>> 0;
    else serverSeq = (serverSeq + consumed) >>> 0;
  };

  send(true, TcpFlag.Syn, 0, synOptions(mss));
  nowUs += rttUs / 2;
  send(false, TcpFlag.Syn | TcpFlag.Ack, 0, synOptions(mss));
  nowUs += rttUs / 2;
  send(true, TcpFlag.Ack, 0);

  const rounds = rng.int(1, 3);
  for (let round = 0; round < rounds; round += 1) {
    nowUs += rng.int(100, 5_000);
    send(true, TcpFlag.Psh | TcpFlag.Ack, rng.int(80, 900));
    nowUs += rttUs / 2 + rng.int(200, 20_000);
    // Mostly small responses, some bulk transfers.
    const responseLength = rng.chance(0.7) ? rng.int(0, 20_000) : rng.int(20_000, 200_000);
    if (responseLength === 0) {
      send(false, TcpFlag.Ack, 0);
      continue;
    }
    const segments = Math.ceil(responseLength / mss);
    for (let segment = 0; segment < segments; segment += 1) {
      const last = segment === segments - 1;
      const length = last ? responseLength - segment * mss : mss;
      send(false, last ? TcpFlag.Psh | TcpFlag.Ack : TcpFlag.Ack, length);
      nowUs += rng.int(20, 400);
      // Delayed ACK: the client acknowledges every second segment and the last one.
      if (segment % 2 === 1 || last) send(true, TcpFlag.Ack, 0);
    }
  }

  const clientCloses = rng.chance(0.7);
  nowUs += rng.int(1_000, 50_000);
  send(clientCloses, TcpFlag.Fin | TcpFlag.Ack, 0);
  nowUs += rttUs / 2;
  send(!clientCloses, TcpFlag.Fin | TcpFlag.Ack, 0);
  nowUs += rttUs / 2;
  send(clientCloses, TcpFlag.Ack, 0);
  return drafts;
}

/** DNS-like query/response pairs, or a QUIC-like stream with most bytes flowing to the client. */
function udpConversation(rng: SeededRandom, ends: Endpoints, dnsLike: boolean): TimedDraft[] {
  const drafts: TimedDraft[] = [];
  let nowUs = 0;
  const send = (fromClient: boolean, payloadLength: number): void => {
    const packet: Untimed<UdpPacketSpec> = {
      protocol: 'udp',
      srcAddress: fromClient ? ends.client : ends.server,
      dstAddress: fromClient ? ends.server : ends.client,
      srcPort: fromClient ? ends.clientPort : ends.serverPort,
      dstPort: fromClient ? ends.serverPort : ends.clientPort,
      payload: zeros(payloadLength),
    };
    drafts.push({ offsetUs: nowUs, packet });
  };
  if (dnsLike) {
    const queries = rng.int(1, 3);
    for (let query = 0; query < queries; query += 1) {
      send(true, rng.int(28, 80));
      nowUs += rng.int(1_000, 60_000);
      send(false, rng.int(60, 480));
      nowUs += rng.int(1_000, 200_000);
    }
    return drafts;
  }
  const datagrams = rng.int(6, 60);
  for (let index = 0; index < datagrams; index += 1) {
    // 1232 bytes keeps a QUIC datagram inside the IPv6 minimum MTU, as QUIC stacks do.
    send(index === 0 || rng.chance(0.3), rng.int(60, 1_232));
    nowUs += rng.int(200, 30_000);
  }
  return drafts;
}

/** `ping -c N`: echo requests one second apart, each answered after one round trip. */
function icmpEchoConversation(rng: SeededRandom, ends: Endpoints, identifier: number): TimedDraft[] {
  const drafts: TimedDraft[] = [];
  const echo = IcmpEcho[ends.family];
  const rttUs = rng.int(2_000, 80_000);
  const count = rng.int(1, 5);
  for (let sequence = 1; sequence <= count; sequence += 1) {
    const sentUs = (sequence - 1) * 1_000_000;
    const request: Untimed<IcmpPacketSpec> = {
      protocol: 'icmp',
      srcAddress: ends.client,
      dstAddress: ends.server,
      icmpType: echo.request,
      icmpCode: 0,
      identifier,
      sequence,
      payload: zeros(56), // ping's default: 84-byte IPv4 / 104-byte IPv6 packets
    };
    drafts.push({ offsetUs: sentUs, packet: request });
    drafts.push({
      offsetUs: sentUs + rttUs,
      packet: { ...request, srcAddress: ends.server, dstAddress: ends.client, icmpType: echo.reply },
    });
  }
  return drafts;
}

function directionKey(src: string, dst: string, protocol: number): string {
  return `${src}|${dst}|${protocol}`;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Exact per-direction and per-address totals of a list of packets. */
export function summarizePackets(packets: Iterable<PacketSpec>): TrafficTotals {
  const directions = new Map<string, { srcAddress: string; dstAddress: string; protocol: number; packets: number; bytes: number }>();
  const addresses = new Map<string, { address: string; packetsSent: number; bytesSent: number; packetsReceived: number; bytesReceived: number }>();
  const addressEntry = (address: string) => {
    let entry = addresses.get(address);
    if (!entry) {
      entry = { address, packetsSent: 0, bytesSent: 0, packetsReceived: 0, bytesReceived: 0 };
      addresses.set(address, entry);
    }
    return entry;
  };
  let totalPackets = 0;
  let totalBytes = 0;
  for (const packet of packets) {
    const bytes = ipPacketLength(packet);
    const protocol = ipProtocolNumber(packet);
    const key = directionKey(packet.srcAddress, packet.dstAddress, protocol);
    let direction = directions.get(key);
    if (!direction) {
      direction = { srcAddress: packet.srcAddress, dstAddress: packet.dstAddress, protocol, packets: 0, bytes: 0 };
      directions.set(key, direction);
    }
    direction.packets += 1;
    direction.bytes += bytes;
    const sender = addressEntry(packet.srcAddress);
    sender.packetsSent += 1;
    sender.bytesSent += bytes;
    const receiver = addressEntry(packet.dstAddress);
    receiver.packetsReceived += 1;
    receiver.bytesReceived += bytes;
    totalPackets += 1;
    totalBytes += bytes;
  }
  const byDirection = [...directions.values()].sort(
    (a, b) => compareText(a.srcAddress, b.srcAddress) || compareText(a.dstAddress, b.dstAddress) || a.protocol - b.protocol,
  );
  const byAddress = [...addresses.values()].sort((a, b) => compareText(a.address, b.address));
  return { packets: totalPackets, bytes: totalBytes, byDirection, byAddress };
}

/** Conversation endpoints, never reusing a 5-tuple, so an exporter sees each as its own flow. */
class EndpointPicker {
  private readonly used = new Set<string>();
  private readonly remotesByFamily: Record<4 | 6, string[]>;
  readonly usableSubscribers: string[];

  constructor(
    private readonly rng: SeededRandom,
    subscribers: readonly string[],
    remotes: readonly string[],
  ) {
    this.remotesByFamily = { 4: remotes.filter((a) => familyOf(a) === 4), 6: remotes.filter((a) => familyOf(a) === 6) };
    this.usableSubscribers = subscribers.filter((a) => this.remotesByFamily[familyOf(a)].length > 0);
    if (this.usableSubscribers.length === 0) {
      throw new RangeError('no subscriber has a remote of the same IP version to talk to');
    }
  }

  pick(subscriber: string, kind: ConversationKind, serverPorts: readonly number[]): Endpoints {
    const family = familyOf(subscriber);
    const remote = this.rng.pick(this.remotesByFamily[family]);
    const inbound = kind === 'tcp' && this.rng.chance(INBOUND_TCP_SHARE);
    const [client, server] = inbound ? [remote, subscriber] : [subscriber, remote];
    for (;;) {
      // ICMP echo has no ports; its identifier plays the client port's part and must be unique too.
      const clientPort = kind === 'icmp' ? this.rng.int(1, 0xffff) : this.rng.int(...EPHEMERAL_PORTS);
      const serverPort = kind === 'icmp' ? 0 : this.rng.pick(serverPorts);
      const key = `${kind}|${client}|${clientPort}|${server}|${serverPort}`;
      if (this.used.has(key)) continue;
      this.used.add(key);
      return { client, clientPort, server, serverPort, family };
    }
  }
}

/**
 * Generate seeded traffic. The first conversations cycle through every kind with a non-zero
 * weight and every usable subscriber, so even a small run covers them all; the rest are drawn
 * at random. Subscribers with no remote of their IP version are left out.
 */
export function generateSyntheticTraffic(options: SyntheticTrafficOptions): SyntheticTraffic {
  if (!(options.durationMs > 0)) throw new RangeError(`durationMs must be positive (got ${options.durationMs})`);
  const conversationCount = options.conversations ?? DEFAULT_CONVERSATIONS;
  const mix = { ...DEFAULT_MIX, ...options.mix };
  const kinds = (Object.keys(mix) as ConversationKind[]).filter((kind) => mix[kind] > 0);
  const rng = new SeededRandom(options.seed);
  const picker = new EndpointPicker(rng, options.subscribers.map(canonicalAddress), options.remotes.map(canonicalAddress));
  const subscribers = picker.usableSubscribers;
  const windowUs = Math.floor(options.durationMs * 1000);

  const packets: PacketSpec[] = [];
  const conversations: SyntheticConversation[] = [];
  for (let index = 0; index < conversationCount; index += 1) {
    const kind = index < kinds.length ? kinds[index] : rng.weighted(mix);
    const subscriber = index < subscribers.length ? subscribers[index] : rng.pick(subscribers);
    let drafts: TimedDraft[];
    let ends: Endpoints;
    if (kind === 'tcp') {
      ends = picker.pick(subscriber, kind, TCP_SERVER_PORTS);
      drafts = tcpConversation(rng, ends);
    } else if (kind === 'udp') {
      const dnsLike = rng.chance(0.5);
      ends = picker.pick(subscriber, kind, dnsLike ? [53] : [443]);
      drafts = udpConversation(rng, ends, dnsLike);
    } else {
      ends = picker.pick(subscriber, kind, []);
      drafts = icmpEchoConversation(rng, ends, ends.clientPort);
      ends = { ...ends, clientPort: 0 };
    }
    const timed = placeInWindow(rng, drafts, windowUs, options.startMs);
    packets.push(...timed);
    const summary = summarizePackets(timed);
    conversations.push({
      kind,
      clientAddress: ends.client,
      clientPort: ends.clientPort,
      serverAddress: ends.server,
      serverPort: ends.serverPort,
      packets: summary.packets,
      bytes: summary.bytes,
    });
  }
  // Stable sort: packets at the same instant keep their order within a conversation.
  packets.sort((a, b) => a.timestampMs - b.timestampMs);
  return { packets, conversations, totals: summarizePackets(packets) };
}

/**
 * Give a conversation absolute times: a random start such that it ends inside the window,
 * squeezing it proportionally when it is naturally longer than 90% of the window. Offsets are
 * whole microseconds so the pcap (microsecond resolution) holds the times exactly.
 */
function placeInWindow(rng: SeededRandom, drafts: TimedDraft[], windowUs: number, startMs: number): PacketSpec[] {
  const naturalSpanUs = drafts[drafts.length - 1].offsetUs;
  const maxSpanUs = Math.floor(windowUs * 0.9);
  const scale = naturalSpanUs > maxSpanUs ? maxSpanUs / naturalSpanUs : 1;
  const spanUs = Math.floor(naturalSpanUs * scale);
  const startUs = rng.int(0, windowUs - 1 - spanUs);
  return drafts.map(
    (draft) => ({ ...draft.packet, timestampMs: startMs + (startUs + Math.floor(draft.offsetUs * scale)) / 1000 }) as PacketSpec,
  );
}
