import { tariffRefKey } from '../schema/primitives.js';
import type { TariffCatalogue } from '../tariff/tariff-catalogue.js';
import type { Tariff } from '../tariff/tariff-schema.js';
import { planChangeTiming } from '../tariff/plan-change-direction.js';
import { billingPeriodContaining } from '../period/billing-period.js';
import type { EpochMillis } from '../time/zoned-time.js';
import type { Subscription } from './subscription-schema.js';

/** A stretch of time [start, end) during which one tariff version applies; end is null while it runs on. */
export interface TariffSegment {
  tariff: Tariff;
  start: EpochMillis;
  end: EpochMillis | null;
}

interface TariffSwitch {
  at: EpochMillis;
  tariff: Tariff;
}

/**
 * Turns the subscription's activation, plan-change requests and termination
 * into consecutive tariff segments.
 *
 * Requests are handled in the order they were made. Each takes effect at once
 * or at the end of the billing period it was made in, as the request or the
 * tariff in force says (by default: upgrades at once, downgrades at period
 * end). A new request replaces any change still waiting to take effect, so
 * asking for one's current plan cancels a pending downgrade.
 */
export function resolveTariffTimeline(subscription: Subscription, catalogue: TariffCatalogue): TariffSegment[] {
  const switches: TariffSwitch[] = [{ at: subscription.activatedAt, tariff: catalogue.get(subscription.tariff) }];
  const requests = subscription.planChanges
    .map((request, order) => ({ request, order }))
    .sort((left, right) => left.request.requestedAt - right.request.requestedAt || left.order - right.order);

  for (const { request } of requests) {
    while (switches.length > 1 && switches[switches.length - 1].at > request.requestedAt) switches.pop();
    const current = switches[switches.length - 1].tariff;
    const target = catalogue.get(request.tariff);
    if (tariffRefKey(target) === tariffRefKey(current)) continue;
    const timing = request.effective ?? planChangeTiming(current, target);
    const at =
      timing === 'immediate'
        ? request.requestedAt
        : billingPeriodContaining(request.requestedAt, subscription.billingCycle, subscription.timeZone).end;
    if (switches[switches.length - 1].at === at) switches.pop();
    // Two switches in a row to the same tariff would split one segment in two (and its allowance with it).
    if (switches.length > 0 && tariffRefKey(switches[switches.length - 1].tariff) === tariffRefKey(target)) continue;
    switches.push({ at, tariff: target });
  }

  const terminatedAt = subscription.terminatedAt ?? null;
  const effective = switches.filter((entry) => terminatedAt === null || entry.at < terminatedAt);
  return effective.map((entry, index) => ({
    tariff: entry.tariff,
    start: entry.at,
    end: index + 1 < effective.length ? effective[index + 1].at : terminatedAt,
  }));
}
