import { describe, expect, it } from 'vitest';
import { dateTime, ident, int, list, qualified, sql, SqlFragment, SqlValueError, str, toEpochSeconds, toUInt64, uint64 } from './sql.js';

describe('str', () => {
  it('quotes plain text unchanged', () => {
    expect(str('internet').text).toBe("'internet'");
    expect(str('').text).toBe("''");
    expect(str('ünïcødé 😀').text).toBe("'ünïcødé 😀'");
  });

  it('escapes backslash before quote, so \\\' cannot close the literal', () => {
    expect(str("it's").text).toBe("'it\\'s'");
    expect(str('a\\b').text).toBe("'a\\\\b'");
    // A trailing backslash would otherwise escape the closing quote.
    expect(str('x\\').text).toBe("'x\\\\'");
    expect(str("\\'").text).toBe("'\\\\\\''");
  });

  it('escapes NUL, line breaks, tabs and other control characters', () => {
    expect(str('a\0b').text).toBe("'a\\0b'");
    expect(str('a\nb\rc\td').text).toBe("'a\\nb\\rc\\td'");
    expect(str('\x01\x1f\x7f').text).toBe("'\\x01\\x1f\\x7f'");
  });

  it('never leaves an unescaped quote or raw control character inside the literal', () => {
    const hostile = "'; DROP TABLE usage_1m; --\\'\0\n\r\x1b";
    const inner = str(hostile).text.slice(1, -1);
    // Every quote inside is preceded by an odd run of backslashes (escaped).
    for (const match of inner.matchAll(/(\\*)'/g)) expect(match[1].length % 2).toBe(1);
    // eslint-disable-next-line no-control-regex
    expect(inner).not.toMatch(/[\x00-\x1f\x7f]/);
  });

  it('rejects lone surrogates and non-strings', () => {
    expect(() => str('a\uD800b')).toThrow(SqlValueError);
    expect(() => str('\uDC00')).toThrow(/surrogate/);
    expect(() => str(42 as unknown as string)).toThrow(/expected a string/);
  });
});

describe('ident and qualified', () => {
  it('backquotes plain names', () => {
    expect(ident('usage_1m').text).toBe('`usage_1m`');
    expect(qualified('flowbill', 'usage_1h').text).toBe('`flowbill`.`usage_1h`');
  });

  it.each(['', '1abc', 'a-b', 'a b', 'a`b', 'a.b', "a'b", 'x'.repeat(129), 'usage_1m; DROP TABLE x'])('rejects %j', (name) => {
    expect(() => ident(name)).toThrow(SqlValueError);
  });
});

describe('numbers', () => {
  it('int accepts safe integers and bigint only', () => {
    expect(int(0).text).toBe('0');
    expect(int(-5).text).toBe('-5');
    expect(int(123n).text).toBe('123');
    for (const bad of [1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1' as unknown as number]) {
      expect(() => int(bad)).toThrow(SqlValueError);
    }
  });

  it('uint64 covers the full range exactly and nothing beyond', () => {
    expect(uint64(18446744073709551615n).text).toBe('18446744073709551615');
    expect(uint64('9007199254740993').text).toBe('9007199254740993');
    expect(toUInt64(7)).toBe(7n);
    for (const bad of [-1n, 1n << 64n, '-1', '1e3', '01', ' 1', '18446744073709551616', 1.5, -1]) {
      expect(() => uint64(bad as bigint)).toThrow(SqlValueError);
    }
  });
});

describe('dateTime', () => {
  it('emits toDateTime(epoch seconds) from seconds or a whole-second Date', () => {
    expect(dateTime(1_700_000_040).text).toBe('toDateTime(1700000040)');
    expect(dateTime(new Date('2023-11-14T22:14:00Z')).text).toBe('toDateTime(1700000040)');
    expect(toEpochSeconds(0)).toBe(0);
    expect(toEpochSeconds(0xffff_ffff)).toBe(4294967295);
  });

  it('rejects fractions, invalid dates and values outside the DateTime range', () => {
    expect(() => dateTime(new Date('2023-11-14T22:14:00.500Z'))).toThrow(/whole second/);
    expect(() => dateTime(new Date('nope'))).toThrow(/invalid Date/);
    expect(() => dateTime(1.5)).toThrow(SqlValueError);
    expect(() => dateTime(-1)).toThrow(/outside/);
    expect(() => dateTime(2 ** 32)).toThrow(/outside/);
    expect(() => dateTime('1700000040' as unknown as number)).toThrow(SqlValueError);
  });
});

describe('sql tag', () => {
  it('splices fragments', () => {
    const q = sql`SELECT count() FROM ${ident('t')} WHERE id = ${str("o'k")} AND n IN ${list([int(1), int(2)])}`;
    expect(q.text).toBe("SELECT count() FROM `t` WHERE id = 'o\\'k' AND n IN (1, 2)");
    expect(sql`SELECT ${q}`.text).toBe(`SELECT ${q.text}`);
  });

  it('refuses raw values: a forgotten str() throws instead of becoming SQL', () => {
    const id = "x' OR 1=1 --";
    expect(() => sql`SELECT * FROM t WHERE id = ${id as unknown as SqlFragment}`).toThrow(/value #1 is a string/);
    expect(() => sql`SELECT ${5 as unknown as SqlFragment}`).toThrow(SqlValueError);
    expect(() => list([])).toThrow(/empty/);
    expect(() => list(['a' as unknown as SqlFragment])).toThrow(SqlValueError);
  });

  it('fragments cannot be forged or changed outside the module', () => {
    expect(() => new SqlFragment(Symbol('SqlFragment') as never, 'DROP TABLE x')).toThrow(TypeError);
    const fragment = str('a');
    expect(() => {
      (fragment as { text: string }).text = 'DROP TABLE x';
    }).toThrow(TypeError);
    expect(fragment.text).toBe("'a'");
  });
});
