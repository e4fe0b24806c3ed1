/**
 * Raised for any address or prefix text that does not parse strictly.
 *
 * One error type for every rejection so configuration loaders can catch it and
 * report `input` together with `message` (which always quotes the input and says
 * what is wrong with it).
 */
export class InvalidIpError extends Error {
  override readonly name = 'InvalidIpError';

  constructor(
    /** The text exactly as it was given. */
    readonly input: string,
    message: string,
  ) {
    super(message);
  }
}
