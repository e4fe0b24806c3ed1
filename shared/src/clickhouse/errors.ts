/**
 * Errors from ClickHouse, split by what a caller should do about them:
 * - ClickHouseError: the server answered and refused (bad SQL, unknown table, bad data).
 *   Retrying the same request will fail the same way.
 * - ClickHouseConnectionError: no answer (refused, reset, timeout). The flusher retries
 *   these with backoff; the data waits in Redis.
 */

export class ClickHouseError extends Error {
  override readonly name = 'ClickHouseError';
  /** ClickHouse's numeric error code (e.g. 60 = unknown table, 62 = syntax error). */
  readonly code: number;
  /** The symbolic name (UNKNOWN_TABLE) when the server sends one (21.x and later). */
  readonly type: string | undefined;
  /** The server's message without the "Code: N" prefix and version suffix. */
  readonly serverMessage: string;

  constructor(details: ServerErrorDetails, context: string) {
    super(`ClickHouse error ${details.code}${details.type ? ` (${details.type})` : ''}: ${details.message} [${context}]`);
    this.code = details.code;
    this.type = details.type;
    this.serverMessage = details.message;
  }
}

export class ClickHouseConnectionError extends Error {
  override readonly name = 'ClickHouseConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface ServerErrorDetails {
  readonly code: number;
  readonly type: string | undefined;
  readonly message: string;
}

// 18.16 - 20.x: "Code: 60, e.displayText() = DB::Exception: Table x doesn't exist., e.what() = DB::Exception"
// (19.x+ may append " (version 20.3.1.1)").
// 21.x and later: "Code: 60. DB::Exception: Table x doesn't exist. (UNKNOWN_TABLE) (version 23.8.1.1)".
const SERVER_ERROR = /Code: (\d+)(?:, e\.displayText\(\) = |\. )(?:DB::)?Exception: ([\s\S]*)/;

/** Parse the text ClickHouse sends with a failed request; undefined if it is not one. */
export function parseServerError(text: string): ServerErrorDetails | undefined {
  const match = SERVER_ERROR.exec(text);
  if (match === null) return undefined;
  let message = match[2].trim();
  message = message.replace(/,? ?e\.what\(\) = [\w:]+$/, '').trim();
  message = message.replace(/\s*\(version [^()]*(?:\([^()]*\))?\)\s*$/, '').trim();
  let type: string | undefined;
  const typeMatch = /\s*\(([A-Z][A-Z0-9_]{2,})\)\s*$/.exec(message);
  if (typeMatch !== null) {
    type = typeMatch[1];
    message = message.slice(0, typeMatch.index).trim();
  }
  message = message.replace(/,$/, '');
  return { code: Number(match[1]), type, message };
}

// Node's socket error codes that mean "no usable answer": retryable.
const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

/**
 * Turn whatever the HTTP layer threw into one of the two error classes. `context` names
 * the operation and the start of the SQL, so a log line says which statement failed.
 */
export function toClickHouseError(error: unknown, context: string): Error {
  if (error instanceof ClickHouseError || error instanceof ClickHouseConnectionError) return error;
  const err = error instanceof Error ? error : new Error(String(error));
  // @clickhouse/client parses only the 21.x+ format into its own error with a numeric
  // code string; 18.16's format arrives as a plain Error carrying the raw text.
  const fromClient = err as Error & { code?: unknown; type?: unknown };
  if (typeof fromClient.code === 'string' && /^\d+$/.test(fromClient.code)) {
    const type = typeof fromClient.type === 'string' ? fromClient.type : undefined;
    const parsed = parseServerError(`Code: ${fromClient.code}. DB::Exception: ${err.message}`);
    return new ClickHouseError({ code: Number(fromClient.code), type, message: parsed?.message ?? err.message }, context);
  }
  const parsed = parseServerError(err.message);
  if (parsed !== undefined) return new ClickHouseError(parsed, context);
  const socketCode = typeof fromClient.code === 'string' ? fromClient.code : undefined;
  if ((socketCode !== undefined && CONNECTION_CODES.has(socketCode)) || /timeout|socket hang up|aborted/i.test(err.message)) {
    return new ClickHouseConnectionError(`ClickHouse unreachable: ${err.message}${socketCode ? ` (${socketCode})` : ''} [${context}]`, { cause: err });
  }
  // Anything else (a proxy's HTML page, a JSON parse failure of a cut-off response) is
  // treated as a connection problem: the request may not have been processed.
  return new ClickHouseConnectionError(`ClickHouse request failed: ${err.message} [${context}]`, { cause: err });
}

/** First line of a statement, shortened, for error messages. */
export function statementContext(operation: string, sqlText: string): string {
  const oneLine = sqlText.replace(/\s+/g, ' ').trim();
  return `${operation}: ${oneLine.length > 120 ? `${oneLine.slice(0, 120)}…` : oneLine}`;
}
