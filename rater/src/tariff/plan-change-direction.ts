import { sumDecimals, toDecimal } from '@flowbill/shared/money/index';
import type { PlanChangeTiming, Tariff } from './tariff-schema.js';

export type PlanChangeDirection = 'upgrade' | 'downgrade';

function periodicPrice(tariff: Tariff) {
  return sumDecimals(tariff.recurringFees.map((fee) => toDecimal(fee.price)));
}

/**
 * Whether moving from `current` to `target` is an upgrade or a downgrade: by
 * explicit rank when both tariffs have one, otherwise by what the subscriber
 * pays per period in recurring fees. A move to an equal tariff counts as an
 * upgrade so that it, too, takes effect at once by default.
 */
export function planChangeDirection(current: Tariff, target: Tariff): PlanChangeDirection {
  if (current.rank !== undefined && target.rank !== undefined) return target.rank < current.rank ? 'downgrade' : 'upgrade';
  return periodicPrice(target).lessThan(periodicPrice(current)) ? 'downgrade' : 'upgrade';
}

/** When a change takes effect under the current tariff's policy. */
export function planChangeTiming(current: Tariff, target: Tariff): PlanChangeTiming {
  return current.planChange[planChangeDirection(current, target)];
}
