/**
 * OpenAPI document generated from the routes' zod schemas, and Swagger UI at /docs.
 * Both sit behind the API key like every route but /healthz (the issue's rule): the
 * spec is at /docs/json for `curl -H 'X-API-Key: …'`, and a browser needs a
 * header-setting extension to open the UI.
 *
 * Two plugins because of ordering: `openApiPlugin` must come before every route
 * (@fastify/swagger collects routes as they are added), `docsUiPlugin` adds routes of
 * its own and so comes after the auth plugin like any other route.
 */
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

export const DOCS_PREFIX = '/docs';

const openApi: FastifyPluginAsync = async (app) => {
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'flowbill API',
        version: '1',
        description:
          'Read access to metered subscriber usage. Counters (bytes, packets) are decimal strings: ' +
          'they are UInt64 in storage and can exceed 2^53, beyond which JSON numbers lose precision.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <API key>' },
          apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        },
      },
      // Either scheme is enough; /healthz overrides this with an empty list.
      security: [{ bearerAuth: [] }, { apiKeyHeader: [] }],
      tags: [
        { name: 'usage', description: 'Metered traffic per subscriber' },
        { name: 'operations', description: 'Health and metrics' },
      ],
    },
    transform: jsonSchemaTransform,
  });
};

const docsUi: FastifyPluginAsync = async (app) => {
  await app.register(fastifySwaggerUi, { routePrefix: DOCS_PREFIX });
};

export const openApiPlugin = fp(openApi, { name: 'flowbill-openapi', fastify: '5.x' });
export const docsUiPlugin = fp(docsUi, { name: 'flowbill-docs-ui', fastify: '5.x', dependencies: ['flowbill-openapi'] });
