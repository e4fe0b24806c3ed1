import { FixedOffsetZone, IANAZone, Info, type Zone } from 'luxon';

/**
 * UTC offsets of a zone as a table of constant stretches, so that mapping an
 * instant to its wall clock costs a lookup and some integer arithmetic instead
 * of an `Intl` call per instant (luxon asks `Intl.DateTimeFormat` for every
 * `DateTime.fromMillis`, about 6 µs each; rating a month of hourly usage asks
 * thousands of times per subscriber for the same few offsets).
 *
 * The table is exact with respect to luxon: every offset in it is luxon's own
 * `zone.offset(ts)`, the function `DateTime.fromMillis(ts, { zone })` uses, and
 * every change of offset is located to the millisecond by bisection. It is
 * built lazily per zone in week-long chunks: the offset is sampled every 15
 * minutes and, wherever two samples differ, the instant of the change is
 * searched. The one thing sampling cannot see is an offset that changes and
 * changes back within 15 minutes; no zone in the tz database does that (offset
 * changes are weeks apart everywhere, see bench/RESULTS.md).
 *
 * Only zones whose offsets cannot change while the process runs get a table:
 * IANA zones and fixed offsets. "local"/"system" (the process's TZ, which can
 * be reassigned) and "default" (luxon's Settings.defaultZone) return null, and
 * callers then go through luxon as before.
 */

const MINUTE = 60_000;
const DAY = 86_400_000;
const CHUNK = 7 * DAY;
const SAMPLE_STEP = 15 * MINUTE;
/** luxon refuses instants beyond ±8.64e15 ms; keep a margin so a chunk and its local times stay inside. */
const FAST_LIMIT = 8.64e15 - 4 * CHUNK;
/** Chunks kept per zone before the cache starts over (about 40 years of weeks). */
const MAX_CHUNKS = 2_000;

interface OffsetChunk {
  start: number;
  end: number;
  /** offsets[i] holds from bounds[i - 1] (or start) to bounds[i] (or end), in minutes as luxon returns them. */
  offsets: number[];
  bounds: number[];
}

export class ZoneOffsetTable {
  private readonly chunks = new Map<number, OffsetChunk>();
  private last: OffsetChunk = { start: 0, end: 0, offsets: [], bounds: [] };

  constructor(private readonly zone: Zone) {}

  /** Whether `instant` is in the range the table serves (every instant a billing system meets). */
  covers(instant: number): boolean {
    return instant >= -FAST_LIMIT && instant <= FAST_LIMIT;
  }

  /** luxon's `zone.offset(instant)`: minutes east of UTC. `instant` must be covered. */
  offsetAt(instant: number): number {
    let chunk = this.last;
    if (!(instant >= chunk.start && instant < chunk.end)) {
      chunk = this.chunkAt(Math.floor(instant / CHUNK));
      this.last = chunk;
    }
    const bounds = chunk.bounds;
    if (bounds.length === 0) return chunk.offsets[0];
    let piece = 0;
    while (piece < bounds.length && instant >= bounds[piece]) piece++;
    return chunk.offsets[piece];
  }

  /**
   * The instant's wall clock, the way luxon derives it: `new Date(instant + offset * 60 * 1000)`
   * read in UTC. Returned as epoch-like local milliseconds (an integer).
   */
  localMillis(instant: number): number {
    return Math.trunc(instant + this.offsetAt(instant) * 60 * 1000);
  }

  private chunkAt(index: number): OffsetChunk {
    const cached = this.chunks.get(index);
    if (cached) return cached;
    if (this.chunks.size >= MAX_CHUNKS) this.chunks.clear();
    const chunk = buildChunk(this.zone, index * CHUNK, (index + 1) * CHUNK);
    this.chunks.set(index, chunk);
    return chunk;
  }
}

function buildChunk(zone: Zone, start: number, end: number): OffsetChunk {
  const offsetAt = (instant: number) => zone.offset(instant);
  const offsets = [offsetAt(start)];
  const bounds: number[] = [];
  let previous = offsets[0];
  for (let sample = start + SAMPLE_STEP; sample <= end; sample += SAMPLE_STEP) {
    const offset = offsetAt(sample);
    // Every change in (sample - step, sample], located to the millisecond.
    let from = sample - SAMPLE_STEP;
    let current = previous;
    while (offset !== current) {
      let low = from; // offsetAt(low) === current
      let high = sample; // offsetAt(high) !== current
      while (high - low > 1) {
        const middle = low + Math.floor((high - low) / 2);
        if (offsetAt(middle) === current) low = middle;
        else high = middle;
      }
      current = offsetAt(high);
      // A change exactly at `end` is the next chunk's starting offset.
      if (high < end) {
        bounds.push(high);
        offsets.push(current);
      }
      from = high;
    }
    previous = offset;
  }
  return { start, end, offsets, bounds };
}

const tables = new Map<string, ZoneOffsetTable>();

/** The offset table of a zone name, or null when the zone has none (see above) or is not valid. */
export function zoneOffsetTable(timeZone: string): ZoneOffsetTable | null {
  const cached = tables.get(timeZone);
  if (cached) return cached;
  if (typeof timeZone !== 'string' || timeZone.toLowerCase() === 'default') return null;
  const zone = Info.normalizeZone(timeZone);
  if (!zone.isValid || !(zone instanceof IANAZone || zone instanceof FixedOffsetZone)) return null;
  const table = new ZoneOffsetTable(zone);
  tables.set(timeZone, table);
  return table;
}

/** Local calendar day number (days since 1970-01-01 on the wall clock) of local milliseconds. */
export function dayOfLocalMillis(local: number): number {
  return Math.floor(local / DAY);
}

/** Minutes since local midnight (0–1439) of local milliseconds (an integer within ±8.64e15). */
export function minuteOfLocalMillis(local: number): number {
  // The millisecond of the day is in [0, 86 400 000), so `| 0` is the floor.
  return ((local - Math.floor(local / DAY) * DAY) / MINUTE) | 0;
}

/** ISO weekday (1 = Monday … 7 = Sunday) of a local day number; day 0 (1970-01-01) was a Thursday. */
export function isoWeekdayOfDay(day: number): number {
  // Day numbers within ±8.64e15 ms are below 2^31 in magnitude: integer arithmetic.
  let weekday = ((day | 0) + 3) % 7;
  if (weekday < 0) weekday += 7;
  return weekday + 1;
}
