/**
 * GET /v1/subscribers/:id/usage — metered traffic of one subscriber, read from the
 * ClickHouse rollups. Read-only: the API never writes usage and never prices it.
 */
import {
  ClickHouseConnectionError,
  UsageRangeError,
  usageSeries,
  type ClickHouse,
  type UsageSeries,
} from '@flowbill/shared/clickhouse/index';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Pool } from 'pg';
import { DependencyUnavailableError, errorBody, errorPayload } from '../errors.js';
import { subscriberIdParams, usageQuery } from './query-schema.js';
import { toUsageResponse, usageResponse } from './response.js';

export interface UsagePluginOptions {
  clickhouse: ClickHouse;
  pool: Pool;
}

const usagePlugin: FastifyPluginAsyncZod<UsagePluginOptions> = async (app, { clickhouse, pool }) => {
  app.get(
    '/v1/subscribers/:id/usage',
    {
      schema: {
        tags: ['usage'],
        summary: 'Usage of one subscriber per time bucket',
        description:
          'Bytes and packets per bucket, direction (download = towards the subscriber, upload = from it) and ' +
          'traffic class over the half-open range [from, to), plus totals. Buckets are UTC minutes, hours or days; ' +
          'from and to must fall on bucket boundaries of the step. Every bucket of the range is listed, zero-filled. ' +
          'Counters are decimal strings because UInt64 sums can exceed 2^53. Minutes still being collected (up to about ' +
          'two minutes old) may grow after they are first read.',
        params: subscriberIdParams,
        querystring: usageQuery,
        response: { 200: usageResponse, 400: errorBody, 401: errorBody, 404: errorBody, 503: errorBody },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const { from, to, step } = request.query;

      let exists: boolean;
      try {
        const result = await pool.query('SELECT 1 FROM subscribers WHERE id = $1', [id]);
        exists = result.rowCount === 1;
      } catch (err) {
        throw new DependencyUnavailableError('postgresql', { cause: err });
      }
      if (!exists) return reply.code(404).send(errorPayload(404, `subscriber ${id} does not exist`));

      let series: UsageSeries;
      try {
        series = await usageSeries(clickhouse, { subscriberId: id, from: new Date(from), to: new Date(to), step });
      } catch (err) {
        if (err instanceof ClickHouseConnectionError) throw new DependencyUnavailableError('clickhouse', { cause: err });
        // The query schema checks the same rules first; this keeps shared's stricter
        // checks (if they ever diverge) a client error rather than a 500.
        if (err instanceof UsageRangeError) return reply.code(400).send(errorPayload(400, err.message));
        throw err;
      }
      return toUsageResponse(series, step);
    },
  );
};

export default usagePlugin;
