import { describe, expect, it } from 'vitest';
import { ClickHouseConnectionError, ClickHouseError, parseServerError, toClickHouseError } from './errors.js';
import { readRequirements } from './migration-files.js';
import { compareVersions, parseRequirement, parseServerVersion, satisfies } from './version.js';

describe('parseServerError', () => {
  it('reads the 18.16 format', () => {
    const text = "Code: 60, e.displayText() = DB::Exception: Table test.nope doesn't exist., e.what() = DB::Exception\n";
    expect(parseServerError(text)).toEqual({ code: 60, type: undefined, message: "Table test.nope doesn't exist." });
  });

  it('reads the 19.x/20.x format with a version suffix', () => {
    const text = 'Code: 62, e.displayText() = DB::Exception: Syntax error: failed at position 1 (version 20.3.5.21 (official build))';
    expect(parseServerError(text)).toMatchObject({ code: 62, message: 'Syntax error: failed at position 1' });
  });

  it('reads the 21.x+ format with the symbolic type', () => {
    const text = "Code: 60. DB::Exception: Table default.nope does not exist. (UNKNOWN_TABLE) (version 24.8.4.13 (official build))\n";
    expect(parseServerError(text)).toEqual({ code: 60, type: 'UNKNOWN_TABLE', message: 'Table default.nope does not exist.' });
  });

  it('returns undefined for text that is not a ClickHouse error', () => {
    expect(parseServerError('<html>502 Bad Gateway</html>')).toBeUndefined();
  });
});

describe('toClickHouseError', () => {
  it('classifies server refusals and transport failures', () => {
    const server = toClickHouseError(new Error('Code: 47, e.displayText() = DB::Exception: Unknown identifier: x, e.what() = DB::Exception'), 'query: SELECT x');
    expect(server).toBeInstanceOf(ClickHouseError);
    expect((server as ClickHouseError).code).toBe(47);
    expect(server.message).toContain('query: SELECT x');

    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    expect(toClickHouseError(refused, 'ping')).toBeInstanceOf(ClickHouseConnectionError);
    expect(toClickHouseError(new Error('Timeout error.'), 'query')).toBeInstanceOf(ClickHouseConnectionError);
  });
});

describe('versions', () => {
  it('parses version() output of old and new servers', () => {
    expect(parseServerVersion('18.16.1')).toEqual({ major: 18, minor: 16, patch: 1, text: '18.16.1' });
    expect(parseServerVersion('24.8.4.13')).toMatchObject({ major: 24, minor: 8, patch: 4 });
    expect(() => parseServerVersion('unknown')).toThrow(/not a ClickHouse version/);
  });

  it('compares numerically, not as text', () => {
    expect(compareVersions(parseServerVersion('18.16.1'), parseServerVersion('20.3.0'))).toBeLessThan(0);
    expect(compareVersions(parseServerVersion('19.10.0'), parseServerVersion('19.6.2'))).toBeGreaterThan(0);
  });

  it('evaluates requirements', () => {
    const old = parseServerVersion('18.16.1');
    const current = parseServerVersion('24.8.4.13');
    const ttl = parseRequirement('clickhouse >= 20.3');
    expect(ttl.text).toBe('clickhouse >= 20.3.0');
    expect(satisfies(old, ttl)).toBe(false);
    expect(satisfies(current, ttl)).toBe(true);
    expect(satisfies(old, parseRequirement('clickhouse < 19'))).toBe(true);
    expect(satisfies(old, parseRequirement('clickhouse = 18.16.1'))).toBe(true);
    expect(satisfies(old, parseRequirement('clickhouse > 18.16.1'))).toBe(false);
    expect(satisfies(old, parseRequirement('clickhouse <= 18.16'))).toBe(false);
    expect(() => parseRequirement('clickhouse ~ 20')).toThrow(/bad version requirement/);
  });

  it('reads requires lines from the header only', () => {
    const text = '-- requires: clickhouse >= 20.3\n--requires:clickhouse < 30\n\nSELECT 1;\n-- requires: clickhouse >= 99\n';
    expect(readRequirements(text).map((r) => r.text)).toEqual(['clickhouse >= 20.3.0', 'clickhouse < 30.0.0']);
    expect(() => readRequirements('-- requires: postgres >= 15\nSELECT 1')).toThrow(/bad version requirement/);
  });
});
