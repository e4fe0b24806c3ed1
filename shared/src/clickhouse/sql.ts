/**
 * Building ClickHouse SQL text from values without injection.
 *
 * ClickHouse 18.16 has no server-side query parameters, so every value reaches the server
 * as a literal inside the SQL text. The only way to put a value there is through one of
 * the functions below, each of which validates or escapes it and returns a `SqlFragment`;
 * the `sql` template tag accepts nothing else, so a raw string interpolated by mistake
 * throws instead of becoming SQL.
 */

// Only this module holds the token, so only this module can make a fragment: code
// elsewhere cannot wrap an unchecked string and pass it off as SQL.
const TOKEN: unique symbol = Symbol('SqlFragment');

/** A piece of SQL made by this module (never from unchecked input). */
export class SqlFragment {
  readonly text: string;

  constructor(token: typeof TOKEN, text: string) {
    if (token !== TOKEN) throw new TypeError('SqlFragment: use sql``, str(), int(), uint64(), dateTime() or ident()');
    this.text = text;
    Object.freeze(this);
  }

  toString(): string {
    return this.text;
  }
}

function fragment(text: string): SqlFragment {
  return new SqlFragment(TOKEN, text);
}

export class SqlValueError extends TypeError {
  override readonly name = 'SqlValueError';
}

/**
 * `sql\`SELECT ... WHERE id = ${str(id)}\`` — every interpolated value must be a
 * SqlFragment (from str, int, uint64, dateTime, ident, qualified, list or another sql``).
 */
export function sql(strings: TemplateStringsArray, ...values: readonly SqlFragment[]): SqlFragment {
  let text = strings[0];
  values.forEach((value, i) => {
    if (!(value instanceof SqlFragment)) {
      throw new SqlValueError(
        `sql\`\`: value #${i + 1} is a ${describe(value)}, not a SqlFragment; wrap it with str(), int(), uint64(), dateTime() or ident()`,
      );
    }
    text += value.text + strings[i + 1];
  });
  return fragment(text);
}

/** The SQL text of a statement given as a string (trusted: migration files) or a fragment. */
export function sqlText(statement: string | SqlFragment): string {
  return typeof statement === 'string' ? statement : statement.text;
}

// Characters escaped inside a quoted string. Backslash and quote are the ones that
// matter for the grammar; control characters are escaped too so a literal never
// contains a raw NUL or line break (log lines, error messages and the 18.16 parser stay sane).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const NAMED_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\0': '\\0',
};

/** A string literal: '...' with backslash, quote and control characters escaped. */
export function str(value: string): SqlFragment {
  if (typeof value !== 'string') throw new SqlValueError(`str(): expected a string, got a ${describe(value)}`);
  // A lone surrogate would be silently replaced by U+FFFD when encoded to UTF-8, so the
  // server would compare against a different string than the caller holds.
  if (LONE_SURROGATE.test(value)) throw new SqlValueError('str(): string contains a lone UTF-16 surrogate');
  // eslint-disable-next-line no-control-regex
  const escaped = value.replace(/[\\'\x00-\x1f\x7f]/g, (ch) => {
    return NAMED_ESCAPES[ch] ?? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return fragment(`'${escaped}'`);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** True for names `ident()` accepts: letters, digits and _, not starting with a digit, at most 128. */
export function isValidIdentifier(name: string): boolean {
  return typeof name === 'string' && IDENTIFIER.test(name);
}

/**
 * An identifier (database, table, column) in backquotes. Only plain names are accepted
 * rather than escaping arbitrary ones: every name this project uses is plain, and a name
 * that is not is far more likely an attack or a bug than a real table.
 */
export function ident(name: string): SqlFragment {
  if (!isValidIdentifier(name)) {
    throw new SqlValueError(`ident(): ${JSON.stringify(name)} is not a plain identifier (letters, digits, _; not starting with a digit; at most 128)`);
  }
  return fragment(`\`${name}\``);
}

/** `database`.`table`. */
export function qualified(database: string, table: string): SqlFragment {
  return fragment(`${ident(database).text}.${ident(table).text}`);
}

/** A signed integer literal from a safe-integer number or a bigint. */
export function int(value: number | bigint): SqlFragment {
  if (typeof value === 'bigint') return fragment(value.toString());
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new SqlValueError(`int(): expected a safe integer or bigint, got ${describeValue(value)}`);
  }
  return fragment(String(value));
}

const UINT64_MAX = (1n << 64n) - 1n;

/** An unsigned 64-bit literal from a bigint, a safe-integer number or a decimal digit string. */
export function uint64(value: bigint | number | string): SqlFragment {
  return fragment(toUInt64(value).toString());
}

/** Validate a UInt64 value (as used for counters); returns it as a bigint. */
export function toUInt64(value: bigint | number | string): bigint {
  let big: bigint;
  if (typeof value === 'bigint') big = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) big = BigInt(value);
  else if (typeof value === 'string' && /^(0|[1-9][0-9]{0,19})$/.test(value)) big = BigInt(value);
  else throw new SqlValueError(`expected a UInt64 (bigint, safe integer or decimal string), got ${describeValue(value)}`);
  if (big < 0n || big > UINT64_MAX) throw new SqlValueError(`${big} is outside UInt64 [0, 2^64-1]`);
  return big;
}

/** ClickHouse DateTime range: a UInt32 of seconds since the epoch. */
export const DATETIME_MAX_SECONDS = 0xffff_ffff;

/**
 * Validate a DateTime given as epoch seconds or a Date; returns epoch seconds.
 * Fractions of a second are rejected rather than truncated: a truncated bound would
 * silently move a half-open range.
 */
export function toEpochSeconds(value: number | Date): number {
  let seconds: number;
  if (value instanceof Date) {
    const ms = value.getTime();
    if (!Number.isFinite(ms)) throw new SqlValueError('dateTime(): invalid Date');
    if (ms % 1000 !== 0) throw new SqlValueError(`dateTime(): ${value.toISOString()} is not a whole second`);
    seconds = ms / 1000;
  } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
    seconds = value;
  } else {
    throw new SqlValueError(`dateTime(): expected whole epoch seconds or a Date, got ${describeValue(value)}`);
  }
  if (seconds < 0 || seconds > DATETIME_MAX_SECONDS) {
    throw new SqlValueError(`dateTime(): ${seconds} is outside the DateTime range [0, ${DATETIME_MAX_SECONDS}] seconds`);
  }
  return seconds;
}

/**
 * A DateTime value as `toDateTime(<epoch seconds>)`. A number converts to the same
 * instant whatever the server's time zone, unlike a 'YYYY-MM-DD hh:mm:ss' string.
 */
export function dateTime(value: number | Date): SqlFragment {
  return fragment(`toDateTime(${toEpochSeconds(value)})`);
}

/** `(a, b, c)` for IN lists; an empty list is refused because `IN ()` is a syntax error. */
export function list(items: readonly SqlFragment[]): SqlFragment {
  if (items.length === 0) throw new SqlValueError('list(): empty list');
  for (const item of items) {
    if (!(item instanceof SqlFragment)) throw new SqlValueError(`list(): item is a ${describe(item)}, not a SqlFragment`);
  }
  return fragment(`(${items.map((item) => item.text).join(', ')})`);
}

function describe(value: unknown): string {
  return value === null ? 'null' : typeof value;
}

function describeValue(value: unknown): string {
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${describe(value)}`;
}
