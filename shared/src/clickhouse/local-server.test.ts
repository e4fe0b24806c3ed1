import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withClickHouse } from '../testing/clickhouse.js';
import { createClickHouse } from './client.js';
import { ClickHouseConnectionError } from './errors.js';
import { ClickHouseNotInstalledError, findClickHouseServerBinary, startClickHouseServer } from './local-server.js';
import { batchExists, insertUsageBatch, usageSeries, type UsageRow } from './usage-queries.js';

const ctx = withClickHouse({ migrate: true });

const MINUTE = Date.UTC(2024, 5, 1, 12, 0) / 1000;
const row = (bytes: bigint): UsageRow => ({
  minute: MINUTE,
  subscriberId: 'carol',
  address: '203.0.113.9',
  direction: 'download',
  trafficClass: 'internet',
  bytes,
  packets: 1n,
  flows: 1n,
});

function answersOnNewConnection(url: string): Promise<boolean> {
  return new Promise((done) => {
    const request = httpGet(`${url}/ping`, { agent: false, headers: { connection: 'close' } }, (response) => {
      response.resume();
      response.on('end', () => done(response.statusCode === 200));
    });
    request.on('error', () => done(false));
  });
}

async function hourlyBytes(): Promise<bigint> {
  const series = await usageSeries(ctx.ch, { subscriberId: 'carol', from: MINUTE - 12 * 3600, to: MINUTE + 12 * 3600, step: '1h' });
  return series.total.download.bytes;
}

describe('the private server process', () => {
  it('keeps committed data across kill -9 and restart, and the views keep working', async () => {
    await insertUsageBatch(ctx.ch, 'before-crash', [row(1_000n)]);
    const pid = ctx.server.pid;
    await ctx.server.kill9();
    expect(ctx.server.isRunning()).toBe(false);
    await expect(ctx.ch.query('SELECT 1')).rejects.toBeInstanceOf(ClickHouseConnectionError);
    expect(await ctx.ch.ping()).toBe(false);

    await ctx.server.restart();
    expect(ctx.server.pid).not.toBe(pid);
    expect(await ctx.ch.ping()).toBe(true);
    expect(await batchExists(ctx.ch, 'before-crash')).toBe(true);
    expect(await hourlyBytes()).toBe(1_000n);

    // Views were re-attached from disk: a new insert still reaches the rollups.
    await insertUsageBatch(ctx.ch, 'after-crash', [row(24n)]);
    expect(await hourlyBytes()).toBe(1_024n);
    expect(await batchExists(ctx.ch, 'after-crash')).toBe(true);
  });

  it('restart() stops gracefully, stays down for a while, and comes back on the same port', async () => {
    await insertUsageBatch(ctx.ch, 'graceful', [row(5n)]);
    const url = ctx.server.url;
    let restarted = false;
    const restarting = ctx.server.restart({ downMs: 1_000 }).then(() => (restarted = true));
    // Probed on fresh connections: a graceful shutdown keeps serving open keep-alive
    // connections (a client polling on one delays it by ~10 s on 18.16), while new
    // connections are refused as soon as it starts.
    let sawDown = false;
    while (!restarted && !sawDown) {
      sawDown = !(await answersOnNewConnection(url));
      if (!sawDown) await new Promise((done) => setTimeout(done, 50));
    }
    await restarting;
    expect(sawDown).toBe(true);
    expect(ctx.server.url).toBe(url);
    expect(await answersOnNewConnection(url)).toBe(true);
    expect(await hourlyBytes()).toBe(5n);
  });

  it('runs two servers side by side on different ports and directories', async () => {
    const other = await startClickHouseServer();
    try {
      expect(other.httpPort).not.toBe(ctx.server.httpPort);
      expect(other.dataDir).not.toBe(ctx.server.dataDir);
      const ch = createClickHouse({ url: other.url, database: 'default' });
      try {
        expect(await ch.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      } finally {
        await ch.close();
      }
    } finally {
      await other.stop();
    }
    expect(existsSync(other.dataDir)).toBe(false); // a temp dir is removed by stop()
  });

  it('persistent mode reuses its directory and keeps it after stop()', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'flowbill-ch-persistent-')), 'clickhouse');
    try {
      const first = await startClickHouseServer({ dataDir: dir });
      const ch1 = createClickHouse({ url: first.url, database: 'kept' });
      await ch1.withDatabase('system').command('CREATE DATABASE kept');
      await ch1.command('CREATE TABLE t (x UInt64) ENGINE = MergeTree ORDER BY x');
      await ch1.insert('t', [{ x: 42n }]);
      await ch1.close();
      await first.stop();
      expect(existsSync(join(dir, 'data'))).toBe(true);

      const second = await startClickHouseServer({ dataDir: dir, httpPort: first.httpPort, tcpPort: first.tcpPort });
      const ch2 = createClickHouse({ url: second.url, database: 'kept' });
      try {
        expect(await ch2.query('SELECT x FROM t')).toEqual([{ x: '42' }]);
      } finally {
        await ch2.close();
        await second.stop();
      }
    } finally {
      rmSync(join(dir, '..'), { recursive: true, force: true });
    }
  });

  it('explains how to install clickhouse-server when it is missing', () => {
    const error = (() => {
      try {
        findClickHouseServerBinary({ PATH: '' }, []);
        return undefined;
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ClickHouseNotInstalledError);
    expect((error as Error).message).toContain('apt-get install clickhouse-server');
    expect(() => findClickHouseServerBinary({ CLICKHOUSE_SERVER_BIN: '/nonexistent/clickhouse-server' })).toThrow(/not an executable/);
  });

  it('reports a server that cannot start, with its log, instead of hanging', async () => {
    // Port taken by this file's own server: the new one must fail fast and say why.
    const error = await startClickHouseServer({ httpPort: ctx.server.httpPort, tcpPort: ctx.server.tcpPort, startTimeoutMs: 20_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    // Either it lost the bind (and says so from its log) or it saw our server answering in its place.
    expect((error as Error).message).toMatch(/exited during startup[\s\S]*Address already in use|found another server \(flowbill-/);
  });
});
