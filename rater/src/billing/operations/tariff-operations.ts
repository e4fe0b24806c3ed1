import { withTransaction } from '@flowbill/shared/postgres/index';
import { parseTariff } from '../../input/parse-inputs.js';
import { instant } from '../../schema/primitives.js';
import { discountSchema, type Tariff } from '../../tariff/tariff-schema.js';
import { canonicalJson } from '../canonical-json.js';
import type { PromotionDiscount } from '../catalog/records.js';
import { BillingError } from '../errors.js';
import { lockTariff } from '../store/lock.js';
import { ensureTariff, findVersion, insertVersion, latestVersionNumber } from '../store/tariff-store.js';
import type { BillingContext } from './context.js';

export interface PublishedTariffVersion {
  tariffId: string;
  version: number;
  kind: 'plan' | 'addon';
  effectiveFrom: Date;
  tariff: Tariff;
  /** false when this exact version was already published (the call changed nothing). */
  created: boolean;
}

/** An instant given as a Date, epoch ms, or ISO-8601 text with an offset. */
export type InstantInput = Date | number | string;

export function toEpochMs(value: InstantInput, what: string): number {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new RangeError(`${what} is an invalid Date`);
    return value.getTime();
  }
  const parsed = instant.safeParse(value);
  if (!parsed.success) throw new RangeError(`${what} must be a Date, epoch milliseconds or ISO-8601 with an offset; got ${JSON.stringify(value)}`);
  return parsed.data;
}

/**
 * Publishes a tariff version: validated by the rater's parseTariff, stored with the
 * instant it takes effect. Without `version` in the JSON the next number is assigned,
 * which is how a tariff is edited: versions are never changed once stored.
 *
 * Idempotent: publishing the same version with the same body and effective date again
 * returns it (created: false); the same version number with anything different is a
 * 'conflict'. Invalid JSON throws the rater's InputValidationError with "path: message"
 * issues. Add-on tariffs (kind 'addon') may not price usage.
 */
export async function publishTariffVersion(
  context: BillingContext,
  json: unknown,
  effectiveFromInput: InstantInput,
  options: { kind?: 'plan' | 'addon' } = {},
): Promise<PublishedTariffVersion> {
  const effectiveFrom = toEpochMs(effectiveFromInput, 'effectiveFrom');
  const requestedVersion = isObject(json) ? json.version : undefined;
  // Validate before touching the database (a placeholder version when none is given).
  const draft = parseTariff(requestedVersion === undefined && isObject(json) ? { ...json, version: 1 } : json);
  return withTransaction(context.pool, async (client) => {
    await lockTariff(client, draft.id);
    const kind = await ensureTariff(client, draft.id, options.kind ?? 'plan');
    if (options.kind !== undefined && options.kind !== kind) throw new BillingError('conflict', `tariff ${draft.id} is a ${kind}, not a ${options.kind}`);
    if (kind === 'addon' && (draft.usageCharges.length > 0 || draft.fairUsage !== undefined)) {
      throw new BillingError('catalog', `add-on tariff ${draft.id} may not have usage charges or fair usage: usage is priced by the plan`);
    }
    const version = requestedVersion === undefined ? (await latestVersionNumber(client, draft.id)) + 1 : draft.version;
    const tariff = requestedVersion === undefined ? parseTariff({ ...(json as object), version }) : draft;
    const existing = await findVersion(client, tariff.id, version);
    if (existing !== null) {
      if (existing.effectiveFrom === effectiveFrom && canonicalJson(existing.tariff) === canonicalJson(tariff)) {
        return { tariffId: tariff.id, version, kind, effectiveFrom: new Date(effectiveFrom), tariff: existing.tariff, created: false };
      }
      throw new BillingError('conflict', `tariff ${tariff.id} version ${version} is already published with other terms; publish a new version instead`);
    }
    await insertVersion(client, tariff, effectiveFrom);
    return { tariffId: tariff.id, version, kind, effectiveFrom: new Date(effectiveFrom), tariff, created: true };
  });
}

export interface PromotionInput {
  code: string;
  name: string;
  /** The discount the code gives; null when the listed tariffs carry it (discounts[].promoCode). */
  discount: PromotionDiscount | null;
  tariffIds: string[];
  validFrom: InstantInput;
  validTo?: InstantInput;
}

/** Publishes a promotion; idempotent like a tariff version ('conflict' if the code exists with other terms). */
export async function publishPromotion(context: BillingContext, input: PromotionInput): Promise<void> {
  const validFrom = toEpochMs(input.validFrom, 'validFrom');
  const validTo = input.validTo === undefined ? null : toEpochMs(input.validTo, 'validTo');
  let discount: PromotionDiscount | null = null;
  if (input.discount !== null) {
    const parsed = discountSchema.safeParse({ ...input.discount, id: `promo-${input.code}`, name: input.name, promoCode: input.code });
    if (!parsed.success) throw new BillingError('catalog', `promotion ${input.code}: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
    const { id: _id, name: _name, promoCode: _code, ...rest } = parsed.data;
    discount = rest;
  }
  await withTransaction(context.pool, async (client) => {
    await client.query(
      `INSERT INTO promotions (code, name, discount, tariff_ids, valid_from, valid_to) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (code) DO NOTHING`,
      [input.code, input.name, discount === null ? null : JSON.stringify(discount), input.tariffIds, new Date(validFrom), validTo === null ? null : new Date(validTo)],
    );
    const { rows } = await client.query<{ name: string; discount: unknown; tariff_ids: string[]; valid_from: Date; valid_to: Date | null }>(
      'SELECT name, discount, tariff_ids, valid_from, valid_to FROM promotions WHERE code = $1',
      [input.code],
    );
    const stored = rows[0];
    const same =
      stored.name === input.name &&
      canonicalJson(stored.discount) === canonicalJson(discount) &&
      canonicalJson(stored.tariff_ids) === canonicalJson(input.tariffIds) &&
      stored.valid_from.getTime() === validFrom &&
      (stored.valid_to?.getTime() ?? null) === validTo;
    if (!same) throw new BillingError('conflict', `promotion ${input.code} already exists with other terms`);
  });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
