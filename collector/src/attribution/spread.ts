/**
 * Spread a flow's counters over the 1-minute buckets its [start, end) interval
 * touches, in proportion to the time spent in each, with integer parts that sum
 * exactly to the totals (largest-remainder method).
 *
 * Arithmetic is bigint throughout: scaled counters reach 2^64 x sampling rate, far
 * beyond the 2^53 a double holds exactly, and billing must not lose a byte.
 * Time weights are whole microseconds (flow times are ms with sub-ms fractions);
 * rounding a weight moves at most a microsecond's share between neighbouring
 * buckets and never changes the total.
 */

export const MINUTE_MS = 60_000;

/**
 * Flows spanning more minutes than this are refused: a corrupt end time would
 * otherwise ask for millions of buckets. A day covers any real active timeout.
 */
export const DEFAULT_MAX_MINUTES = 24 * 60;

/** Receives one bucket: its start (ms since epoch, a multiple of 60 000) and its share. */
export type MinuteShareSink = (minuteStart: number, bytes: bigint, packets: bigint) => void;

/** Start (ms since epoch) of the UTC minute containing `time`. */
export function minuteStartOf(time: number): number {
  return Math.floor(time / MINUTE_MS) * MINUTE_MS;
}

/**
 * Number of minute buckets [start, end) touches; 1 when end <= start (the flow then
 * belongs wholly to its start minute). Lets callers check a flow against a limit
 * before spreading it.
 */
export function minutesSpanned(start: number, end: number): number {
  if (!(end > start)) return 1;
  const last = Math.ceil(end / MINUTE_MS) * MINUTE_MS - MINUTE_MS;
  return Math.max(1, (last - minuteStartOf(start)) / MINUTE_MS + 1);
}

/**
 * Call `sink` once per minute bucket of [start, end), in time order, with that
 * bucket's share of `bytes` and `packets`. The shares of each counter sum exactly to
 * its total. Buckets whose share of both counters is 0 are not reported. A flow with
 * end <= start (or NaN end) goes wholly into the minute of `start`.
 *
 * Throws RangeError for a non-finite start, negative counters, or a flow spanning
 * more than `maxMinutes` buckets.
 */
export function spreadOverMinutes(
  start: number,
  end: number,
  bytes: bigint,
  packets: bigint,
  sink: MinuteShareSink,
  maxMinutes = DEFAULT_MAX_MINUTES,
): void {
  if (!Number.isFinite(start)) throw new RangeError(`flow start must be a finite time in ms, got ${start}`);
  if (bytes < 0n || packets < 0n) throw new RangeError(`counters must not be negative, got bytes=${bytes} packets=${packets}`);
  const firstMinute = minuteStartOf(start);
  const minutes = minutesSpanned(start, end);
  if (minutes > maxMinutes) {
    throw new RangeError(`flow [${start}, ${end}) spans ${minutes} minutes, more than the limit of ${maxMinutes}`);
  }
  const startMicros = Math.round(start * 1000);
  const endMicros = Math.round(end * 1000);
  // Common case first: the whole flow in one minute (also end <= start, and a
  // sub-microsecond flow straddling a boundary, whose rounded weight is 0).
  if (minutes === 1 || endMicros <= startMicros) {
    if (bytes !== 0n || packets !== 0n) sink(firstMinute, bytes, packets);
    return;
  }

  const weights: bigint[] = new Array(minutes);
  for (let k = 0; k < minutes; k++) {
    const bucketStartMicros = (firstMinute + k * MINUTE_MS) * 1000;
    const from = Math.max(startMicros, bucketStartMicros);
    const to = Math.min(endMicros, bucketStartMicros + MINUTE_MS * 1000);
    weights[k] = BigInt(Math.max(0, to - from));
  }
  const byteShares = splitByLargestRemainder(bytes, weights);
  const packetShares = splitByLargestRemainder(packets, weights);
  for (let k = 0; k < minutes; k++) {
    if (byteShares[k] !== 0n || packetShares[k] !== 0n) sink(firstMinute + k * MINUTE_MS, byteShares[k], packetShares[k]);
  }
}

/**
 * Split a non-negative integer `total` into parts proportional to `weights`
 * (largest-remainder / Hamilton method): each part is the floor of its exact quota,
 * and the units left over go one each to the parts with the largest fractional
 * remainders, the earliest part first on ties. The parts sum exactly to `total` and
 * each differs from its exact quota by less than 1.
 */
export function splitByLargestRemainder(total: bigint, weights: readonly bigint[]): bigint[] {
  if (total < 0n) throw new RangeError(`total must not be negative, got ${total}`);
  let weightSum = 0n;
  for (const weight of weights) {
    if (weight < 0n) throw new RangeError(`weights must not be negative, got ${weight}`);
    weightSum += weight;
  }
  if (weightSum === 0n) throw new RangeError('at least one weight must be positive');

  const parts = new Array<bigint>(weights.length);
  const remainders = new Array<bigint>(weights.length);
  let assigned = 0n;
  for (let k = 0; k < weights.length; k++) {
    const scaled = total * weights[k];
    parts[k] = scaled / weightSum;
    remainders[k] = scaled % weightSum;
    assigned += parts[k];
  }
  let leftover = Number(total - assigned); // < weights.length, so a safe integer
  if (leftover > 0) {
    const order = Array.from(weights.keys()).sort((a, b) =>
      remainders[a] === remainders[b] ? a - b : remainders[a] > remainders[b] ? -1 : 1,
    );
    for (const k of order) {
      if (leftover === 0) break;
      parts[k] += 1n;
      leftover--;
    }
  }
  return parts;
}
