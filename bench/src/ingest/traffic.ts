/**
 * The synthetic traffic of the ingestion benchmark: NetFlow v9 export messages of exactly
 * 25 records (typical 18-field IPv4 template, 1,549 bytes each), built with the collector's
 * message builder from a seed, and the subscribers those records belong to.
 *
 * Every record has exactly one subscriber end (half downloads: external source ->
 * subscriber; half uploads: subscriber -> external destination), so a collector that
 * attributes everything accounts one flow per record, and the sum of the records' bytes.
 * Subscribers are `bench-00001`... holding one /32 each in 100.64.0.0/10 (CGNAT space);
 * the external ends are drawn from 198.18.0.0/15 (the benchmarking range), which no
 * subscriber holds.
 *
 * Times: every message carries the same sysUptime (SYS_UPTIME) and records start 0-65 s
 * before it; the sender rewrites the header's unixSecs to the wall clock at send time, so
 * flows are "now" for every collector, spanning one or two minutes as real ones do.
 */
import { seededRandom, TYPICAL_V9_IPV4_FIELDS, v9Message, type FieldValue } from '@flowbill/collector/decoder/testing/message-builder';

export const RECORDS_PER_MESSAGE = 25;
export const TEMPLATE_ID = 256;
/** sysUptime of every message (ms): about 11.6 days, constant, so no decoder sees a reboot. */
export const SYS_UPTIME = 1_000_000_000;
/** Header offsets (NetFlow v9): unixSecs at 8, sequence at 12, source id at 16. */
export const V9_UNIX_SECS_OFFSET = 8;
export const V9_SEQUENCE_OFFSET = 12;

export const SUBSCRIBER_BASE = (100 << 24) | (64 << 16); // 100.64.0.0, as a signed int; use >>> 0
const EXTERNAL_BASE = (198 << 24) | (18 << 16); // 198.18.0.0/15

export interface BenchSubscriber {
  id: string;
  /** The /32 it holds, as an address text. */
  address: string;
}

/** `count` subscribers with one /32 each: 100.64.0.1, 100.64.0.2, ... */
export function benchSubscribers(count: number): BenchSubscriber[] {
  const out: BenchSubscriber[] = [];
  for (let k = 0; k < count; k++) out.push({ id: `bench-${String(k + 1).padStart(5, '0')}`, address: ipv4Text((SUBSCRIBER_BASE + k + 1) >>> 0) });
  return out;
}

/** CSV for importAssignmentsCsv (collector/src/subscribers/csv-import.ts). */
export function subscribersCsv(subscribers: readonly BenchSubscriber[], validFrom: Date): string {
  const lines = ['subscriber_id,name,prefix,valid_from'];
  const from = validFrom.toISOString();
  for (const s of subscribers) lines.push(`${s.id},Bench ${s.id},${s.address}/32,${from}`);
  return `${lines.join('\n')}\n`;
}

export interface BenchTraffic {
  /** The template message (its sequence and unixSecs are rewritten at send time too). */
  template: Buffer;
  /** Data messages, RECORDS_PER_MESSAGE records each. */
  messages: Buffer[];
  /** Sum of the records' octets per message (same order). */
  bytesPerMessage: number[];
  /** Sum of the records' packets per message. */
  packetsPerMessage: number[];
}

export interface TrafficOptions {
  /** Distinct messages to cycle through (default 1024). */
  messages?: number;
  /** Subscribers the records hit (default 10,000); must match what the collector loaded. */
  subscribers?: number;
  seed?: number;
  /** NetFlow v9 source id (one per sender, so sequence tracking is per sender). */
  sourceId?: number;
}

/** Build the messages one sender cycles through. */
export function buildTraffic(options: TrafficOptions = {}): BenchTraffic {
  const count = options.messages ?? 1024;
  const subscribers = options.subscribers ?? 10_000;
  const sourceId = options.sourceId ?? 1;
  const rand = seededRandom(options.seed ?? 1);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const header = { sysUptime: SYS_UPTIME, unixSecs: 1_700_000_000, sequence: 0, sourceId };
  const template = Buffer.from(v9Message(header, [{ kind: 'template', templates: [{ id: TEMPLATE_ID, fields: TYPICAL_V9_IPV4_FIELDS }] }]));
  const messages: Buffer[] = [];
  const bytesPerMessage: number[] = [];
  const packetsPerMessage: number[] = [];
  for (let m = 0; m < count; m++) {
    const records: FieldValue[][] = [];
    let bytesSum = 0;
    let packetsSum = 0;
    for (let k = 0; k < RECORDS_PER_MESSAGE; k++) {
      const subscriber = ipv4Text((SUBSCRIBER_BASE + 1 + int(0, subscribers - 1)) >>> 0);
      const external = ipv4Text((EXTERNAL_BASE + int(1, 131_070)) >>> 0);
      const download = rand() < 0.5;
      const packets = int(1, 1000);
      const bytes = packets * int(40, 1500);
      const last = SYS_UPTIME - int(0, 5000);
      const first = last - int(0, 60_000);
      bytesSum += bytes;
      packetsSum += packets;
      records.push([
        download ? external : subscriber,
        download ? subscriber : external,
        '100.127.255.254',
        download ? 443 : int(1024, 65535),
        download ? int(1024, 65535) : 443,
        rand() < 0.8 ? 6 : 17,
        0,
        0x18,
        int(1, 64),
        int(1, 64),
        BigInt(bytes),
        BigInt(packets),
        first >>> 0,
        last >>> 0,
        download ? int(1, 65000) : 64512,
        download ? 64512 : int(1, 65000),
        download ? 24 : 32,
        download ? 32 : 24,
      ]);
    }
    messages.push(Buffer.from(v9Message(header, [{ kind: 'data', templateId: TEMPLATE_ID, fields: TYPICAL_V9_IPV4_FIELDS, records }])));
    bytesPerMessage.push(bytesSum);
    packetsPerMessage.push(packetsSum);
  }
  return { template, messages, bytesPerMessage, packetsPerMessage };
}

function ipv4Text(value: number): string {
  return `${value >>> 24}.${(value >>> 16) & 255}.${(value >>> 8) & 255}.${value & 255}`;
}
