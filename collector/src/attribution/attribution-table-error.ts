/**
 * Raised when a table of subscriber assignments or traffic-class prefixes cannot be
 * built. Lists every problem found (not just the first) so an operator can fix the
 * source data in one pass; the collector keeps using the previous table meanwhile.
 */
export class AttributionTableError extends Error {
  override readonly name = 'AttributionTableError';

  constructor(
    /** What was being built, e.g. "subscriber assignments". */
    readonly table: string,
    /** One human-readable line per problem. */
    readonly problems: readonly string[],
  ) {
    super(`${problems.length} problem${problems.length === 1 ? '' : 's'} in ${table}:\n- ${problems.join('\n- ')}`);
  }
}
