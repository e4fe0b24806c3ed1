/**
 * The import file format: CSV with a header naming the columns
 *   subscriber_id, name, prefix, valid_from   (required)
 *   valid_to, time_zone                      (optional columns; blank cells allowed)
 * in any order, one assignment per line. Parsing and per-row validation only, no
 * database: every problem is collected with its line number so an operator fixes the
 * file in one pass.
 */
import { CsvError, parse } from 'csv-parse/sync';
import { z } from 'zod';
import type { LineProblem } from './errors.js';
import { instantSchema, issueMessages, prefixSchema, subscriberIdSchema, subscriberNameSchema, timeZoneSchema } from './validation.js';

export const REQUIRED_COLUMNS = ['subscriber_id', 'name', 'prefix', 'valid_from'] as const;
export const OPTIONAL_COLUMNS = ['valid_to', 'time_zone'] as const;
type Column = (typeof REQUIRED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];

export interface CsvAssignmentRow {
  /** Line of the file the row starts on (the header is line 1). */
  readonly line: number;
  readonly subscriberId: string;
  readonly name: string;
  /** null: blank or no column (keep the subscriber's zone, or the default for a new one). */
  readonly timeZone: string | null;
  /** Canonical prefix text. */
  readonly prefix: string;
  readonly validFrom: Date;
  readonly validTo: Date | null;
}

export interface ParsedAssignmentCsv {
  readonly rows: CsvAssignmentRow[];
  readonly problems: LineProblem[];
}

const blankToNull = (text: string) => (text === '' ? null : text);

const rowSchema = z
  .object({
    subscriber_id: subscriberIdSchema,
    name: subscriberNameSchema,
    prefix: prefixSchema,
    valid_from: instantSchema,
    valid_to: z.string().transform(blankToNull).pipe(instantSchema.nullable()),
    time_zone: z.string().transform(blankToNull).pipe(timeZoneSchema.nullable()),
  })
  .superRefine((row, context) => {
    if (row.valid_to !== null && row.valid_to.getTime() <= row.valid_from.getTime()) {
      context.addIssue({ code: 'custom', path: ['valid_to'], message: `must be after valid_from (${row.valid_from.toISOString()})` });
    }
  });

export function parseAssignmentCsv(text: string | Buffer): ParsedAssignmentCsv {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    // With `info: true` each record comes with its position; the typings do not say so.
    records = parse(text, { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, info: true }) as unknown as typeof records;
  } catch (error) {
    // Broken quoting makes everything after it unreadable, so this is the only problem reported.
    if (error instanceof CsvError) return { rows: [], problems: [{ line: lineOfCsvError(error), message: `not valid CSV: ${error.message}` }] };
    throw error;
  }
  if (records.length === 0) return { rows: [], problems: [{ line: 1, message: `the file is empty; expected a header line: ${[...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS].join(',')}` }] };

  const header = readHeader(records[0].record);
  if ('problem' in header) return { rows: [], problems: [{ line: startLine(records[0]), message: header.problem }] };

  const rows: CsvAssignmentRow[] = [];
  const problems: LineProblem[] = [];
  for (const entry of records.slice(1)) {
    const line = startLine(entry);
    if (entry.record.length !== header.columns.length) {
      problems.push({ line, message: `expected ${header.columns.length} fields (as in the header), found ${entry.record.length}` });
      continue;
    }
    const cells: Record<Column, string> = { subscriber_id: '', name: '', prefix: '', valid_from: '', valid_to: '', time_zone: '' };
    header.columns.forEach((column, k) => (cells[column] = entry.record[k]));
    const parsed = rowSchema.safeParse(cells);
    if (!parsed.success) {
      for (const message of issueMessages(parsed.error)) problems.push({ line, message });
      continue;
    }
    const row = parsed.data;
    rows.push({
      line,
      subscriberId: row.subscriber_id,
      name: row.name,
      timeZone: row.time_zone,
      prefix: row.prefix,
      validFrom: row.valid_from,
      validTo: row.valid_to,
    });
  }
  return { rows, problems };
}

function readHeader(cells: string[]): { columns: Column[] } | { problem: string } {
  const known: readonly string[] = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS];
  const names = cells.map((cell) => cell.toLowerCase());
  const issues: string[] = [];
  if (names.length === 1 && names[0].includes(';')) {
    issues.push('the header looks semicolon-separated; the file must use commas');
  } else {
    const unknown = names.filter((name) => !known.includes(name));
    const repeated = names.filter((name, k) => names.indexOf(name) !== k);
    const missing = REQUIRED_COLUMNS.filter((name) => !names.includes(name));
    if (unknown.length > 0) issues.push(`unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')}`);
    if (repeated.length > 0) issues.push(`repeated column${repeated.length > 1 ? 's' : ''} ${repeated.join(', ')}`);
    if (missing.length > 0) issues.push(`missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  }
  if (issues.length > 0) {
    return { problem: `bad header: ${issues.join('; ')} (expected ${REQUIRED_COLUMNS.join(',')} and optionally ${OPTIONAL_COLUMNS.join(',')})` };
  }
  return { columns: names as Column[] };
}

/** csv-parse reports the line a record ends on; a quoted field may span lines. */
function startLine(entry: { record: string[]; info: { lines: number } }): number {
  let newlines = 0;
  for (const cell of entry.record) for (const char of cell) if (char === '\n') newlines++;
  return entry.info.lines - newlines;
}

function lineOfCsvError(error: CsvError): number {
  const lines = (error as unknown as { lines?: unknown }).lines;
  return typeof lines === 'number' ? lines : 1;
}
