/**
 * One decoded flow record as a JSON line. Counters are written as exact integers even
 * above 2^53 (JSON allows any length of digits; JSON.parse in JS would round them, jq
 * and Python do not).
 */
import {
  FlowFlag,
  bytesOf,
  dstAddrString,
  nextHopString,
  packetsOf,
  srcAddrString,
  ipv4ToString,
  type ExporterInfo,
  type FlowBatch,
} from '../decoder/index.js';

const FLAG_NAMES: [number, string][] = [
  [FlowFlag.Reverse, 'reverse'],
  [FlowFlag.RateUnknown, 'rate-unknown'],
  [FlowFlag.NoCounters, 'no-counters'],
  [FlowFlag.TimeFromExport, 'time-from-export'],
  [FlowFlag.FromPending, 'from-pending'],
  [FlowFlag.RateOverride, 'rate-override'],
];

export function flagNames(flags: number): string[] {
  return FLAG_NAMES.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

function isoTime(ms: number): string {
  return Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : 'invalid';
}

/** JSON text of row i. */
export function flowRecordJson(b: FlowBatch, i: number, exporter: ExporterInfo): string {
  const bytes = bytesOf(b, i);
  const packets = packetsOf(b, i);
  const rate = BigInt(b.samplingRate[i]);
  const fields: string[] = [
    `"version":${b.version[i]}`,
    `"exporter":${JSON.stringify(exporter.key)}`,
    `"observationDomain":${b.observationDomain[i]}`,
    `"srcAddr":${JSON.stringify(srcAddrString(b, i))}`,
    `"dstAddr":${JSON.stringify(dstAddrString(b, i))}`,
    `"srcPort":${b.srcPort[i]}`,
    `"dstPort":${b.dstPort[i]}`,
    `"protocol":${b.protocol[i]}`,
    `"bytes":${bytes}`,
    `"packets":${packets}`,
    `"samplingRate":${b.samplingRate[i]}`,
    `"scaledBytes":${bytes * rate}`,
    `"scaledPackets":${packets * rate}`,
    `"start":${JSON.stringify(isoTime(b.start[i]))}`,
    `"end":${JSON.stringify(isoTime(b.end[i]))}`,
    `"inputIf":${b.inputIf[i]}`,
    `"outputIf":${b.outputIf[i]}`,
    `"nextHop":${JSON.stringify(nextHopString(b, i))}`,
    `"srcAs":${b.srcAs[i]}`,
    `"dstAs":${b.dstAs[i]}`,
    `"srcMask":${b.srcMask[i]}`,
    `"dstMask":${b.dstMask[i]}`,
    `"tcpFlags":${b.tcpFlags[i]}`,
    `"tos":${b.tos[i]}`,
  ];
  if (b.protocol[i] === 1 || b.protocol[i] === 58) fields.push(`"icmpType":${b.icmpTypeCode[i] >>> 8}`, `"icmpCode":${b.icmpTypeCode[i] & 255}`);
  if (b.direction[i] !== 255) fields.push(`"flowDirection":${JSON.stringify(b.direction[i] === 0 ? 'ingress' : 'egress')}`);
  if (b.samplerId[i] !== 0) fields.push(`"samplerId":${b.samplerId[i]}`);
  if (b.postNatSrcAddr4[i] !== 0 || b.postNatSrcPort[i] !== 0) {
    fields.push(`"postNatSrcAddr":"${ipv4ToString(b.postNatSrcAddr4[i])}"`, `"postNatSrcPort":${b.postNatSrcPort[i]}`);
  }
  if (b.postNatDstAddr4[i] !== 0 || b.postNatDstPort[i] !== 0) {
    fields.push(`"postNatDstAddr":"${ipv4ToString(b.postNatDstAddr4[i])}"`, `"postNatDstPort":${b.postNatDstPort[i]}`);
  }
  const flags = flagNames(b.flags[i]);
  if (flags.length > 0) fields.push(`"flags":${JSON.stringify(flags)}`);
  return `{${fields.join(',')}}`;
}
