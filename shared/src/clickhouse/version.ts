/**
 * ClickHouse server versions and version requirements ("clickhouse >= 20.3"), used to
 * gate migrations that need features 18.16 lacks (TTL, codecs, LowCardinality, IPv4/IPv6).
 */

export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** What `SELECT version()` returned, e.g. "18.16.1" or "24.8.4.13". */
  readonly text: string;
}

export class VersionFormatError extends Error {
  override readonly name = 'VersionFormatError';
}

/** Parse `SELECT version()` output: at least major.minor, extra parts and suffixes ignored. */
export function parseServerVersion(text: string): ServerVersion {
  const match = /^\s*(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  if (match === null) throw new VersionFormatError(`not a ClickHouse version: ${JSON.stringify(text)}`);
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3] ?? 0), text: text.trim() };
}

type Triple = readonly [number, number, number];

export function compareVersions(a: Pick<ServerVersion, 'major' | 'minor' | 'patch'>, b: Pick<ServerVersion, 'major' | 'minor' | 'patch'>): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

export type VersionOperator = '>=' | '>' | '<=' | '<' | '=';

export interface VersionRequirement {
  readonly operator: VersionOperator;
  readonly version: Triple;
  /** As written, for messages and the skip record: "clickhouse >= 20.3". */
  readonly text: string;
}

const REQUIREMENT = /^clickhouse\s*(>=|<=|>|<|=)\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/;

/** Parse "clickhouse >= 20.3" (missing minor/patch are 0). */
export function parseRequirement(text: string): VersionRequirement {
  const trimmed = text.trim();
  const match = REQUIREMENT.exec(trimmed);
  if (match === null) throw new VersionFormatError(`bad version requirement ${JSON.stringify(text)}; expected e.g. "clickhouse >= 20.3"`);
  const version: Triple = [Number(match[2]), Number(match[3] ?? 0), Number(match[4] ?? 0)];
  return { operator: match[1] as VersionOperator, version, text: `clickhouse ${match[1]} ${version.join('.')}` };
}

export function satisfies(server: ServerVersion, requirement: VersionRequirement): boolean {
  const [major, minor, patch] = requirement.version;
  const c = compareVersions(server, { major, minor, patch });
  switch (requirement.operator) {
    case '>=':
      return c >= 0;
    case '>':
      return c > 0;
    case '<=':
      return c <= 0;
    case '<':
      return c < 0;
    case '=':
      return c === 0;
  }
}
