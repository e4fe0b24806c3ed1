/**
 * Reading configuration from the environment with zod, so a wrong value stops start-up
 * with a message that names the variable and says what was expected.
 */
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parse `env` with a schema whose keys are environment variable names. Every problem is
 * reported (not just the first), each naming its variable and the value it had.
 */
export function parseEnv<S extends z.ZodObject<z.ZodRawShape>>(schema: S, env: NodeJS.ProcessEnv | Record<string, string | undefined>): z.infer<S> {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    // An empty variable means "not set": fall back to the default.
    picked[key] = value === '' ? undefined : value;
  }
  const result = schema.safeParse(picked);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? '?');
    const value = picked[name];
    return `${name}${value === undefined ? ' (not set)' : `=${JSON.stringify(value)}`}: ${issue.message}`;
  });
  throw new ConfigError(problems);
}

/** Helpers for typed environment values. */
export const envInt = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

export const envBool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined) return fallback;
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      if (/^(0|false|no|off)$/i.test(v)) return false;
      ctx.addIssue({ code: 'custom', message: 'expected true or false' });
      return z.NEVER;
    });

export const envUrl = (protocols: string[], fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const text = v ?? fallback;
      try {
        const u = new URL(text);
        if (!protocols.includes(u.protocol)) {
          ctx.addIssue({ code: 'custom', message: `expected a ${protocols.join(' or ')} URL` });
          return z.NEVER;
        }
        return text;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'not a valid URL' });
        return z.NEVER;
      }
    });

export const envString = (fallback: string, pattern?: RegExp, what?: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const text = v ?? fallback;
      if (pattern && !pattern.test(text)) {
        ctx.addIssue({ code: 'custom', message: `expected ${what ?? pattern.source}` });
        return z.NEVER;
      }
      return text;
    });
