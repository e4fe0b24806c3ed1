/**
 * Test helper: a FlowBatch from a few readable rows (addresses as text, counters as
 * numbers), for the attribution tests (batch-attributor.test.ts, attributed-records.test.ts).
 */
import { parseIpv4, parseIpv6 } from '@flowbill/shared/ip/index';
import { FlowBatch } from '../../decoder/batch.js';

export interface FlowRowSpec {
  /** IPv4 or IPv6 text; the row's ipVersion follows `src`. */
  src: string;
  dst: string;
  bytes?: number;
  packets?: number;
  /** High 32 bits of the counters (default 0). */
  bytesHi?: number;
  packetsHi?: number;
  rate?: number;
  start?: number;
  end?: number;
  exporter?: number;
  flags?: number;
}

/** Values for what a row leaves out (bytes 1000, packets 10, rate 1, flags 0 otherwise). */
export interface FlowRowDefaults {
  start: number;
  end: number;
  exporter: number;
}

export function batchOfRows(rows: readonly FlowRowSpec[], defaults: FlowRowDefaults): FlowBatch {
  const batch = new FlowBatch(Math.max(16, rows.length));
  for (const spec of rows) {
    const i = batch.claim();
    if (spec.src.includes(':')) {
      batch.ipVersion[i] = 6;
      batch.srcAddr6.set(parseIpv6(spec.src), i * 16);
      batch.dstAddr6.set(parseIpv6(spec.dst), i * 16);
    } else {
      batch.ipVersion[i] = 4;
      batch.srcAddr4[i] = parseIpv4(spec.src);
      batch.dstAddr4[i] = parseIpv4(spec.dst);
    }
    batch.bytesHi[i] = spec.bytesHi ?? 0;
    batch.bytesLo[i] = spec.bytes ?? 1000;
    batch.packetsHi[i] = spec.packetsHi ?? 0;
    batch.packetsLo[i] = spec.packets ?? 10;
    batch.samplingRate[i] = spec.rate ?? 1;
    batch.start[i] = spec.start ?? defaults.start;
    batch.end[i] = spec.end ?? defaults.end;
    batch.exporterId[i] = spec.exporter ?? defaults.exporter;
    batch.flags[i] = spec.flags ?? 0;
  }
  return batch;
}
