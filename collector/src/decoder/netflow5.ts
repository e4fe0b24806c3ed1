/**
 * NetFlow v1, v5 and v7: fixed-layout records, no templates.
 *
 * v5 header (24 bytes): version, count, sysUptime, unix_secs, unix_nsecs, flow_sequence,
 * engine_type, engine_id, sampling_interval (top 2 bits mode, low 14 bits interval;
 * 0 = unsampled). Records are 48 bytes (v1, v5) or 52 bytes (v7).
 * The observation domain of v5 is engine_type << 8 | engine_id.
 */
import type { FlowBatch } from './batch.js';
import { FlowFlag } from './batch.js';
import { countError } from './stats.js';
import type { DomainState, ExporterState } from './state.js';
import type { DecodeContext } from './template.js';

export type DomainLookup = (ex: ExporterState, version: number, observationDomain: number) => DomainState;

interface Layout {
  version: number;
  header: number;
  record: number;
  /** Offsets inside a record. */
  tcpFlags: number;
  protocol: number;
  tos: number;
  /** -1 when the version has no AS/mask fields. */
  srcAs: number;
}

const V1: Layout = { version: 1, header: 16, record: 48, tcpFlags: 40, protocol: 38, tos: 39, srcAs: -1 };
const V5: Layout = { version: 5, header: 24, record: 48, tcpFlags: 37, protocol: 38, tos: 39, srcAs: 40 };
const V7: Layout = { version: 7, header: 24, record: 52, tcpFlags: 37, protocol: 38, tos: 39, srcAs: 40 };

/** Largest record count the v5 format allows in one message. */
const MAX_V5_COUNT = 30;

export function decodeNetflowV1(msg: Uint8Array, ex: ExporterState, ctx: DecodeContext, domainOf: DomainLookup): number {
  return decodeFixed(V1, msg, ex, ctx, domainOf);
}
export function decodeNetflowV5(msg: Uint8Array, ex: ExporterState, ctx: DecodeContext, domainOf: DomainLookup): number {
  return decodeFixed(V5, msg, ex, ctx, domainOf);
}
export function decodeNetflowV7(msg: Uint8Array, ex: ExporterState, ctx: DecodeContext, domainOf: DomainLookup): number {
  return decodeFixed(V7, msg, ex, ctx, domainOf);
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}
function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

function decodeFixed(L: Layout, msg: Uint8Array, ex: ExporterState, ctx: DecodeContext, domainOf: DomainLookup): number {
  if (msg.length < L.header) {
    countError(ex.stats, 'short-message');
    return 0;
  }
  const count = u16(msg, 2);
  const sysUptime = u32(msg, 4);
  const unixSecs = u32(msg, 8);
  const unixNsecs = u32(msg, 12);
  const exportMs = unixSecs * 1000 + Math.floor(unixNsecs / 1e6);
  const sequence = L.version === 1 ? 0 : u32(msg, 16);
  const observationDomain = L.version === 5 ? u16(msg, 20) : 0;
  if (count === 0 || count > MAX_V5_COUNT) countError(ex.stats, 'v5-bad-count');
  const fits = Math.floor((msg.length - L.header) / L.record);
  let n = Math.min(count, fits);
  if (count > fits) countError(ex.stats, 'v5-truncated');
  const used = L.header + n * L.record;
  if (msg.length > used && count <= fits) ex.stats.trailingBytes += msg.length - used;

  const d = domainOf(ex, L.version, observationDomain);
  if (L.version !== 1 && d.sequence.detectRestart(sequence, sysUptime)) ex.stats.restarts++;

  let rate = 1;
  let rateFlags = 0;
  if (ex.overrideRate > 0) {
    rate = ex.overrideRate;
    rateFlags = FlowFlag.RateOverride;
  } else if (L.version === 5) {
    // Top two bits are the sampling mode; the interval is the low 14 bits.
    const interval = u16(msg, 22) & 0x3fff;
    if (interval > 0) rate = interval;
    d.defaultRate = interval;
  }
  d.sentData = true;

  const b: FlowBatch = ctx.batch;
  const exporterId = ex.info.id;
  // DataView reads compile to single big-endian loads; byte-by-byte assembly is ~2x slower.
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  let p = L.header;
  for (let r = 0; r < n; r++, p += L.record) {
    if (b.length >= b.capacity) ctx.emit();
    const i = b.length++;
    b.version[i] = L.version;
    b.exporterId[i] = exporterId;
    b.observationDomain[i] = observationDomain;
    b.ipVersion[i] = 4;
    b.srcAddr4[i] = dv.getUint32(p);
    b.dstAddr4[i] = dv.getUint32(p + 4);
    b.nextHop4[i] = dv.getUint32(p + 8);
    b.inputIf[i] = dv.getUint16(p + 12);
    b.outputIf[i] = dv.getUint16(p + 14);
    b.packetsHi[i] = 0;
    b.packetsLo[i] = dv.getUint32(p + 16);
    b.bytesHi[i] = 0;
    b.bytesLo[i] = dv.getUint32(p + 20);
    // first/last are sysUptime ms: signed 32-bit difference survives the 49.7-day wrap.
    b.start[i] = exportMs - ((sysUptime - dv.getUint32(p + 24)) | 0);
    b.end[i] = exportMs - ((sysUptime - dv.getUint32(p + 28)) | 0);
    b.exportTime[i] = exportMs;
    const srcPort = dv.getUint16(p + 32);
    const dstPort = dv.getUint16(p + 34);
    b.srcPort[i] = srcPort;
    b.dstPort[i] = dstPort;
    const protocol = msg[p + L.protocol];
    b.protocol[i] = protocol;
    b.tcpFlags[i] = msg[p + L.tcpFlags];
    b.tos[i] = msg[p + L.tos];
    b.icmpTypeCode[i] = protocol === 1 ? dstPort : 0;
    if (L.srcAs >= 0) {
      b.srcAs[i] = dv.getUint16(p + L.srcAs);
      b.dstAs[i] = dv.getUint16(p + L.srcAs + 2);
      b.srcMask[i] = msg[p + L.srcAs + 4];
      b.dstMask[i] = msg[p + L.srcAs + 5];
    } else {
      b.srcAs[i] = 0;
      b.dstAs[i] = 0;
      b.srcMask[i] = 0;
      b.dstMask[i] = 0;
    }
    b.direction[i] = 255;
    b.samplingRate[i] = rate;
    b.samplerId[i] = 0;
    b.postNatSrcAddr4[i] = 0;
    b.postNatDstAddr4[i] = 0;
    b.postNatSrcPort[i] = 0;
    b.postNatDstPort[i] = 0;
    b.flags[i] = rateFlags;
  }
  if (L.version !== 1) {
    const verdict = d.sequence.observe(sequence, count > fits ? n : count);
    ex.stats.sequenceLost += verdict.lost;
    if (verdict.outOfOrder) ex.stats.sequenceOutOfOrder++;
  }
  n = Math.max(n, 0);
  return n;
}
