/**
 * Validation of what operators type or import, shared by the CSV import, the
 * repository and the CLI so all three accept and reject the same values.
 */
import { InvalidIpError, formatPrefix, parseAddressOrPrefix } from '@flowbill/shared/ip/index';
import { z } from 'zod';
import { parseIsoInstant } from './iso-time.js';

/**
 * The ISP's account id. Same rule as the subscribers_id_charset constraint in
 * shared/migrations/postgres/0001_subscribers.sql: the id travels unescaped through
 * tab-separated Redis fields, ClickHouse rows and URL paths.
 */
export const SUBSCRIBER_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const subscriberIdSchema = z
  .string()
  .regex(SUBSCRIBER_ID_PATTERN, 'subscriber id must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit');

export const subscriberNameSchema = z
  .string()
  .refine((name) => name.trim() !== '', 'name must not be empty')
  // Control characters would break the CSV and TSV outputs and log lines.
  .refine((name) => !/[\u0000-\u001f\u007f]/.test(name), 'name must not contain control characters (tabs, newlines)');

/** Shape only; whether PostgreSQL knows the zone is checked by unknownTimeZones(). */
export const timeZoneSchema = z.string().regex(/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/, 'time zone must be an IANA name such as Europe/Moscow');

/** An address or prefix (host bits clear), in canonical text: "100.64.0.7/32", "2001:db8:1:100::/56". */
export const prefixSchema = z.string().transform((text, context) => {
  try {
    return formatPrefix(parseAddressOrPrefix(text));
  } catch (error) {
    if (!(error instanceof InvalidIpError)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
    return z.NEVER;
  }
});

export const instantSchema = z.string().transform((text, context) => {
  try {
    return parseIsoInstant(text);
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    context.addIssue({ code: 'custom', message: error.message });
    return z.NEVER;
  }
});

/** "field: message" lines from a zod error, for line-numbered import reports. */
export function issueMessages(error: z.ZodError): string[] {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
}
