import { DateTime } from 'luxon';
import { Decimal } from '@flowbill/shared/money/index';
import { coveredFraction, proratedAmount, remainingPeriodAmount, spanLength, type ProratedAmount } from '../period/proration.js';
import type { RecurringFee, Tariff } from '../tariff/tariff-schema.js';
import { zoneOffsetTable } from '../time/zone-offsets.js';
import type { EpochMillis } from '../time/zoned-time.js';
import type { RatedLine } from './rated-line.js';
import { segmentLabel, type SegmentContext } from './segment-context.js';
import { tariffDecimal } from '../tariff/tariff-decimals.js';

/** Shown quantities are the covered share of the period to 6 places; amounts never derive from them. */
const QUANTITY_PLACES = 6;

function quantityOf(proration: Pick<ProratedAmount, 'coveredUnits' | 'periodUnits'>, sign: 1 | -1): Decimal {
  return coveredFraction(proration.coveredUnits, proration.periodUnits).times(sign).toDecimalPlaces(QUANTITY_PLACES, Decimal.ROUND_HALF_EVEN);
}

function baseLine(context: SegmentContext, fee: RecurringFee) {
  return {
    segmentIndex: context.segmentIndex,
    tariff: { id: context.tariff.id, version: context.tariff.version },
    chargeId: fee.id,
    timing: fee.charge,
    unit: 'period',
    unitPrice: tariffDecimal(fee.price),
  };
}

function prorationDetail(proration: ProratedAmount, basis: 'day' | 'second') {
  return proration.coveredUnits === proration.periodUnits
    ? {}
    : { proration: { basis, coveredUnits: proration.coveredUnits, periodUnits: proration.periodUnits } };
}

/** One line for the whole segment, billed at period end for the time actually served. */
function arrearsLines(context: SegmentContext, fee: RecurringFee): RatedLine[] {
  const { tariff, period } = context;
  const part = proratedAmount(tariffDecimal(fee.price), context.start, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
  return [
    {
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring/${fee.id}`,
      kind: 'recurring',
      description: fee.name,
      coverageStart: context.start,
      coverageEnd: context.end,
      billableAt: period.end,
      quantity: quantityOf(part, 1),
      amount: part.amount,
      ...prorationDetail(part, tariff.proration),
    },
  ];
}

/**
 * Billed when the segment starts, for the rest of the period as then known;
 * if the segment ends early (plan change, termination) the unused rest is
 * credited at that moment. Charge minus credit equals the arrears amount for
 * the same segment to the kopeck.
 */
function advanceLines(context: SegmentContext, fee: RecurringFee): RatedLine[] {
  const { tariff, period } = context;
  const price = tariffDecimal(fee.price);
  const charged = remainingPeriodAmount(price, context.start, period, tariff.proration, tariff.currency, tariff.rounding);
  const lines: RatedLine[] = [
    {
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring/${fee.id}`,
      kind: 'recurring',
      description: fee.name,
      coverageStart: context.start,
      coverageEnd: period.end,
      billableAt: context.start,
      quantity: quantityOf(charged, 1),
      amount: charged.amount,
      ...prorationDetail(charged, tariff.proration),
    },
  ];
  if (context.end < period.end) {
    const credited = remainingPeriodAmount(price, context.end, period, tariff.proration, tariff.currency, tariff.rounding);
    lines.push({
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring-credit/${fee.id}`,
      kind: 'recurring-credit',
      description: `${fee.name}: credit for the unused rest of the period`,
      coverageStart: context.end,
      coverageEnd: period.end,
      billableAt: context.end,
      quantity: quantityOf(credited, -1),
      amount: credited.amount.negated(),
      proration: { basis: tariff.proration, coveredUnits: credited.coveredUnits, periodUnits: credited.periodUnits },
    });
  }
  return lines;
}

function localDayStarts(from: EpochMillis, to: EpochMillis, timeZone: string): EpochMillis[] {
  const starts: EpochMillis[] = [];
  let day = DateTime.fromMillis(from, { zone: timeZone }).startOf('day');
  while (day.toMillis() < to) {
    starts.push(day.toMillis());
    day = day.plus({ days: 1 }).startOf('day');
  }
  return starts;
}

/**
 * The period price spread over the period's calendar days, one line per day of
 * service (a daily debit). Always by calendar day, whatever the tariff's
 * proration basis, so every day of a month costs the same up to a kopeck.
 */
function dailyLines(context: SegmentContext, fee: RecurringFee): RatedLine[] {
  const { tariff, period } = context;
  const price = tariffDecimal(fee.price);
  const firstDayStart = DateTime.fromMillis(context.start, { zone: period.timeZone }).startOf('day').toMillis();
  const lastDayEnd = context.end === period.end ? period.end : DateTime.fromMillis(context.end, { zone: period.timeZone }).startOf('day').toMillis();
  return localDayStarts(firstDayStart, lastDayEnd, period.timeZone).map((dayStart) => {
    const dayEnd = DateTime.fromMillis(dayStart, { zone: period.timeZone }).plus({ days: 1 }).startOf('day').toMillis();
    const part = proratedAmount(price, dayStart, dayEnd, period, 'day', tariff.currency, tariff.rounding);
    const date = DateTime.fromMillis(dayStart, { zone: period.timeZone }).toISODate();
    return {
      ...baseLine(context, fee),
      id: `${segmentLabel(context)}/recurring/${fee.id}/${date}`,
      kind: 'recurring',
      description: `${fee.name} (${date})`,
      coverageStart: dayStart,
      coverageEnd: dayEnd,
      billableAt: fee.charge === 'advance' ? dayStart : dayEnd,
      quantity: quantityOf(part, 1),
      amount: part.amount,
      proration: { basis: 'day', coveredUnits: part.coveredUnits, periodUnits: part.periodUnits },
    } satisfies RatedLine;
  });
}

/**
 * Fee lines already computed, per tariff: they depend only on the tariff, the
 * segment's bounds and index and the period, so every subscriber of a plan in
 * one zone and period gets the same lines. They are frozen before they are
 * shared (decimal.js values are immutable already).
 */
const feeLines = new WeakMap<Tariff, Map<string, readonly RatedLine[]>>();
const MAX_FEE_LINES_PER_TARIFF = 1_000;

function frozenLine(line: RatedLine): RatedLine {
  Object.freeze(line.tariff);
  if (line.proration) Object.freeze(line.proration);
  return Object.freeze(line);
}

/** Lines for every recurring fee of the segment's tariff. */
export function rateRecurringFees(context: SegmentContext): RatedLine[] {
  const { tariff, period } = context;
  // Zones that can change at run time ("local", "default") are not memoised.
  if (zoneOffsetTable(period.timeZone) === null) return feeLinesOf(context);
  let byGeometry = feeLines.get(tariff);
  if (byGeometry === undefined) {
    byGeometry = new Map();
    feeLines.set(tariff, byGeometry);
  }
  const key = `${context.segmentIndex} ${context.start} ${context.end} ${period.key} ${period.start} ${period.end} ${period.timeZone}`;
  let lines = byGeometry.get(key);
  if (lines === undefined) {
    lines = feeLinesOf(context).map(frozenLine);
    if (byGeometry.size >= MAX_FEE_LINES_PER_TARIFF) byGeometry.clear();
    byGeometry.set(key, lines);
  }
  return [...lines];
}

function feeLinesOf(context: SegmentContext): RatedLine[] {
  const { tariff, period } = context;
  return tariff.recurringFees.flatMap((fee) => {
    if (fee.spread === 'daily') return dailyLines(context, fee);
    // By day, a segment that starts and ends on the same calendar day covers no day at all.
    if (spanLength(context.start, context.end, tariff.proration, period.timeZone) === 0) return [];
    return fee.charge === 'advance' ? advanceLines(context, fee) : arrearsLines(context, fee);
  });
}
