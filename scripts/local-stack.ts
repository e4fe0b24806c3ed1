/**
 * README command 1: the whole pipeline on one machine.
 *
 * Starts Redis (AOF), PostgreSQL and ClickHouse as child processes on project-local data
 * directories (.data/) and non-default ports — unless REDIS_URL, DATABASE_URL or
 * CLICKHOUSE_URL point at servers of your own — applies the migrations, adds demo
 * subscribers and an API key, then runs the collector, the flusher, the API and a demo
 * exporter sending synthetic NetFlow v9. Ctrl-C stops everything.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startClickHouseServer } from '../shared/src/clickhouse/local-server.js';
import { startPostgresServer } from '../shared/src/local-servers/postgres-server.js';
import { ensurePostgresDatabase, migrateAll } from '../shared/src/migrate/migrate-all.js';
import { createPool } from '../shared/src/postgres/index.js';
import { startRedisServer } from '../shared/src/testing/redis.js';
import { createApiKey, hashApiKey } from '../collector/src/subscribers/api-keys.js';
import { assignPrefix, upsertSubscriber } from '../collector/src/subscribers/repository.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = resolve(process.env.FLOWBILL_DATA_DIR ?? join(root, '.data'));
const ports = {
  redis: Number(process.env.LOCAL_REDIS_PORT ?? 16379),
  postgres: Number(process.env.LOCAL_POSTGRES_PORT ?? 15432),
  clickhouseHttp: Number(process.env.LOCAL_CLICKHOUSE_HTTP_PORT ?? 18123),
  clickhouseTcp: Number(process.env.LOCAL_CLICKHOUSE_TCP_PORT ?? 19000),
  api: Number(process.env.API_PORT ?? 8080),
  netflow: Number(process.env.LOCAL_NETFLOW_PORT ?? 2055),
  ipfix: Number(process.env.LOCAL_IPFIX_PORT ?? 4739),
};
const log = (m: string) => console.error(`[local-stack] ${m}`);
const stops: (() => Promise<void>)[] = [];
const children: { name: string; child: ChildProcess }[] = [];

/** The demo network: subscribers on CGNAT-range /32s and IPv6 /64s, one IX network billed as "local". */
const DEMO_SUBSCRIBERS = Array.from({ length: 12 }, (_, k) => ({
  id: `demo-${String(k + 1).padStart(4, '0')}`,
  name: `Demo subscriber ${k + 1}`,
  v4: `100.64.0.${k + 1}`,
  v6: k < 4 ? `2001:db8:100:${k + 1}::/64` : null,
}));
const LOCAL_CLASS = '192.0.2.0/24,2001:db8:ffff::/48';

async function startStores() {
  mkdirSync(dataDir, { recursive: true });
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl) {
    const r = await startRedisServer({ dir: join(dataDir, 'redis'), port: ports.redis, persistent: true });
    stops.push(() => r.stop());
    redisUrl = r.url;
    log(`redis on ${redisUrl} (AOF in ${join(dataDir, 'redis')})`);
  }
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const pg = await startPostgresServer({ dataDir: join(dataDir, 'postgres'), port: ports.postgres });
    stops.push(() => pg.stop());
    databaseUrl = pg.urlFor('flowbill');
    log(`postgresql on 127.0.0.1:${ports.postgres} (data in ${pg.dataDir})`);
  }
  let clickhouseUrl = process.env.CLICKHOUSE_URL;
  if (!clickhouseUrl) {
    const ch = await startClickHouseServer({ dataDir: join(dataDir, 'clickhouse'), httpPort: ports.clickhouseHttp, tcpPort: ports.clickhouseTcp });
    stops.push(() => ch.stop());
    clickhouseUrl = ch.url;
    log(`clickhouse on ${clickhouseUrl} (data in ${ch.dataDir})`);
  }
  return {
    REDIS_URL: redisUrl,
    REDIS_PREFIX: process.env.REDIS_PREFIX ?? 'flowbill:',
    DATABASE_URL: databaseUrl,
    CLICKHOUSE_URL: clickhouseUrl,
    CLICKHOUSE_DATABASE: process.env.CLICKHOUSE_DATABASE ?? 'flowbill',
  };
}

/** Demo subscribers (idempotent) and an API key kept in .data/api-key. */
async function seed(databaseUrl: string): Promise<string> {
  const pool = createPool(databaseUrl);
  try {
    const since = new Date(Date.now() - 24 * 3600_000);
    for (const s of DEMO_SUBSCRIBERS) {
      await upsertSubscriber(pool, { id: s.id, name: s.name });
      for (const prefix of [s.v4, s.v6]) {
        if (prefix === null) continue;
        const held = await pool.query('SELECT 1 FROM ip_assignments WHERE prefix = $1::cidr AND upper_inf(valid)', [prefix]);
        if (held.rowCount === 0) await assignPrefix(pool, { subscriberId: s.id, prefix, from: since });
      }
    }
    const keyFile = join(dataDir, 'api-key');
    if (existsSync(keyFile)) {
      const key = readFileSync(keyFile, 'utf8').trim();
      const ok = await pool.query('SELECT 1 FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [hashApiKey(key)]);
      if (ok.rowCount === 1) return key;
    }
    const created = await createApiKey(pool, `local-stack-${Date.now()}`);
    writeFileSync(keyFile, `${created.key}\n`, { mode: 0o600 });
    return created.key;
  } finally {
    await pool.end();
  }
}

function run(name: string, script: string, args: string[], env: Record<string, string>): void {
  // `node --import tsx` rather than the tsx CLI: the child is then the service itself, so
  // signals reach it directly and its exit means it has really stopped. Own process group,
  // so Ctrl-C reaches only us and we stop the children in order.
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, script), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
  });
  children.push({ name, child });
  child.on('exit', (code, signal) => {
    if (!shuttingDown) {
      log(`${name} exited (${signal ?? code}); stopping everything`);
      void shutdown(1);
    }
  });
}

let shuttingDown = false;
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  log('stopping…');
  // Exporter first, then the collector (pushes what it holds), then flusher and API.
  for (const name of ['demo-exporter', 'collector', 'flusher', 'api']) {
    const c = children.find((x) => x.name === name)?.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) continue;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const timer = setTimeout(() => c.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
  for (const stop of stops.reverse()) {
    try {
      await stop();
    } catch (e) {
      log(`stop failed: ${(e as Error).message}`);
    }
  }
  log('stopped');
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  const stores = await startStores();
  await ensurePostgresDatabase(stores.DATABASE_URL);
  await migrateAll(stores, (m) => log(m));
  const apiKey = await seed(stores.DATABASE_URL);
  const common = { ...stores };
  run('collector', 'collector/src/service/collector-main.ts', [], {
    ...common,
    COLLECTOR_ID: 'local',
    COLLECTOR_LISTEN: `127.0.0.1:${ports.netflow},[::1]:${ports.netflow},127.0.0.1:${ports.ipfix},[::1]:${ports.ipfix}`,
    COLLECTOR_EXPORTERS: process.env.COLLECTOR_EXPORTERS ?? '127.0.0.0/8,::1/128',
    COLLECTOR_CLASSES: process.env.COLLECTOR_CLASSES ?? `local=${LOCAL_CLASS}`,
    COLLECTOR_STATE_FILE: join(dataDir, 'collector-templates.json'),
    COLLECTOR_ASSIGNMENT_RELOAD_SECONDS: '30',
  });
  run('flusher', 'collector/src/service/flusher-main.ts', [], {
    ...common,
    // Short delay so the demo shows usage within a minute; production keeps the 90 s default.
    FLUSHER_CLOSE_DELAY_MS: process.env.FLUSHER_CLOSE_DELAY_MS ?? '15000',
    FLUSHER_CLAIM_INTERVAL_MS: '2000',
  });
  run('api', 'api/src/main.ts', [], { ...common, API_PORT: String(ports.api) });
  if (process.env.LOCAL_DEMO_EXPORTER !== '0') {
    await new Promise((r) => setTimeout(r, 3000));
    const addresses = DEMO_SUBSCRIBERS.flatMap((s) => [s.v4, ...(s.v6 ? [s.v6.replace('::/64', '::10')] : [])]);
    run('demo-exporter', 'collector/src/demo/demo-exporter.ts', ['--port', String(ports.netflow), '--subscribers', addresses.join(','), '--rate', '20'], {});
  }
  const first = DEMO_SUBSCRIBERS[0].id;
  const hour = new Date(Math.floor(Date.now() / 3600_000) * 3600_000);
  const next = new Date(hour.getTime() + 3600_000);
  console.log(`
flowbill is running (data in ${dataDir}). Ctrl-C stops everything.

  NetFlow/IPFIX in:  udp 127.0.0.1:${ports.netflow} and :${ports.ipfix} (demo exporter sending NetFlow v9)
  API:               http://127.0.0.1:${ports.api}  (docs: /docs)   API key: ${apiKey}
  metrics:           collector http://127.0.0.1:9102/metrics, flusher http://127.0.0.1:9103/metrics (same API key)

  Usage appears about a minute after traffic (minutes close after ${process.env.FLUSHER_CLOSE_DELAY_MS ?? '15000'} ms):
    curl -H 'Authorization: Bearer ${apiKey}' \\
      'http://127.0.0.1:${ports.api}/v1/subscribers/${first}/usage?from=${hour.toISOString()}&to=${next.toISOString()}&step=1m'
    clickhouse-client --port ${ports.clickhouseTcp} -q 'SELECT subscriber_id, direction, traffic_class, sum(bytes) AS bytes FROM flowbill.usage_1h GROUP BY subscriber_id, direction, traffic_class ORDER BY subscriber_id'
    pnpm subscribers list --database-url ${stores.DATABASE_URL}
`);
}

main().catch((e) => {
  log(`failed: ${(e as Error).message}`);
  void shutdown(1);
});
