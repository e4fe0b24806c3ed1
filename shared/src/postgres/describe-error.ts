/**
 * One line describing a database or connection error for an operator.
 *
 * Needed because Node 20 reports a refused connection to "localhost" (tried on ::1 and
 * 127.0.0.1) as an AggregateError whose own message is empty.
 */
export function describeDatabaseError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map(describeDatabaseError))].join('; ');
  }
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    if (error.message !== '') return error.message;
    return typeof code === 'string' ? code : error.name;
  }
  return String(error);
}
