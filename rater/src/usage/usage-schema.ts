import { z } from 'zod';
import { identifier, instant } from '../schema/primitives.js';

const BYTES_MESSAGE =
  'bytes must be a non-negative integer given as a decimal string (e.g. "1073741824") or a bigint; JSON numbers are refused because they lose precision above 2^53';

const byteCount = z.union([z.bigint().nonnegative(), z.string().regex(/^\d+$/).transform((digits) => BigInt(digits))], { error: BYTES_MESSAGE });

/**
 * Traffic of one subscriber in one class and direction during a short interval
 * (an hour or less). Only the start matters for rating: the whole bucket is
 * priced by the plan and time window in force at its start.
 */
export const usageBucketSchema = z.object({
  start: instant,
  class: identifier,
  direction: z.enum(['download', 'upload']),
  bytes: byteCount,
});
export type UsageBucket = z.infer<typeof usageBucketSchema>;
export type UsageBucketInput = z.input<typeof usageBucketSchema>;

export const usageSchema = z.array(usageBucketSchema);
