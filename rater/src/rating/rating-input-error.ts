/** Inputs that are each valid on their own but do not fit together (an unknown tariff, mixed currencies, …). */
export class RatingInputError extends Error {
  override readonly name = 'RatingInputError';
}
