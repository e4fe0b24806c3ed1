/**
 * Errors an operator can fix by changing the input or the data (the CLI's exit code 1),
 * as opposed to bugs. Messages name the offending value and say what is wrong.
 */
export class SubscriberDataError extends Error {
  override name = 'SubscriberDataError';
}

/** A problem tied to a line of an import file. */
export interface LineProblem {
  /** 1-based line in the file (the header is line 1). */
  readonly line: number;
  readonly message: string;
}

/** Every problem found in an import file; nothing was imported. */
export class CsvImportError extends SubscriberDataError {
  override name = 'CsvImportError';

  constructor(
    /** What was imported, e.g. the file name, for the message. */
    readonly source: string,
    readonly problems: readonly LineProblem[],
  ) {
    super(
      `${source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}, nothing imported:\n` +
        problems.map((problem) => `  line ${problem.line}: ${problem.message}`).join('\n'),
    );
  }
}

/** Two subscribers would hold a common address at a common time (the database refused). */
export class AssignmentConflictError extends SubscriberDataError {
  override name = 'AssignmentConflictError';
}
