/** Where the stores are: shared by every service. Defaults match a local install. */
import { z } from 'zod';
import { envString, envUrl, parseEnv } from './env.js';

export const storesSchema = z.object({
  REDIS_URL: envUrl(['redis:', 'rediss:'], 'redis://127.0.0.1:6379'),
  /** Key prefix, so several deployments (or test runs) can share one Redis. */
  REDIS_PREFIX: envString('flowbill:', /^[A-Za-z0-9_.:-]{1,64}$/, 'letters, digits, _ . : - (at most 64)'),
  CLICKHOUSE_URL: envUrl(['http:', 'https:'], 'http://127.0.0.1:8123'),
  CLICKHOUSE_DATABASE: envString('flowbill', /^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'a database name (letters, digits, _)'),
  DATABASE_URL: envUrl(['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/flowbill'),
});

export type StoresConfig = z.infer<typeof storesSchema>;

export function loadStoresConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): StoresConfig {
  return parseEnv(storesSchema, env);
}
