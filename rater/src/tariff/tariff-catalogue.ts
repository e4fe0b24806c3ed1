import { tariffRefKey, type TariffRef } from '../schema/primitives.js';
import { RatingInputError } from '../rating/rating-input-error.js';
import type { Tariff } from './tariff-schema.js';

/** The tariff versions a rating run may refer to, looked up by id and version. */
export class TariffCatalogue {
  private readonly byRef = new Map<string, Tariff>();

  constructor(tariffs: readonly Tariff[]) {
    for (const tariff of tariffs) {
      const key = tariffRefKey(tariff);
      if (this.byRef.has(key)) throw new RatingInputError(`Tariff ${key} is given more than once`);
      this.byRef.set(key, tariff);
    }
    const currencies = new Set(tariffs.map((tariff) => tariff.currency));
    // One invoice has one currency; converting between them is not a rating decision.
    if (currencies.size > 1) throw new RatingInputError(`All tariffs of one rating must share a currency, got ${[...currencies].join(', ')}`);
  }

  get(ref: TariffRef): Tariff {
    const tariff = this.byRef.get(tariffRefKey(ref));
    if (!tariff) throw new RatingInputError(`Unknown tariff ${tariffRefKey(ref)}; known: ${[...this.byRef.keys()].join(', ') || 'none'}`);
    return tariff;
  }
}
