/**
 * Raised when migrations cannot be applied safely: a malformed file name, two files
 * with one version, an applied file that was edited afterwards, or a failing file.
 */
export class PostgresMigrationError extends Error {
  override readonly name = 'PostgresMigrationError';
}
