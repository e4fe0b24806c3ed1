import { describe, expect, it } from 'vitest';
import { withApiStack } from './support/api-stack.js';

const CACHE_TTL_MS = 30_000;
const stack = withApiStack({ apiKeyCacheTtlMs: CACHE_TTL_MS });

const USAGE = '/v1/subscribers/sub-1/usage?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z&step=1h';

describe('API key authentication', () => {
  it('rejects a request without a key with 401 and a JSON error', async () => {
    await stack.createSubscriber('sub-1');
    const res = await stack.app.inject({ method: 'GET', url: USAGE });
    expect(res.statusCode).toBe(401);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(res.json()).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: 'an API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
    });
  });

  it('rejects an unknown key, and a malformed Authorization header', async () => {
    await stack.createApiKey();
    for (const headers of [
      { authorization: 'Bearer fbk_not-a-real-key' },
      { 'x-api-key': 'fbk_not-a-real-key' },
      { authorization: 'Basic dXNlcjpwYXNz' },
    ]) {
      const res = await stack.app.inject({ method: 'GET', url: USAGE, headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(401);
      expect(res.json().error).toBe('Unauthorized');
    }
  });

  it('accepts a valid key as a Bearer token or in X-API-Key', async () => {
    await stack.createSubscriber('sub-1');
    const key = await stack.createApiKey();
    for (const headers of [{ authorization: `Bearer ${key}` }, { authorization: `bearer ${key}` }, { 'x-api-key': key }]) {
      const res = await stack.app.inject({ method: 'GET', url: USAGE, headers });
      expect(res.statusCode, JSON.stringify(headers)).toBe(200);
    }
  });

  it('keeps serving a revoked key until the cache window ends, then refuses it', async () => {
    await stack.createSubscriber('sub-1');
    const key = await stack.createApiKey();
    const headers = { 'x-api-key': key };
    expect((await stack.app.inject({ method: 'GET', url: USAGE, headers })).statusCode).toBe(200);

    await stack.revokeApiKey(key);
    stack.clock.now += CACHE_TTL_MS - 1;
    expect((await stack.app.inject({ method: 'GET', url: USAGE, headers })).statusCode).toBe(200);

    stack.clock.now += 1;
    const res = await stack.app.inject({ method: 'GET', url: USAGE, headers });
    expect(res.statusCode).toBe(401);
    expect(res.json().message).toBe('the API key is not valid');
  });

  it('refuses a revoked key at once when it was not cached', async () => {
    const key = await stack.createApiKey();
    await stack.revokeApiKey(key);
    const res = await stack.app.inject({ method: 'GET', url: USAGE, headers: { 'x-api-key': key } });
    expect(res.statusCode).toBe(401);
  });

  it('protects every route but /healthz, unknown paths included', async () => {
    for (const url of ['/metrics', '/docs', '/docs/json', '/v1/nothing-here']) {
      const res = await stack.app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(401);
    }
    expect((await stack.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    // Fastify derives HEAD routes from GET ones; they must inherit the same rule.
    expect((await stack.app.inject({ method: 'HEAD', url: '/metrics' })).statusCode).toBe(401);
    expect((await stack.app.inject({ method: 'HEAD', url: '/healthz' })).statusCode).toBe(200);
  });

  it('answers 404 for an unknown path once the key is valid', async () => {
    const key = await stack.createApiKey();
    const res = await stack.app.inject({ method: 'GET', url: '/v1/nothing-here', headers: { 'x-api-key': key } });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'no route GET /v1/nothing-here' });
  });
});
