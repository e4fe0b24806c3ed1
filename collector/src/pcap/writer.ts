/**
 * Write classic pcap files: raw frames, IP packets (TCP/UDP/ICMP) or UDP datagrams.
 *
 * Files are little-endian, microsecond resolution, version 2.4 — the format every tool
 * (tshark, tcpdump, softflowd via libpcap) reads. Timestamps are rounded to the microsecond.
 * The output depends only on the input: IPv4 IDs count up from 1 per file.
 */
import { writeFileSync } from 'node:fs';

import { buildEthernetFrame, buildIpPacket, type EthernetOptions, type PacketSpec } from './packet-builder.js';
import { encodeGlobalHeader, encodeRecordHeader, LinkType } from './pcap-format.js';

export interface PcapFrame {
  readonly timestampMs: number;
  /** The frame's bytes from the link-layer header on. */
  readonly data: Uint8Array;
  /** Length on the wire when `data` was cut short; `data.length` when omitted. */
  readonly originalLength?: number;
}

export interface PcapWriterOptions {
  /** LinkType.Ethernet when omitted. */
  readonly linkType?: number;
  /** Frames longer than this are cut to it, as a capture with this snap length would; 262144 when omitted. */
  readonly snapLength?: number;
}

/** A UDP datagram to wrap in Ethernet/IP/UDP; the reader's UdpDatagram fits this shape. */
export interface UdpDatagramSpec {
  readonly timestampMs: number;
  readonly srcAddress: string;
  readonly srcPort: number;
  readonly dstAddress: string;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

const DEFAULT_SNAP_LENGTH = 262_144;

/** Collects frames in memory and renders the whole file. */
export class PcapWriter {
  private readonly chunks: Uint8Array[] = [];
  private readonly snapLength: number;
  private frames = 0;

  constructor(options: PcapWriterOptions = {}) {
    this.snapLength = options.snapLength ?? DEFAULT_SNAP_LENGTH;
    this.chunks.push(encodeGlobalHeader({ linkType: options.linkType ?? LinkType.Ethernet, snapLength: this.snapLength }));
  }

  get frameCount(): number {
    return this.frames;
  }

  addFrame(frame: PcapFrame): void {
    const captured = frame.data.length > this.snapLength ? frame.data.subarray(0, this.snapLength) : frame.data;
    const originalLength = frame.originalLength ?? frame.data.length;
    this.chunks.push(encodeRecordHeader(frame.timestampMs, captured.length, originalLength), captured);
    this.frames += 1;
  }

  toBytes(): Uint8Array {
    const total = this.chunks.reduce((sum, chunk) => sum + chunk.length, 0);
    const bytes = new Uint8Array(total);
    let at = 0;
    for (const chunk of this.chunks) {
      bytes.set(chunk, at);
      at += chunk.length;
    }
    return bytes;
  }

  writeFile(path: string): void {
    writeFileSync(path, this.toBytes());
  }
}

export function encodePcap(frames: Iterable<PcapFrame>, options: PcapWriterOptions = {}): Uint8Array {
  const writer = new PcapWriter(options);
  for (const frame of frames) writer.addFrame(frame);
  return writer.toBytes();
}

export function writePcapFile(path: string, frames: Iterable<PcapFrame>, options: PcapWriterOptions = {}): void {
  writeFileSync(path, encodePcap(frames, options));
}

/** Ethernet frames for IP packets, in the order given (pcap files are expected in time order). */
export function* ethernetFramesForPackets(
  packets: Iterable<PacketSpec>,
  ethernet: EthernetOptions = {},
): Generator<PcapFrame> {
  let ipv4Identification = 0;
  for (const packet of packets) {
    ipv4Identification = (ipv4Identification + 1) & 0xffff;
    const ipPacket = buildIpPacket(packet, ipv4Identification);
    yield { timestampMs: packet.timestampMs, data: buildEthernetFrame(ipPacket, ethernet) };
  }
}

/** A pcap (Ethernet link type) of TCP/UDP/ICMP packets. */
export function encodePacketsPcap(packets: Iterable<PacketSpec>, ethernet: EthernetOptions = {}): Uint8Array {
  return encodePcap(ethernetFramesForPackets(packets, ethernet));
}

export function writePacketsPcap(path: string, packets: Iterable<PacketSpec>, ethernet: EthernetOptions = {}): void {
  writeFileSync(path, encodePacketsPcap(packets, ethernet));
}

function* udpPacketSpecs(datagrams: Iterable<UdpDatagramSpec>): Generator<PacketSpec> {
  for (const datagram of datagrams) {
    yield {
      protocol: 'udp',
      timestampMs: datagram.timestampMs,
      srcAddress: datagram.srcAddress,
      srcPort: datagram.srcPort,
      dstAddress: datagram.dstAddress,
      dstPort: datagram.dstPort,
      payload: datagram.payload,
    };
  }
}

/** A pcap (Ethernet link type) of UDP datagrams, e.g. received NetFlow payloads for tshark to decode. */
export function encodeUdpDatagramsPcap(datagrams: Iterable<UdpDatagramSpec>, ethernet: EthernetOptions = {}): Uint8Array {
  return encodePacketsPcap(udpPacketSpecs(datagrams), ethernet);
}

export function writeUdpDatagramsPcap(
  path: string,
  datagrams: Iterable<UdpDatagramSpec>,
  ethernet: EthernetOptions = {},
): void {
  writeFileSync(path, encodeUdpDatagramsPcap(datagrams, ethernet));
}
