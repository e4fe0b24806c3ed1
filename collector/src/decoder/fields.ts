/**
 * Information element ids the decoder understands (IANA IPFIX registry; ids 1-127 are
 * shared with NetFlow v9, RFC 3954). Everything else is skipped by its length.
 * The ids are checked against the IANA table in shared/mission by fields.test.ts.
 */
export const IE = {
  octetDeltaCount: 1,
  packetDeltaCount: 2,
  protocolIdentifier: 4,
  ipClassOfService: 5,
  tcpControlBits: 6,
  sourceTransportPort: 7,
  sourceIPv4Address: 8,
  sourceIPv4PrefixLength: 9,
  ingressInterface: 10,
  destinationTransportPort: 11,
  destinationIPv4Address: 12,
  destinationIPv4PrefixLength: 13,
  egressInterface: 14,
  ipNextHopIPv4Address: 15,
  bgpSourceAsNumber: 16,
  bgpDestinationAsNumber: 17,
  bgpNextHopIPv4Address: 18,
  flowEndSysUpTime: 21,
  flowStartSysUpTime: 22,
  postOctetDeltaCount: 23,
  postPacketDeltaCount: 24,
  sourceIPv6Address: 27,
  destinationIPv6Address: 28,
  sourceIPv6PrefixLength: 29,
  destinationIPv6PrefixLength: 30,
  icmpTypeCodeIPv4: 32,
  /** NetFlow v9 SAMPLING_INTERVAL (RFC 3954; IANA reserves the id). */
  samplingInterval: 34,
  samplingAlgorithm: 35,
  /** NetFlow v9 FLOW_SAMPLER_ID. */
  samplerId: 48,
  samplerMode: 49,
  samplerRandomInterval: 50,
  flowDirection: 61,
  ipNextHopIPv6Address: 62,
  bgpNextHopIPv6Address: 63,
  octetTotalCount: 85,
  packetTotalCount: 86,
  icmpTypeCodeIPv6: 139,
  flowStartSeconds: 150,
  flowEndSeconds: 151,
  flowStartMilliseconds: 152,
  flowEndMilliseconds: 153,
  flowStartMicroseconds: 154,
  flowEndMicroseconds: 155,
  flowStartNanoseconds: 156,
  flowEndNanoseconds: 157,
  flowStartDeltaMicroseconds: 158,
  flowEndDeltaMicroseconds: 159,
  systemInitTimeMilliseconds: 160,
  flowDurationMilliseconds: 161,
  flowDurationMicroseconds: 162,
  icmpTypeIPv4: 176,
  icmpCodeIPv4: 177,
  icmpTypeIPv6: 178,
  icmpCodeIPv6: 179,
  postNATSourceIPv4Address: 225,
  postNATDestinationIPv4Address: 226,
  postNAPTSourceTransportPort: 227,
  postNAPTDestinationTransportPort: 228,
  ipTotalLength: 224,
  natEvent: 230,
  initiatorOctets: 231,
  responderOctets: 232,
  ingressPhysicalInterface: 252,
  egressPhysicalInterface: 253,
  initiatorPackets: 298,
  responderPackets: 299,
  selectorId: 302,
  samplingPacketInterval: 305,
  samplingPacketSpace: 306,
  samplingSize: 309,
  samplingPopulation: 310,
  dataLinkFrameSize: 312,
} as const;

/** RFC 5103: reverse-direction elements are the forward ids under this enterprise number. */
export const REVERSE_PEN = 29305;

/** IPFIX/v9 variable-length marker in a template field length. */
export const VARLEN = 65535;

/** Seconds between the NTP epoch (1900) and the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_S = 2208988800;
