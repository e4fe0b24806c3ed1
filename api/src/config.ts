/**
 * The API process's configuration from the environment. Store locations use the
 * shared definitions (same variable names and defaults as the collector and flusher);
 * a wrong value stops start-up with a ConfigError naming the variable.
 */
import { envInt, envString, parseEnv, storesSchema } from '@flowbill/shared/config/index';
import { z } from 'zod';

export const apiConfigSchema = storesSchema.pick({ DATABASE_URL: true, CLICKHOUSE_URL: true, CLICKHOUSE_DATABASE: true }).extend({
  // Loopback by default: exposing the API is a deliberate act (a reverse proxy with TLS).
  API_HOST: envString('127.0.0.1', /^[A-Za-z0-9.:-]{1,253}$/, 'a host name or IP address to listen on'),
  API_PORT: envInt(1, 65535, 8080),
  /** How long a verified API key is trusted without asking PostgreSQL: the revocation delay. */
  API_KEY_CACHE_SECONDS: envInt(0, 3600, 30),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { error: 'expected fatal, error, warn, info, debug, trace or silent' })
    .default('info'),
});

export type ApiConfig = z.infer<typeof apiConfigSchema>;

export function loadApiConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): ApiConfig {
  return parseEnv(apiConfigSchema, env);
}
