/**
 * Deny by default: every route needs an API key unless it opts out with
 * `config: { public: true }` (only /healthz does). A route added by a later plugin is
 * therefore protected without anyone remembering to protect it. The hook is global
 * (fastify-plugin), so unknown paths answer 401 too rather than revealing what exists.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from 'pg';
import { DependencyUnavailableError, errorPayload } from '../errors.js';
import { ApiKeyVerifier, type ApiKeyIdentity } from './api-keys.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Serve without an API key. */
    public?: boolean;
  }
  interface FastifyRequest {
    /** The key that authenticated this request; null on public routes. */
    apiKey: ApiKeyIdentity | null;
  }
}

export interface AuthPluginOptions {
  pool: Pool;
  cacheTtlMs: number;
  now?: () => number;
}

/** `Authorization: Bearer <key>` or `X-API-Key: <key>`; undefined when neither is present. */
export function presentedApiKey(request: FastifyRequest): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization) {
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
    if (match) return match[1];
  }
  const header = request.headers['x-api-key'];
  const value = Array.isArray(header) ? header[0] : header;
  return value?.trim() || undefined;
}

const authPlugin: FastifyPluginAsync<AuthPluginOptions> = async (app, options) => {
  const verifier = new ApiKeyVerifier({ pool: options.pool, cacheTtlMs: options.cacheTtlMs, now: options.now });
  app.decorateRequest('apiKey', null);

  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.config.public === true) return;
    const key = presentedApiKey(request);
    if (key === undefined) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer')
        .send(errorPayload(401, 'an API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"'));
    }
    let identity: ApiKeyIdentity | null;
    try {
      identity = await verifier.verify(key);
    } catch (err) {
      // Cannot tell a good key from a bad one: say "try later", not "bad key".
      throw new DependencyUnavailableError('postgresql', { cause: err });
    }
    if (!identity) {
      request.log.info('rejected an unknown or revoked API key');
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send(errorPayload(401, 'the API key is not valid'));
    }
    request.apiKey = identity;
    // Every later log line of this request says which client made it.
    request.log = request.log.child({ apiKeyId: identity.id });
  });
};

export default fp(authPlugin, { name: 'flowbill-auth', fastify: '5.x' });
