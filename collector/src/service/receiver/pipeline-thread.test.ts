/**
 * The collector service with COLLECTOR_PIPELINE_THREAD=true: a worker (pipeline-worker.ts)
 * starts the UDP receive thread itself, decodes and attributes there (receive-pipeline.ts)
 * and sends chunks of attributed records to the main thread, which aggregates and pushes to
 * Redis. Checked end to end against the machine's Redis and PostgreSQL (private database
 * and key prefixes), with hand-made NetFlow v9 whose owners are known:
 *
 * - billing is exact (Redis usage lines per subscriber and accepted totals), decoder stats,
 *   unattributed counts and /metrics come from the worker's snapshots;
 * - an assignment change while running reaches the worker as a second index generation and
 *   changes the attribution of records sent after it, nothing lost or counted twice;
 * - a dead worker is fatal (onFatal);
 * - template state is saved by the worker at stop and restored by the next one.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSocket, type Socket } from 'node:dgram';
import type { Redis } from 'ioredis';
import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { v9Message, type FieldSpec, type FieldValue, type SetSpec } from '../../decoder/testing/message-builder.js';
import { readAcceptedTotals } from '../../redis/accepted.js';
import { parseUsageLine, RedisKeys } from '../../redis/keys.js';
import { minuteLines } from '../../redis/testing.js';
import { assignPrefix, endAssignment, upsertSubscriber } from '../../subscribers/repository.js';
import type { CollectorService } from '../collector-service.js';
import { testCollectorService, until } from '../testing-collector.js';
import { ThreadedUdpListener } from './threaded-udp-listener.js';

const MINUTE = 60_000;
const LONG_AGO = new Date('2020-01-01T00:00:00Z');
/** Flow start times: mid-minute, ten minutes ago (every assignment below covers it). */
const T = Math.floor((Date.now() - 10 * MINUTE) / MINUTE) * MINUTE + 17_000;
/** The exporters' boot: a whole second, a day back. */
const BOOT = Math.floor((Date.now() - 86_400_000) / 1000) * 1000;

const INTERNET_V4 = '198.51.100.7';
const INTERNET_V6 = '2001:db8:ffff::1';
const ALICE = '100.70.1.1';
const BOB_PREFIX = '2001:db8:70::/48';
const BOB_A = '2001:db8:70:1::5';
const BOB_B = '2001:db8:70:ffff::1';
const CAROL_PREFIX = '100.70.2.0/30';
const DAVE = '100.70.4.4';
const HENRY = '100.70.3.3';

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
  const subscribers: [string, string | null][] = [
    ['alice', `${ALICE}/32`],
    ['bob', BOB_PREFIX],
    ['carol', CAROL_PREFIX],
    ['dave', `${DAVE}/32`],
    ['henry', null],
  ];
  for (const [id, prefix] of subscribers) {
    await upsertSubscriber(db.pool, { id, name: `pipeline ${id}`, timeZone: 'UTC' });
    if (prefix !== null) await assignPrefix(db.pool, { subscriberId: id, prefix, from: LONG_AGO });
  }
});
afterAll(async () => {
  await db?.drop();
});

// ---------------------------------------------------------------------------------------
// NetFlow v9 from one exporter (templates 256 = IPv4, 257 = IPv6), exact record times.

interface Flow {
  src: string;
  dst: string;
  bytes: number;
  packets: number;
  startMs?: number;
}

const COMMON: FieldSpec[] = [
  { id: 1, length: 8 }, // octetDeltaCount
  { id: 2, length: 8 }, // packetDeltaCount
  { id: 4, length: 1 }, // protocolIdentifier
  { id: 22, length: 4 }, // first switched
  { id: 21, length: 4 }, // last switched
];
const V4_FIELDS: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, ...COMMON];
const V6_FIELDS: FieldSpec[] = [{ id: 27, length: 16 }, { id: 28, length: 16 }, ...COMMON];

class Exporter {
  private sequence = 0;

  message(flows: readonly Flow[], options: { templates?: boolean } = {}): Buffer {
    const exportMs = Math.ceil(Date.now() / 1000) * 1000;
    const record = (f: Flow): FieldValue[] => {
      const start = f.startMs ?? T;
      return [f.src, f.dst, BigInt(f.bytes), BigInt(f.packets), 6, start - BOOT, start + 1_000 - BOOT];
    };
    const v4 = flows.filter((f) => !f.src.includes(':'));
    const v6 = flows.filter((f) => f.src.includes(':'));
    const sets: SetSpec[] = [];
    if (options.templates !== false) {
      sets.push({ kind: 'template', templates: [{ id: 256, fields: V4_FIELDS }, { id: 257, fields: V6_FIELDS }] });
    }
    if (v4.length > 0) sets.push({ kind: 'data', templateId: 256, fields: V4_FIELDS, records: v4.map(record) });
    if (v6.length > 0) sets.push({ kind: 'data', templateId: 257, fields: V6_FIELDS, records: v6.map(record) });
    const bytes = v9Message({ sysUptime: exportMs - BOOT, unixSecs: exportMs / 1000, sequence: this.sequence++, sourceId: 7 }, sets);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

function bindSender(address = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, address, () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

async function sendAll(socket: Socket, port: number, payloads: readonly Buffer[]): Promise<void> {
  for (const p of payloads) {
    await new Promise<void>((resolve, reject) => socket.send(p, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
  }
}

function closeSocket(socket: Socket | undefined): Promise<void> {
  return new Promise((resolve) => (socket ? socket.close(() => resolve()) : resolve()));
}

// ---------------------------------------------------------------------------------------

function service(redis: RedisPrefix, env: Record<string, string> = {}) {
  return testCollectorService(
    { redis, db },
    {
      COLLECTOR_ID: 'pipeline-thread-test',
      COLLECTOR_PIPELINE_THREAD: 'true',
      COLLECTOR_RING_BYTES: '2MiB',
      COLLECTOR_PUSH_INTERVAL_MS: '200',
      // Reloads come from NOTIFY only.
      COLLECTOR_ASSIGNMENT_RELOAD_SECONDS: '3600',
      ...env,
    },
  );
}

const messagesOf = (s: CollectorService) => s.decoderStats().reduce((n, e) => n + e.messages, 0);

interface Usage {
  bytes: bigint;
  packets: bigint;
  flows: bigint;
}

/** Every usage line under the prefix, summed per "subscriber address direction class". */
async function usageByRow(redis: Redis, prefix: string): Promise<Record<string, Usage>> {
  const keys = new RedisKeys(prefix);
  const out: Record<string, Usage> = {};
  for (const minute of await redis.zrange(keys.minutes, 0, -1)) {
    for (const line of await minuteLines(redis, keys.minute(Number(minute)))) {
      const parsed = parseUsageLine(line);
      if (parsed === null) throw new Error(`not a usage line: ${JSON.stringify(line)}`);
      const row = `${parsed.subscriberId} ${parsed.address} ${parsed.direction} ${parsed.trafficClass}`;
      const u = (out[row] ??= { bytes: 0n, packets: 0n, flows: 0n });
      u.bytes += BigInt(parsed.bytes);
      u.packets += BigInt(parsed.packets);
      u.flows += BigInt(parsed.flows);
    }
  }
  return out;
}

const usage = (bytes: number, packets: number, flows = 1): Usage => ({ bytes: BigInt(bytes), packets: BigInt(packets), flows: BigInt(flows) });

function total(rows: Record<string, Usage>): Usage {
  const t = usage(0, 0, 0);
  for (const u of Object.values(rows)) {
    t.bytes += u.bytes;
    t.packets += u.packets;
    t.flows += u.flows;
  }
  return t;
}

describe('collector service: COLLECTOR_PIPELINE_THREAD=true', () => {
  it('receives in one thread, decodes and attributes in another; bills exactly; stats, unattributed and metrics come from the worker', async () => {
    const redis = await createRedisPrefix();
    const { s, logs, fatal, registry } = service(redis);
    expect(s.decoder).toBeNull();
    expect(s.listener).toBeInstanceOf(ThreadedUdpListener);
    const exporter = new Exporter();
    let sender: Socket | undefined;
    let stranger: Socket | undefined;
    let stopped = false;
    try {
      const [bound] = await s.start();
      expect(logs.join('\n')).toContain('subscriber index loaded: 4 assignments');
      expect(logs.join('\n')).toMatch(
        /listening on udp 127\.0\.0\.1:\d+ .*\n.*receiving in a thread of its own, decoding and attributing in another; rings of 2097152 bytes \(2 MiB\)/,
      );
      sender = await bindSender();
      const key = `127.0.0.1:${sender.address().port}`;
      const messages = [
        exporter.message([
          { src: INTERNET_V4, dst: ALICE, bytes: 10_000, packets: 20 },
          { src: ALICE, dst: INTERNET_V4, bytes: 2_000, packets: 4 },
          { src: INTERNET_V4, dst: '100.70.9.9', bytes: 999, packets: 3 }, // nobody's
        ]),
        exporter.message([
          { src: INTERNET_V6, dst: BOB_A, bytes: 30_000, packets: 30 },
          { src: BOB_B, dst: INTERNET_V6, bytes: 300, packets: 1 },
          { src: INTERNET_V6, dst: '2001:db8:71::1', bytes: 777, packets: 2 }, // next to bob's /48
        ]),
        exporter.message([
          { src: INTERNET_V4, dst: '100.70.2.3', bytes: 4_400, packets: 5 },
          { src: INTERNET_V4, dst: '100.70.2.4', bytes: 888, packets: 1 }, // next to carol's /30
          { src: INTERNET_V6, dst: BOB_A, bytes: 5_000, packets: 6, startMs: T + MINUTE },
        ]),
      ];
      await sendAll(sender, bound.port, messages);
      // Not an allowed exporter: dropped in the receive thread, never decoded.
      stranger = await bindSender('127.0.0.2');
      await sendAll(stranger, bound.port, [exporter.message([{ src: INTERNET_V4, dst: ALICE, bytes: 1, packets: 1 }])]);

      // Snapshots come every 500 ms.
      await until('3 messages in the decoder stats', () => messagesOf(s) === 3);
      await until('3 unattributed records', () => s.unattributedByExporter().reduce((n, u) => n + u.records, 0) === 3);
      expect(s.unattributedByExporter()).toEqual([{ exporter: key, records: 3, bytes: 999n + 777n + 888n, packets: 6n }]);
      const text = await registry.metrics();
      expect(text).toContain('flowbill_udp_datagrams_total 3\n');
      expect(text).toContain(`flowbill_unattributed_records_total{exporter="${key}"} 3\n`);
      expect(text).toContain(`flowbill_unattributed_bytes_total{exporter="${key}"} ${999 + 777 + 888}\n`);
      expect(text).toContain(`flowbill_decoder_messages_total{exporter="${key}"} 3\n`);
      expect(text).toContain(`flowbill_decoder_records_total{exporter="${key}"} 9\n`);
      expect(text).toContain('flowbill_decoder_pending_sets 0\n');
      expect(text).toContain('flowbill_udp_dropped_total{reason="ring-full"} 0\n');
      await until('the stranger counted', () => s.listener.stats.notAllowed === 1);
      expect(await registry.metrics()).toContain('flowbill_udp_dropped_total{reason="exporter-not-allowed"} 1\n');

      stopped = true;
      const result = await s.stop();
      expect(result).toEqual({ unpushedKeys: 0 });
      expect(fatal).toEqual([]);

      const rows = await usageByRow(redis.redis, redis.prefix);
      expect(rows).toEqual({
        [`alice ${ALICE} download internet`]: usage(10_000, 20),
        [`alice ${ALICE} upload internet`]: usage(2_000, 4),
        [`bob ${BOB_A} download internet`]: usage(35_000, 36, 2),
        [`bob ${BOB_B} upload internet`]: usage(300, 1),
        'carol 100.70.2.3 download internet': usage(4_400, 5),
      });
      const billed = usage(10_000 + 2_000 + 30_000 + 300 + 4_400 + 5_000, 20 + 4 + 30 + 1 + 5 + 6, 6);
      expect(total(rows)).toEqual(billed);
      expect(await readAcceptedTotals(redis.redis, new RedisKeys(redis.prefix))).toEqual(billed);
      // The bob flow of the next minute went to its own minute string.
      expect(await redis.redis.zcard(new RedisKeys(redis.prefix).minutes)).toBe(2);

      // The worker's last snapshot (posted at stop).
      expect(s.decoderStats()).toEqual([
        expect.objectContaining({ exporter: key, messages: 3, records: 9, templates: 6, missingTemplateSets: 0, sequenceLost: 0, errors: {} }),
      ]);
      const after = await registry.metrics();
      expect(after).toContain('flowbill_udp_datagrams_total 3\n');
      expect(after).toContain(`flowbill_unattributed_records_total{exporter="${key}"} 3\n`);
    } finally {
      if (!stopped) await s.stop();
      await closeSocket(sender);
      await closeSocket(stranger);
      await redis.cleanup();
    }
  });

  it('an assignment change while running reaches the worker as a new generation: records after it are attributed by it, none lost or counted twice', async () => {
    const redis = await createRedisPrefix();
    const { s, fatal } = service(redis);
    const listener = s.listener as ThreadedUdpListener;
    // Watch the generations the service hands the listener (the first one, before the worker
    // exists, is not posted: the worker gets it with its start-up data).
    const generations: number[] = [];
    const replaceIndex = listener.replaceIndex.bind(listener);
    listener.replaceIndex = (generation, tables) => {
      generations.push(generation);
      replaceIndex(generation, tables);
    };
    const exporter = new Exporter();
    let sender: Socket | undefined;
    let stopped = false;
    try {
      const [bound] = await s.start();
      sender = await bindSender();
      const key = `127.0.0.1:${sender.address().port}`;
      // Same records before and after the change; flow times do not change, only the index.
      const flows: Flow[] = [
        { src: INTERNET_V4, dst: DAVE, bytes: 4_000, packets: 4 },
        { src: INTERNET_V4, dst: HENRY, bytes: 5_000, packets: 5 },
      ];
      await sendAll(sender, bound.port, [exporter.message(flows)]);
      // Decoded (and so attributed, with generation 1) by the worker.
      await until('the first message decoded', () => messagesOf(s) === 1);
      expect(generations).toEqual([1]);

      // One transaction: dave's address ends before the flows' time, henry gets his from long
      // ago. The NOTIFYs come at commit, so the one reload they cause sees both.
      const client = await db.pool.connect();
      try {
        await client.query('BEGIN');
        await endAssignment(client, `${DAVE}/32`, new Date(T - MINUTE));
        await client.query(`INSERT INTO ip_assignments (subscriber_id, prefix, valid) VALUES ('henry', $1::cidr, tstzrange($2::timestamptz, NULL, '[)'))`, [
          `${HENRY}/32`,
          LONG_AGO.toISOString(),
        ]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await until('the second generation sent to the worker', () => generations.length > 1);
      expect(generations).toEqual([1, 2]);
      // The index message and the next datagram reach the worker on different paths.
      await new Promise((r) => setTimeout(r, 200));

      await sendAll(sender, bound.port, [exporter.message(flows)]);
      await until('the second message decoded', () => messagesOf(s) === 2);

      // Reloads with no traffic after them: the worker marks each switch in the ring, so the
      // main thread lets the older indexes go instead of keeping one per reload.
      for (let k = 3; k <= 5; k++) {
        await db.pool.query(`SELECT pg_notify('ip_assignments_changed', '')`);
        await until(`generation ${k} sent to the worker`, () => generations.length === k);
      }
      const held = () => (s as unknown as { generations: Map<number, unknown> }).generations;
      await until('older indexes let go', () => held().size === 1);
      expect([...held().keys()]).toEqual([5]);

      stopped = true;
      expect(await s.stop()).toEqual({ unpushedKeys: 0 });
      expect(fatal).toEqual([]);
      expect(generations).toEqual([1, 2, 3, 4, 5]);

      const rows = await usageByRow(redis.redis, redis.prefix);
      expect(rows).toEqual({
        [`dave ${DAVE} download internet`]: usage(4_000, 4), // before the change only
        [`henry ${HENRY} download internet`]: usage(5_000, 5), // after the change only
      });
      expect(await readAcceptedTotals(redis.redis, new RedisKeys(redis.prefix))).toEqual(usage(9_000, 9, 2));
      // The other two: henry's before, dave's after.
      expect(s.unattributedByExporter()).toEqual([{ exporter: key, records: 2, bytes: 9_000n, packets: 9n }]);
      expect(s.decoderStats()).toEqual([expect.objectContaining({ exporter: key, messages: 2, records: 4 })]);
    } finally {
      if (!stopped) await s.stop();
      await closeSocket(sender);
      await redis.cleanup();
    }
  });

  it('a dead pipeline worker is fatal', async () => {
    const redis = await createRedisPrefix();
    const { s, logs, fatal } = service(redis);
    try {
      await s.start();
      await (s.listener as ThreadedUdpListener).workerForTests!.terminate();
      await until('onFatal called', () => fatal.length > 0);
      expect(fatal.map((e) => e.message)).toEqual([expect.stringMatching(/UDP receive thread exited unexpectedly/)]);
      expect(logs.join('\n')).toMatch(/fatal: UDP receive thread exited unexpectedly/);
    } finally {
      await s.stop();
      await redis.cleanup();
    }
  });

  it('template state: the worker saves it at stop, and the next one restores it and decodes data sent without a template', async () => {
    const redis = await createRedisPrefix();
    const dir = mkdtempSync(path.join(tmpdir(), 'flowbill-pipeline-state-'));
    const stateFile = path.join(dir, 'templates.json');
    const exporter = new Exporter();
    // One socket for both services: the decoder keeps templates per address and port.
    const sender = await bindSender();
    const port = sender.address().port;
    const key = `127.0.0.1:${port}`;
    try {
      const first = service(redis, { COLLECTOR_STATE_FILE: stateFile });
      try {
        const [bound] = await first.s.start();
        expect(first.logs.join('\n')).not.toMatch(/restored/);
        await sendAll(sender, bound.port, [exporter.message([{ src: INTERNET_V4, dst: ALICE, bytes: 1_000, packets: 2 }])]);
        await until('the template learnt', () => messagesOf(first.s) === 1);
      } finally {
        await first.s.stop();
      }
      expect(first.fatal).toEqual([]);
      const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { exporters: { address: string; port: number; domains: { templates: unknown[] }[] }[] };
      expect(saved.exporters.map((e) => [e.address, e.port, e.domains.map((d) => d.templates.length)])).toEqual([['127.0.0.1', port, [2]]]);

      const second = service(redis, { COLLECTOR_STATE_FILE: stateFile });
      try {
        const [bound] = await second.s.start();
        expect(second.logs.join('\n')).toContain(`restored 2 templates of 1 exporters from ${stateFile}`);
        await sendAll(sender, bound.port, [
          exporter.message(
            [
              { src: ALICE, dst: INTERNET_V4, bytes: 2_000, packets: 3 },
              { src: INTERNET_V6, dst: BOB_A, bytes: 3_000, packets: 4 },
            ],
            { templates: false },
          ),
        ]);
        await until('the data decoded', () => messagesOf(second.s) === 1);
      } finally {
        await second.s.stop();
      }
      expect(second.fatal).toEqual([]);
      expect(second.s.decoderStats()).toEqual([expect.objectContaining({ exporter: key, messages: 1, records: 2, missingTemplateSets: 0, errors: {} })]);

      expect(await usageByRow(redis.redis, redis.prefix)).toEqual({
        [`alice ${ALICE} download internet`]: usage(1_000, 2),
        [`alice ${ALICE} upload internet`]: usage(2_000, 3),
        [`bob ${BOB_A} download internet`]: usage(3_000, 4),
      });
      expect(await readAcceptedTotals(redis.redis, new RedisKeys(redis.prefix))).toEqual(usage(6_000, 9, 3));
    } finally {
      await closeSocket(sender);
      rmSync(dir, { recursive: true, force: true });
      await redis.cleanup();
    }
  });
});
