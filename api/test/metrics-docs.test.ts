import { describe, expect, it } from 'vitest';
import { withApiStack } from './support/api-stack.js';

const stack = withApiStack();

describe('/metrics', () => {
  it('exposes process metrics and request durations by route template and status', async () => {
    await stack.createSubscriber('sub-1');
    const key = await stack.createApiKey();
    const headers = { 'x-api-key': key };
    await stack.app.inject({ method: 'GET', url: '/v1/subscribers/sub-1/usage?from=2026-03-01T00:00:00Z&to=2026-03-01T01:00:00Z&step=1h', headers });
    await stack.app.inject({ method: 'GET', url: '/v1/subscribers/sub-1/usage?step=1h', headers });
    await stack.app.inject({ method: 'GET', url: '/metrics' });

    const res = await stack.app.inject({ method: 'GET', url: '/metrics', headers });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.body;
    expect(text).toMatch(/^process_cpu_seconds_total \d/m);
    expect(text).toMatch(/^nodejs_eventloop_lag_seconds \d/m);
    expect(text).toContain('# TYPE http_request_duration_seconds histogram');
    // The template, not the URL: no subscriber id in a label.
    expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/v1\/subscribers\/:id\/usage",status_code="200"\} 1$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/v1\/subscribers\/:id\/usage",status_code="400"\} 1$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{method="GET",route="\/metrics",status_code="401"\} 1$/m);
    expect(text).not.toContain('sub-1');
  });
});

describe('/docs', () => {
  it('serves Swagger UI and the OpenAPI document with a key', async () => {
    const key = await stack.createApiKey();
    const headers = { authorization: `Bearer ${key}` };

    const ui = await stack.app.inject({ method: 'GET', url: '/docs', headers });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/^text\/html/);
    expect(ui.body).toContain('swagger-ui');

    const spec = await stack.app.inject({ method: 'GET', url: '/docs/json', headers });
    expect(spec.statusCode).toBe(200);
    const doc = spec.json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual(['/healthz', '/metrics', '/v1/invoices/{invoiceId}', '/v1/invoices/{invoiceId}/credit-notes', '/v1/subscribers/{id}/charges/current', '/v1/subscribers/{id}/invoices', '/v1/subscribers/{id}/line-items', '/v1/subscribers/{id}/usage']);
    expect(doc.components.securitySchemes).toMatchObject({
      bearerAuth: { type: 'http', scheme: 'bearer' },
      apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
    });
    expect(doc.paths['/healthz'].get.security).toEqual([]);

    const usage = doc.paths['/v1/subscribers/{id}/usage'].get;
    expect(usage.description).toContain('2^53');
    expect(usage.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`).sort()).toEqual([
      'path:id',
      'query:from',
      'query:step',
      'query:to',
    ]);
    expect(Object.keys(usage.responses).sort()).toEqual(['200', '400', '401', '404', '503']);
    const ok = usage.responses['200'].content['application/json'].schema;
    expect(ok.required).toEqual(['subscriberId', 'from', 'to', 'step', 'series', 'totals']);
    expect(ok.properties.totals.properties.bytes).toMatchObject({ type: 'string', description: expect.stringContaining('All bytes') });
    expect(ok.properties.series.items.properties.download.additionalProperties.properties.bytes.description).toContain('2^53');
  });
});
