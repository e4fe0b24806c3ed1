/**
 * /healthz: the one public route (load balancers and orchestrators probe it without a
 * key). Each dependency is probed in parallel with a short timeout, so a hung store
 * makes the probe answer 503 quickly instead of hanging the prober.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { TimeoutError, withTimeout } from '../timeout.js';

export type HealthCheck = () => Promise<unknown>;

export interface HealthPluginOptions {
  /** Dependency name → probe; a probe fails by throwing or by exceeding timeoutMs. */
  checks: Record<string, HealthCheck>;
  timeoutMs: number;
}

const checkResult = z.object({
  status: z.enum(['ok', 'failing']),
  latencyMs: z.number().describe('How long the probe took (up to the timeout)'),
  error: z.enum(['timeout', 'failed']).optional().describe('Why the probe failed; details are in the server log'),
});

const healthBody = z.object({
  status: z.enum(['ok', 'unavailable']),
  checks: z.record(z.string(), checkResult).describe('One entry per dependency, e.g. postgresql, clickhouse'),
});

const healthPlugin: FastifyPluginAsyncZod<HealthPluginOptions> = async (app, { checks, timeoutMs }) => {
  app.get(
    '/healthz',
    {
      config: { public: true },
      schema: {
        tags: ['operations'],
        summary: 'Liveness and dependency reachability',
        description: `No API key needed. Probes every dependency with a ${timeoutMs} ms timeout; 503 names the failing ones.`,
        security: [],
        response: { 200: healthBody, 503: healthBody },
      },
    },
    async (request, reply) => {
      const entries = await Promise.all(
        Object.entries(checks).map(async ([name, probe]) => {
          const started = performance.now();
          try {
            // then(): a probe that throws synchronously is a failed probe, not a 500.
            await withTimeout(Promise.resolve().then(probe), timeoutMs, name);
            return [name, { status: 'ok' as const, latencyMs: Math.round(performance.now() - started) }] as const;
          } catch (err) {
            const latencyMs = Math.round(performance.now() - started);
            request.log.warn({ err, dependency: name }, 'health check failed');
            // The route is public: say which dependency fails, keep addresses and
            // driver messages in the log.
            const error = err instanceof TimeoutError ? 'timeout' : 'failed';
            return [name, { status: 'failing' as const, latencyMs, error }] as const;
          }
        }),
      );
      const healthy = entries.every(([, result]) => result.status === 'ok');
      return reply.code(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'unavailable', checks: Object.fromEntries(entries) });
    },
  );
};

export default healthPlugin;
