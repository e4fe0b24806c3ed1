import { Decimal, minorUnitDigits } from '@flowbill/shared/money/index';
import type { AdjustmentDetail, BillLine, ChargeSummary } from './bill-line.js';

/**
 * Late usage is billed as "rate the full usage, minus what was already billed", per
 * charge. Rating the full usage again (rather than pricing the extra bytes alone) keeps
 * included units, tiers, minimum charges and percent discounts right; subtracting what the
 * period's documents already state turns it into adjustment lines that add up exactly.
 */

interface TierState {
  template: NonNullable<BillLine['tiers']>[number];
  units: Decimal;
  exactAmount: Decimal;
  amount: Decimal;
}

/** One charge of a period, summed over the lines that stated it so far. */
export interface ChargeState {
  chargeKey: string;
  /** The full statement's line (not an adjustment), for descriptions and intervals. */
  template: BillLine;
  quantity: Decimal;
  amount: Decimal;
  tax: Decimal;
  net: Decimal;
  gross: Decimal;
  bytes: bigint | null;
  bucketCount: number;
  measuredUnits: Decimal;
  billableUnits: Decimal;
  tiers: Map<number, TierState>;
}

/** A period's charges as billed: its full statement's lines plus its adjustment lines, by charge. */
export function ledgerOf(lines: readonly BillLine[]): Map<string, ChargeState> {
  const ledger = new Map<string, ChargeState>();
  for (const line of lines) {
    const state = ledger.get(line.chargeKey) ?? emptyState(line);
    if (line.adjustmentId === null) state.template = line;
    state.quantity = state.quantity.plus(line.quantity);
    state.amount = state.amount.plus(line.amount);
    state.tax = state.tax.plus(line.tax);
    state.net = state.net.plus(line.net);
    state.gross = state.gross.plus(line.gross);
    if (line.usage !== null) {
      state.bytes = (state.bytes ?? 0n) + BigInt(line.usage.bytes);
      state.bucketCount += line.usage.bucketCount;
      state.measuredUnits = state.measuredUnits.plus(line.usage.measuredUnits);
      state.billableUnits = state.billableUnits.plus(line.usage.billableUnits);
    }
    for (const tier of line.tiers ?? []) {
      const current = state.tiers.get(tier.tierIndex) ?? { template: tier, units: new Decimal(0), exactAmount: new Decimal(0), amount: new Decimal(0) };
      current.units = current.units.plus(tier.units);
      current.exactAmount = current.exactAmount.plus(tier.exactAmount);
      current.amount = current.amount.plus(tier.amount);
      state.tiers.set(tier.tierIndex, current);
    }
    ledger.set(line.chargeKey, state);
  }
  return ledger;
}

export interface DeltaOptions {
  adjustmentId: string;
  referencePeriodKey: string;
  currency: string;
}

/** Lines that bring `ledger` to `after`, charge by charge; charges that did not move are left out. */
export function deltaLines(after: readonly BillLine[], ledger: ReadonlyMap<string, ChargeState>, options: DeltaOptions): BillLine[] {
  const target = ledgerOf(after);
  const keys = [...target.keys(), ...[...ledger.keys()].filter((key) => !target.has(key))];
  const deltas: BillLine[] = [];
  for (const chargeKey of keys) {
    const line = deltaLine(target.get(chargeKey), ledger.get(chargeKey), options);
    if (line !== null) deltas.push(line);
  }
  return deltas;
}

function deltaLine(after: ChargeState | undefined, before: ChargeState | undefined, options: DeltaOptions): BillLine | null {
  const template = (after ?? before)!.template;
  const digits = minorUnitDigits(options.currency);
  const zero = new Decimal(0);
  const diff = (pick: (state: ChargeState) => Decimal) => (after === undefined ? zero : pick(after)).minus(before === undefined ? zero : pick(before));
  const amount = diff((state) => state.amount);
  const tax = diff((state) => state.tax);
  const net = diff((state) => state.net);
  const gross = diff((state) => state.gross);
  const quantity = diff((state) => state.quantity);
  const bytes = (after?.bytes ?? 0n) - (before?.bytes ?? 0n);
  if ([amount, tax, net, gross, quantity].every((value) => value.isZero()) && bytes === 0n) return null;

  const unitPrice = after !== undefined && before !== undefined && after.template.unitPrice === before.template.unitPrice ? after.template.unitPrice : null;
  return {
    ...template,
    key: `${options.adjustmentId}:${template.chargeKey}`,
    referencePeriodKey: options.referencePeriodKey,
    adjustmentId: options.adjustmentId,
    description: `${template.description} (adjustment for ${options.referencePeriodKey}: usage received after its invoice)`,
    quantity: quantity.toFixed(),
    unitPrice,
    amount: amount.toFixed(digits),
    tax: tax.toFixed(digits),
    net: net.toFixed(digits),
    gross: gross.toFixed(digits),
    proration: null,
    usage: usageDelta(after, before, template),
    tiers: tierDeltas(after, before, digits),
    adjustment: { before: before === undefined ? null : summary(before, digits), after: after === undefined ? null : summary(after, digits) } satisfies AdjustmentDetail,
  };
}

function usageDelta(after: ChargeState | undefined, before: ChargeState | undefined, template: BillLine): BillLine['usage'] {
  if (template.usage === null) return null;
  const zero = new Decimal(0);
  return {
    ...template.usage,
    bucketCount: (after?.bucketCount ?? 0) - (before?.bucketCount ?? 0),
    bytes: ((after?.bytes ?? 0n) - (before?.bytes ?? 0n)).toString(),
    measuredUnits: (after?.measuredUnits ?? zero).minus(before?.measuredUnits ?? zero).toFixed(),
    billableUnits: (after?.billableUnits ?? zero).minus(before?.billableUnits ?? zero).toFixed(),
  };
}

function tierDeltas(after: ChargeState | undefined, before: ChargeState | undefined, digits: number): BillLine['tiers'] {
  const indexes = [...new Set([...(after?.tiers.keys() ?? []), ...(before?.tiers.keys() ?? [])])].sort((a, b) => a - b);
  if (indexes.length === 0) return null;
  const zero = new Decimal(0);
  const rows = indexes.flatMap((tierIndex) => {
    const a = after?.tiers.get(tierIndex);
    const b = before?.tiers.get(tierIndex);
    const units = (a?.units ?? zero).minus(b?.units ?? zero);
    const exactAmount = (a?.exactAmount ?? zero).minus(b?.exactAmount ?? zero);
    const amount = (a?.amount ?? zero).minus(b?.amount ?? zero);
    if (units.isZero() && exactAmount.isZero() && amount.isZero()) return [];
    return [{ ...(a ?? b)!.template, units: units.toFixed(), exactAmount: exactAmount.toFixed(), amount: amount.toFixed(digits) }];
  });
  return rows;
}

function summary(state: ChargeState, digits: number): ChargeSummary {
  return {
    quantity: state.quantity.toFixed(),
    amount: state.amount.toFixed(digits),
    tax: state.tax.toFixed(digits),
    net: state.net.toFixed(digits),
    gross: state.gross.toFixed(digits),
    bytes: state.bytes === null ? null : state.bytes.toString(),
  };
}

function emptyState(line: BillLine): ChargeState {
  const zero = new Decimal(0);
  return {
    chargeKey: line.chargeKey,
    template: line,
    quantity: zero,
    amount: zero,
    tax: zero,
    net: zero,
    gross: zero,
    bytes: null,
    bucketCount: 0,
    measuredUnits: zero,
    billableUnits: zero,
    tiers: new Map(),
  };
}
