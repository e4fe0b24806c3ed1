/**
 * Reading shared/migrations/clickhouse/NNNN_name.sql: version, statements, checksum and
 * the optional version gate in the file's leading comments:
 *
 *   -- requires: clickhouse >= 20.3
 *
 * (several `requires` lines must all hold). A gated file is skipped on older servers.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitStatements } from './split-statements.js';
import { parseRequirement, type VersionRequirement } from './version.js';

export interface ClickHouseMigration {
  readonly version: number;
  readonly name: string;
  readonly fileName: string;
  readonly statements: readonly string[];
  readonly requires: readonly VersionRequirement[];
  /** sha256 hex of the file with line endings normalised to "\n". */
  readonly checksum: string;
}

export class ClickHouseMigrationError extends Error {
  override readonly name = 'ClickHouseMigrationError';
}

/** shared/migrations/clickhouse, found relative to this file so any working directory works. */
export const DEFAULT_CLICKHOUSE_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/clickhouse/', import.meta.url));

const FILE_NAME = /^(\d{4})_([a-z0-9]+(?:_[a-z0-9]+)*)\.sql$/;

/**
 * Every migration in `directory`, by version. Non-.sql files are ignored; a .sql file with
 * a bad name, a duplicate version or a malformed `requires` line is an error, because
 * skipping it silently would leave the schema behind.
 */
export function readClickHouseMigrations(directory: string = DEFAULT_CLICKHOUSE_MIGRATIONS_DIR): ClickHouseMigration[] {
  const problems: string[] = [];
  const byVersion = new Map<number, ClickHouseMigration>();
  for (const fileName of readdirSync(directory).sort()) {
    if (!fileName.endsWith('.sql')) continue;
    const match = FILE_NAME.exec(fileName);
    if (match === null) {
      problems.push(`${fileName}: expected NNNN_lowercase_name.sql, e.g. 0006_usage_by_asn.sql`);
      continue;
    }
    const version = Number(match[1]);
    const other = byVersion.get(version);
    if (other !== undefined) {
      problems.push(`${fileName}: version ${match[1]} is also used by ${other.fileName}`);
      continue;
    }
    const text = readFileSync(join(directory, fileName), 'utf8');
    try {
      const statements = splitStatements(text);
      if (statements.length === 0) throw new Error('no statements');
      byVersion.set(version, {
        version,
        name: match[2],
        fileName,
        statements,
        requires: readRequirements(text),
        checksum: createHash('sha256').update(text.replace(/\r\n/g, '\n')).digest('hex'),
      });
    } catch (error) {
      problems.push(`${fileName}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (problems.length > 0) throw new ClickHouseMigrationError(`bad ClickHouse migration files in ${directory}:\n- ${problems.join('\n- ')}`);
  return [...byVersion.values()].sort((a, b) => a.version - b.version);
}

/** `-- requires:` lines from the comment block at the top of the file. */
export function readRequirements(text: string): VersionRequirement[] {
  const requirements: VersionRequirement[] = [];
  for (const line of text.split(/\r?\n/)) {
    const trimmed = line.trim();
    if (trimmed === '') continue;
    if (!trimmed.startsWith('--')) break; // the header ends at the first statement line
    const match = /^--\s*requires\s*:(.*)$/i.exec(trimmed);
    if (match !== null) requirements.push(parseRequirement(match[1]));
  }
  return requirements;
}
