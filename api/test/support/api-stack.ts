/**
 * Real stores for API tests: a private PostgreSQL database per test file (migrated,
 * emptied before each test) and the private ClickHouse harness (a fresh migrated
 * database per test), with an app built on them for each test.
 */
import { randomBytes } from 'node:crypto';
import { withClickHouse, type ClickHouseTestContext } from '@flowbill/shared/testing/clickhouse';
import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { buildApp, type AppDependencies } from '../../src/app.js';
import { hashApiKey } from '../../src/auth/api-keys.js';

export interface ApiStack {
  readonly app: FastifyInstance;
  readonly pool: pg.Pool;
  readonly clickhouse: ClickHouseTestContext;
  readonly registry: Registry;
  /** The clock handed to the app's API key cache; tests move it forward. */
  readonly clock: { now: number };
  /** Insert an API key and return it in clear. */
  createApiKey(name?: string): Promise<string>;
  revokeApiKey(key: string): Promise<void>;
  createSubscriber(id: string, name?: string): Promise<void>;
}

export type StackOptions = Partial<Pick<AppDependencies, 'apiKeyCacheTtlMs' | 'healthTimeoutMs'>>;

export function withApiStack(options: StackOptions = {}): ApiStack {
  const clickhouse = withClickHouse({ migrate: true });
  let database: TestDatabase | undefined;
  let app: FastifyInstance | undefined;
  let registry: Registry | undefined;
  const clock = { now: Date.UTC(2026, 2, 1) };

  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(async () => {
    await database?.drop();
  });
  beforeEach(async () => {
    const pool = requireDatabase().pool;
    await pool.query('TRUNCATE ip_assignments, subscribers, api_keys RESTART IDENTITY CASCADE');
    registry = new Registry();
    app = await buildApp({
      clickhouse: clickhouse.ch,
      postgresPool: pool,
      metricsRegistry: registry,
      now: () => clock.now,
      ...options,
    });
    await app.ready();
  });
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  function requireDatabase(): TestDatabase {
    if (!database) throw new Error('withApiStack(): the database exists inside tests and hooks only');
    return database;
  }

  return {
    get app() {
      if (!app) throw new Error('withApiStack(): the app exists inside tests only');
      return app;
    },
    get pool() {
      return requireDatabase().pool;
    },
    get registry() {
      if (!registry) throw new Error('withApiStack(): the registry exists inside tests only');
      return registry;
    },
    clickhouse,
    clock,
    async createApiKey(name = `key-${randomBytes(4).toString('hex')}`) {
      const key = `fbk_${randomBytes(24).toString('base64url')}`;
      await requireDatabase().pool.query('INSERT INTO api_keys (name, key_hash) VALUES ($1, $2)', [name, hashApiKey(key)]);
      return key;
    },
    async revokeApiKey(key) {
      const result = await requireDatabase().pool.query('UPDATE api_keys SET revoked_at = now() WHERE key_hash = $1', [hashApiKey(key)]);
      if (result.rowCount !== 1) throw new Error('revokeApiKey(): no such key');
    },
    async createSubscriber(id, name = `Subscriber ${id}`) {
      await requireDatabase().pool.query('INSERT INTO subscribers (id, name) VALUES ($1, $2)', [id, name]);
    },
  };
}
