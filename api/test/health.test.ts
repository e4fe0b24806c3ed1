import { createServer, type Server, type Socket } from 'node:net';
import { createClickHouse } from '@flowbill/shared/clickhouse/index';
import { createPool } from '@flowbill/shared/postgres/index';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app.js';
import { withApiStack } from './support/api-stack.js';

const stack = withApiStack({ healthTimeoutMs: 500 });

/** A real TCP listener that accepts connections and never answers: a hung store. */
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((done) => server.close(done));
    },
  };
}

/** A port nothing listens on: bound, read, released. */
async function closedPort(): Promise<number> {
  const probe = await silentServer();
  await probe.close();
  return probe.port;
}

describe('/healthz', () => {
  it('200 without a key when PostgreSQL and ClickHouse answer', async () => {
    const res = await stack.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      status: 'ok',
      checks: {
        postgresql: { status: 'ok', latencyMs: expect.any(Number) },
        clickhouse: { status: 'ok', latencyMs: expect.any(Number) },
      },
    });
  });

  it('503 naming PostgreSQL when it refuses connections, and a hung ClickHouse as a timeout', async () => {
    const hung = await silentServer();
    const pool = createPool(`postgres://postgres@127.0.0.1:${await closedPort()}/flowbill`, { connectionTimeoutMs: 2_000 });
    const clickhouse = createClickHouse({ url: `http://127.0.0.1:${hung.port}`, database: 'flowbill' });
    const app = await buildApp({ clickhouse, postgresPool: pool, metricsRegistry: new Registry(), healthTimeoutMs: 300 });
    try {
      const started = Date.now();
      const res = await app.inject({ method: 'GET', url: '/healthz' });
      expect(Date.now() - started).toBeLessThan(2_000);
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({
        status: 'unavailable',
        checks: {
          postgresql: { status: 'failing', latencyMs: expect.any(Number), error: 'failed' },
          clickhouse: { status: 'failing', latencyMs: expect.any(Number), error: 'timeout' },
        },
      });

      // Without PostgreSQL a key cannot be checked: "try later", not "bad key".
      const guarded = await app.inject({ method: 'GET', url: '/metrics', headers: { 'x-api-key': 'fbk_any' } });
      expect(guarded.statusCode).toBe(503);
      expect(guarded.json().message).toBe('postgresql is unavailable');
    } finally {
      await app.close();
      await clickhouse.close();
      await pool.end();
      await hung.close();
    }
  });

  // Last in this file: stop() is final for the file's ClickHouse server.
  it('503 naming ClickHouse once its server is stopped; usage reads answer 503 too', async () => {
    await stack.createSubscriber('sub-1');
    const key = await stack.createApiKey();
    await stack.clickhouse.server.stop();

    const res = await stack.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(503);
    expect(res.json().status).toBe('unavailable');
    expect(res.json().checks.postgresql.status).toBe('ok');
    expect(res.json().checks.clickhouse).toMatchObject({ status: 'failing', error: 'failed' });

    const usage = await stack.app.inject({
      method: 'GET',
      url: '/v1/subscribers/sub-1/usage?from=2026-03-01T00:00:00Z&to=2026-03-01T01:00:00Z&step=1h',
      headers: { 'x-api-key': key },
    });
    expect(usage.statusCode).toBe(503);
    expect(usage.headers['retry-after']).toBe('5');
    expect(usage.json()).toEqual({ statusCode: 503, error: 'Service Unavailable', message: 'clickhouse is unavailable' });
  });
});
