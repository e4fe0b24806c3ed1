/**
 * Prometheus exposition at /metrics (behind the API key like every route but /healthz)
 * and the request-duration histogram every service exports. Labels use the route
 * template, not the URL, so subscriber ids do not explode the series count.
 */
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Histogram, type Registry } from 'prom-client';

export interface MetricsPluginOptions {
  registry: Registry;
}

const DURATION_METRIC = 'http_request_duration_seconds';

const metricsPlugin: FastifyPluginAsync<MetricsPluginOptions> = async (app, { registry }) => {
  // The registry is injected and may be shared (tests, a future combined process), so
  // register into it only what is not there yet; prom-client throws on duplicates.
  if (!registry.getSingleMetric('process_cpu_seconds_total')) collectDefaultMetrics({ register: registry });
  const duration =
    (registry.getSingleMetric(DURATION_METRIC) as Histogram<'method' | 'route' | 'status_code'> | undefined) ??
    new Histogram({
      name: DURATION_METRIC,
      help: 'HTTP request duration in seconds, by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });

  // onResponse runs for every answer, including the 401s the auth hook sends before the
  // handler, and elapsedTime is measured by Fastify from the start of the request.
  app.addHook('onResponse', async (request, reply) => {
    duration.observe(
      { method: request.method, route: request.routeOptions.url ?? 'unmatched', status_code: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics',
        description:
          'Prometheus text exposition format (text/plain; version=0.0.4): process metrics and HTTP request durations. Requires an API key.',
      },
    },
    async (_request, reply) => {
      const body = await registry.metrics();
      return reply.type(registry.contentType).send(body);
    },
  );
};

export default fp(metricsPlugin, { name: 'flowbill-metrics', fastify: '5.x' });
