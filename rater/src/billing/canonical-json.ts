import { createHash } from 'node:crypto';

/**
 * JSON with object keys sorted at every level, so two equal values always serialise to
 * the same text whatever order their keys were built in. Used to fingerprint a rating
 * basis ("was this period rated on these exact terms already?").
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function fingerprint(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0));
    return Object.fromEntries(entries.map(([key, item]) => [key, sortKeys(item)]));
  }
  if (typeof value === 'bigint') return value.toString();
  return value;
}
