import { z } from 'zod';
import { subscriptionSchema, type Subscription } from '../subscription/subscription-schema.js';
import { tariffSchema, type Tariff } from '../tariff/tariff-schema.js';
import { usageSchema, type UsageBucket } from '../usage/usage-schema.js';

/** Input that failed its schema; `issues` are "path: message" lines, e.g. "recurringFees[0].price: must be …". */
export class InputValidationError extends Error {
  override readonly name = 'InputValidationError';

  constructor(
    readonly source: string,
    readonly issues: readonly string[],
  ) {
    super(`${source} is invalid:\n${issues.map((issue) => `  ${issue}`).join('\n')}`);
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}${String(key)}`)).join('');
}

export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
}

function parseWith<Schema extends z.ZodType>(schema: Schema, input: unknown, source: string): z.output<Schema> {
  const result = schema.safeParse(input);
  if (!result.success) throw new InputValidationError(source, formatIssues(result.error));
  return result.data;
}

export function parseTariff(input: unknown, source = 'tariff'): Tariff {
  return parseWith(tariffSchema, input, source);
}

/** A single tariff object, or an array of them (the versions a subscription moves between). */
export function parseTariffs(input: unknown, source = 'tariff'): Tariff[] {
  if (!Array.isArray(input)) return [parseTariff(input, source)];
  return parseWith(z.array(tariffSchema).min(1, 'must contain at least one tariff'), input, source);
}

export function parseSubscription(input: unknown, source = 'subscription'): Subscription {
  return parseWith(subscriptionSchema, input, source);
}

export function parseUsage(input: unknown, source = 'usage'): UsageBucket[] {
  return parseWith(usageSchema, input, source);
}
