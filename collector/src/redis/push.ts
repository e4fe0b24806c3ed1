/**
 * A push: one atomic, idempotent application of usage entries to Redis, identified by
 * (collectorId, runId, seq). Built once when sealed and then resent unchanged until Redis
 * acknowledges it, so a retry is byte-for-byte the same push.
 *
 * Per minute, a push is a block of text lines (see `usageLine`), one per entry, that the
 * push script APPENDs to the minute's string; nothing is summed in Redis, the flusher sums
 * the lines of a row. This is the collector's hot path (one call per push with tens of
 * thousands of entries), so the lines are written as bytes straight into one growing Buffer
 * per minute: building a string per line and joining them cost about 3x as much here
 * (rope strings to flatten, number -> text conversions, young-generation garbage). The UTC
 * day is looked up once per minute, and accepted totals are summed in numbers (bigint only
 * past 2^53 - 1).
 */
import type { UsageEntry } from '../aggregation/index.js';
import { acceptedField, utcDay } from './keys.js';

export interface PushId {
  readonly collectorId: string;
  /** Random per sink instance, so a restarted collector's seqs never collide with its last run's. */
  readonly runId: string;
  /** Strictly increasing within a run; pushes of a run are applied in seq order. */
  readonly seq: number;
}

export interface Push {
  readonly id: PushId;
  /**
   * Minute (epoch s) -> the text (UTF-8) appended to its minute string: one `usageLine` +
   * `\n` per entry whose counters are not all 0. Minutes without such an entry are absent.
   */
  readonly minutes: ReadonlyMap<number, Buffer>;
  /** Accepted field -> increment: the same entries summed per exporter and UTC day; only non-zero increments. */
  readonly accepted: ReadonlyMap<string, bigint>;
  /** The entries it was built from (reported if the push is refused). */
  readonly entries: readonly UsageEntry[];
}

/** Per exporter and day, exact: the number fields while a sum stays a safe integer, the rest in the big* fields. */
interface AcceptedSum {
  bytes: number;
  packets: number;
  flows: number;
  bigBytes: bigint;
  bigPackets: bigint;
  bigFlows: bigint;
}

interface MinuteText {
  /** Lines written so far: bytes [0, length) of `buffer`. */
  buffer: Buffer;
  length: number;
  /** Exporter -> sum, shared by every minute of the same UTC day. */
  readonly exporters: Map<string, AcceptedSum>;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;
const TAB = 0x09;
const NEWLINE = 0x0a;
/** Bytes of a line besides its four text parts, with safe-integer counters: 3 x 16 digits + 7 separators. */
const LINE_OVERHEAD = 55;
const INITIAL_MINUTE_BYTES = 64 * 1024;

/** Entries -> per-minute text lines + per-exporter-and-day accepted increments. */
export function buildPush(id: PushId, entries: readonly UsageEntry[]): Push {
  const byMinute = new Map<number, MinuteText>();
  const byDay = new Map<string, Map<string, AcceptedSum>>();
  let lastMinute = Number.NaN;
  let minute: MinuteText | undefined;
  let lastExporter = '';
  let sum: AcceptedSum | undefined;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    // Number(bigint) is exact exactly when the result is a safe integer; numbers sum without allocating.
    const b = Number(e.bytes);
    const p = Number(e.packets);
    const f = Number(e.flows);
    if (b === 0 && p === 0 && f === 0) continue;
    if (b < 0 || p < 0 || f < 0) {
      // A line the flusher cannot parse would hold its whole batch back; the sink refuses these before.
      throw new RangeError(`usage counters must not be negative: ${e.subscriberId} ${e.minute} ${e.bytes}/${e.packets}/${e.flows}`);
    }
    if (e.minute !== lastMinute || minute === undefined) {
      minute = byMinute.get(e.minute);
      if (minute === undefined) {
        const day = utcDay(e.minute);
        let exporters = byDay.get(day);
        if (exporters === undefined) {
          exporters = new Map();
          byDay.set(day, exporters);
        }
        minute = { buffer: Buffer.allocUnsafe(INITIAL_MINUTE_BYTES), length: 0, exporters };
        byMinute.set(e.minute, minute);
      }
      lastMinute = e.minute;
      sum = undefined;
    }
    if (sum === undefined || e.exporter !== lastExporter) {
      sum = minute.exporters.get(e.exporter);
      if (sum === undefined) {
        sum = { bytes: 0, packets: 0, flows: 0, bigBytes: 0n, bigPackets: 0n, bigFlows: 0n };
        minute.exporters.set(e.exporter, sum);
      }
      lastExporter = e.exporter;
    }

    const subscriberId = e.subscriberId;
    const address = e.address;
    const direction = e.direction;
    const trafficClass = e.trafficClass;
    const exact = b <= MAX_SAFE && p <= MAX_SAFE && f <= MAX_SAFE;
    const counters = exact ? '' : `${e.bytes}\t${e.packets}\t${e.flows}`;
    // UTF-8 takes at most 3 bytes per UTF-16 code unit (a surrogate pair: 4 for 2).
    const room = 3 * (subscriberId.length + address.length + direction.length + trafficClass.length) + LINE_OVERHEAD + counters.length;
    if (minute.length + room > minute.buffer.length) grow(minute, room);
    const buffer = minute.buffer;
    let at = putText(buffer, minute.length, subscriberId);
    buffer[at++] = TAB;
    at = putText(buffer, at, address);
    buffer[at++] = TAB;
    at = putText(buffer, at, direction);
    buffer[at++] = TAB;
    at = putText(buffer, at, trafficClass);
    buffer[at++] = TAB;
    if (exact) {
      at = putUint(buffer, at, b);
      buffer[at++] = TAB;
      at = putUint(buffer, at, p);
      buffer[at++] = TAB;
      at = putUint(buffer, at, f);
    } else {
      at = putText(buffer, at, counters);
    }
    buffer[at++] = NEWLINE;
    minute.length = at;

    if (b <= MAX_SAFE && sum.bytes <= MAX_SAFE - b) sum.bytes += b;
    else sum.bigBytes += e.bytes;
    if (p <= MAX_SAFE && sum.packets <= MAX_SAFE - p) sum.packets += p;
    else sum.bigPackets += e.packets;
    if (f <= MAX_SAFE && sum.flows <= MAX_SAFE - f) sum.flows += f;
    else sum.bigFlows += e.flows;
  }

  const minutes = new Map<number, Buffer>();
  for (const [at, text] of byMinute) minutes.set(at, text.buffer.subarray(0, text.length));
  const accepted = new Map<string, bigint>();
  for (const [day, exporters] of byDay) {
    for (const [exporter, s] of exporters) {
      setNonZero(accepted, acceptedField(exporter, day, 'bytes'), BigInt(s.bytes) + s.bigBytes);
      setNonZero(accepted, acceptedField(exporter, day, 'packets'), BigInt(s.packets) + s.bigPackets);
      setNonZero(accepted, acceptedField(exporter, day, 'flows'), BigInt(s.flows) + s.bigFlows);
    }
  }
  return { id, minutes, accepted, entries };
}

function grow(minute: MinuteText, room: number): void {
  const buffer = Buffer.allocUnsafe(Math.max(2 * minute.buffer.length, minute.length + room));
  minute.buffer.copy(buffer, 0, 0, minute.length);
  minute.buffer = buffer;
}

/** Write `text` as UTF-8 at `at` (the caller made room); returns the end. ASCII byte by byte, the rest through Buffer.write. */
function putText(buffer: Buffer, at: number, text: string): number {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return at + i + buffer.write(text.slice(i), at + i, 'utf8');
    buffer[at + i] = c;
  }
  return at + n;
}

/** Write a safe non-negative integer in decimal at `at`; returns the end. */
function putUint(buffer: Buffer, at: number, value: number): number {
  let end = at + 1;
  for (let power = 10; power <= value; power *= 10) end++;
  // Math.floor(v / 10) is exact for every safe integer v (the quotient's error stays far from an integer).
  let v = value;
  for (let i = end - 1; i > at; i--) {
    const q = Math.floor(v / 10);
    buffer[i] = 48 + (v - q * 10);
    v = q;
  }
  buffer[at] = 48 + v;
  return end;
}

function setNonZero(map: Map<string, bigint>, field: string, value: bigint): void {
  if (value !== 0n) map.set(field, value);
}
