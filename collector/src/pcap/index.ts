/** Public API of the pcap module: see README.md in this folder. */
export {
  parsePcap,
  readPcapFile,
  streamPcapFile,
  PcapFileStream,
  type PcapFileDamage,
  type PcapReadOptions,
  type PcapReadResult,
  type PcapReadStats,
  type PcapStreamOptions,
  type SkippedFrame,
  type UdpDatagram,
} from './reader.js';
export { decodeUdpFrame, SKIP_REASONS, type DecodedUdp, type FrameDecodeResult, type SkipReason } from './frame-decoder.js';
export {
  LinkType,
  PcapFormatError,
  type ByteOrder,
  type PcapFileHeader,
  type TimestampResolution,
} from './pcap-format.js';
export {
  encodePacketsPcap,
  encodePcap,
  encodeUdpDatagramsPcap,
  ethernetFramesForPackets,
  PcapWriter,
  writePacketsPcap,
  writePcapFile,
  writeUdpDatagramsPcap,
  type PcapFrame,
  type PcapWriterOptions,
  type UdpDatagramSpec,
} from './writer.js';
export {
  buildEthernetFrame,
  buildIpPacket,
  IcmpEcho,
  ipPacketLength,
  ipProtocolNumber,
  IpProtocol,
  TcpFlag,
  type EthernetOptions,
  type IcmpPacketSpec,
  type PacketSpec,
  type TcpPacketSpec,
  type UdpPacketSpec,
} from './packet-builder.js';
export {
  generateSyntheticTraffic,
  summarizePackets,
  type AddressTotal,
  type ConversationKind,
  type DirectionTotal,
  type SyntheticConversation,
  type SyntheticTraffic,
  type SyntheticTrafficOptions,
  type TrafficTotals,
} from './synthetic.js';
export { mulberry32, SeededRandom } from './prng.js';
export { canonicalAddress, parseAddress, type IpFamily, type ParsedAddress } from './address-text.js';
