/**
 * Splitting a migration file into statements. ClickHouse's HTTP interface runs exactly
 * one statement per request, so `a; b;` must be sent as two requests.
 *
 * A `;` ends a statement only outside '...' strings, "..." and `...` identifiers,
 * -- line comments and block comments. Comments before a statement and comment-only
 * pieces are dropped; comments inside a statement are kept.
 */
export function splitStatements(text: string): string[] {
  const statements: string[] = [];
  let current = '';
  let hasCode = false;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const ch = text[i];
    const next = text[i + 1];
    if (ch === '-' && next === '-') {
      const end = text.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      if (hasCode) current += text.slice(i, stop); // leading comments are dropped
      i = stop;
    } else if (ch === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      if (end === -1) throw new SyntaxError(`unterminated /* comment at offset ${i}`);
      if (hasCode) current += text.slice(i, end + 2);
      i = end + 2;
    } else if (ch === "'" || ch === '"' || ch === '`') {
      const end = closingQuote(text, i);
      current += text.slice(i, end + 1);
      hasCode = true;
      i = end + 1;
    } else if (ch === ';') {
      if (hasCode) statements.push(current.trim());
      current = '';
      hasCode = false;
      i++;
    } else {
      if (!/\s/.test(ch)) hasCode = true;
      current += ch;
      i++;
    }
  }
  if (hasCode) statements.push(current.trim());
  return statements;
}

/** Index of the quote closing the one at `start`; backslash escapes and doubled quotes both stay inside. */
function closingQuote(text: string, start: number): number {
  const quote = text[start];
  let i = start + 1;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '\\') {
      i += 2;
    } else if (ch === quote) {
      if (text[i + 1] === quote) i += 2;
      else return i;
    } else {
      i++;
    }
  }
  throw new SyntaxError(`unterminated ${quote} quote starting at offset ${start}`);
}
