/**
 * The worked-example catalog of the billing tests, in RUB with VAT 20% included:
 *
 * - plan "home-metered": 500 RUB/month internet access; internet traffic in both
 *   directions per started GB, 10 GB included, then 2.50 RUB/GB up to 40 GB and
 *   1.50 RUB/GB beyond; local traffic free;
 * - add-on "router": Wi-Fi router rental, 100 RUB/month.
 */
export const PLAN_V1_EFFECTIVE = '2025-01-01T00:00:00+03:00';

export function homeMetered(overrides: { id?: string; version?: number; firstTierPrice?: string } = {}): Record<string, unknown> {
  return {
    id: overrides.id ?? 'home-metered',
    ...(overrides.version === undefined ? {} : { version: overrides.version }),
    name: 'Home metered',
    currency: 'RUB',
    recurringFees: [{ id: 'internet', name: 'Internet access 100 Mbit/s', price: '500' }],
    usageCharges: [
      {
        id: 'internet',
        name: 'Internet traffic over 10 GB',
        class: 'internet',
        direction: 'both',
        measure: { unit: 'GB', base: 'decimal', rounding: 'ceil' },
        includedUnits: '10',
        pricing: {
          kind: 'graduated',
          tiers: [
            { upTo: '40', unitPrice: overrides.firstTierPrice ?? '2.50' },
            { upTo: null, unitPrice: '1.50' },
          ],
        },
      },
      { id: 'local', name: 'Local traffic', class: 'local', direction: 'both', measure: { unit: 'GB' }, pricing: { kind: 'free' } },
    ],
    tax: { name: 'VAT', ratePercent: '20', inclusion: 'inclusive' },
  };
}

export function router(id = 'router'): Record<string, unknown> {
  return {
    id,
    version: 1,
    name: 'Wi-Fi router rental',
    currency: 'RUB',
    recurringFees: [{ id: 'router', name: 'Wi-Fi router rental', price: '100' }],
    tax: { name: 'VAT', ratePercent: '20', inclusion: 'inclusive' },
  };
}

export const ACTIVATED_AT = '2025-11-03T12:00:00+03:00';
