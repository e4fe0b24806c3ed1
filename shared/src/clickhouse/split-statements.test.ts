import { describe, expect, it } from 'vitest';
import { splitStatements } from './split-statements.js';

describe('splitStatements', () => {
  it('splits on semicolons and drops leading comments and empty pieces', () => {
    const text = `-- header
-- requires: clickhouse >= 20.3

CREATE TABLE a (x UInt8) ENGINE = Memory;
/* block
   comment; with a semicolon */
CREATE TABLE b (x UInt8) ENGINE = Memory;
;
-- trailing comment only`;
    expect(splitStatements(text)).toEqual(['CREATE TABLE a (x UInt8) ENGINE = Memory', 'CREATE TABLE b (x UInt8) ENGINE = Memory']);
  });

  it('keeps semicolons inside strings, quoted identifiers and comments within a statement', () => {
    const text = `SELECT 'a;b', "c;d", \`e;f\`, 'it\\'s;', 'x'';y' -- note; here
FROM t; SELECT 2`;
    expect(splitStatements(text)).toEqual([`SELECT 'a;b', "c;d", \`e;f\`, 'it\\'s;', 'x'';y' -- note; here\nFROM t`, 'SELECT 2']);
  });

  it('keeps a statement without a final semicolon', () => {
    expect(splitStatements('SELECT 1')).toEqual(['SELECT 1']);
    expect(splitStatements('  \n-- nothing\n')).toEqual([]);
  });

  it('rejects unterminated quotes and comments instead of guessing', () => {
    expect(() => splitStatements("SELECT 'abc; SELECT 2")).toThrow(/unterminated ' quote/);
    expect(() => splitStatements('SELECT 1 /* open')).toThrow(/unterminated/);
  });
});
