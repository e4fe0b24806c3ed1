/**
 * The collector service with its receive thread (COLLECTOR_RECEIVE_THREAD, default on):
 * datagrams reach the decoder, the ring shows in the log and the metrics, and a dead
 * receive thread becomes a fatal error instead of a collector that silently stopped
 * receiving. Needs PostgreSQL and Redis like the rest of the suite (private database, prefix).
 */
import dgram from 'node:dgram';
import { createTestDatabase, type TestDatabase } from '@flowbill/shared/testing/postgres';
import { createRedisPrefix, type RedisPrefix } from '@flowbill/shared/testing/redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCollectorConfig } from '../config.js';
import { testCollectorService, until } from '../testing-collector.js';
import { UdpListener } from '../udp-listener.js';
import { ThreadedUdpListener } from './threaded-udp-listener.js';

let db: TestDatabase;
let redis: RedisPrefix;
beforeAll(async () => {
  db = await createTestDatabase();
  redis = await createRedisPrefix();
});
afterAll(async () => {
  await redis?.cleanup();
  await db?.drop();
});

function service(env: Record<string, string>) {
  return testCollectorService({ redis, db }, { COLLECTOR_ID: 'receive-thread-test', ...env });
}

function send(port: number, payloads: Buffer[]): Promise<void> {
  const socket = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    let left = payloads.length;
    for (const p of payloads)
      socket.send(p, port, '127.0.0.1', () => {
        if (--left === 0) socket.close(() => resolve());
      });
  });
}

describe('collector service: receive thread', () => {
  it('decodes what the thread receives, logs the ring, exposes ring metrics, and treats a dead thread as fatal', async () => {
    const { s, logs, fatal, registry } = service({ COLLECTOR_RING_BYTES: '2MiB' });
    expect(s.listener).toBeInstanceOf(ThreadedUdpListener);
    const [bound] = await s.start();
    try {
      expect(logs.join('\n')).toMatch(/listening on udp 127\.0\.0\.1:\d+ .*\n.*ring of 2097152 bytes \(2 MiB\)/);
      // COLLECTOR_RECEIVER=auto, and the module is built (scripts/test.sh requires it).
      expect((s.listener as ThreadedUdpListener).receiver).toBe('native');
      expect(logs).toContain('receiving with the native batched receiver (recvmmsg)');
      // Not NetFlow: each is counted by the decoder as an error of its exporter.
      await send(bound.port, [Buffer.from([0, 99, 1, 2]), Buffer.from([0, 99, 3, 4])]);
      await until('2 messages decoded', () => s.decoderStats().reduce((n, e) => n + e.messages, 0) === 2);
      expect(s.decoderStats()).toEqual([expect.objectContaining({ exporter: expect.stringMatching(/^127\.0\.0\.1:\d+$/), messages: 2 })]);
      const text = await registry.metrics();
      expect(text).toContain('flowbill_udp_datagrams_total 2');
      expect(text).toContain('flowbill_udp_dropped_total{reason="ring-full"} 0');
      expect(text).toContain('flowbill_udp_ring_size_bytes 2097152');
      expect(text).toMatch(/flowbill_udp_ring_fill_ratio 0\b/);
      expect(text).toMatch(/flowbill_udp_ring_peak_fill_ratio [\d.e-]+/);
      expect(text).toContain('flowbill_udp_dropped_total{reason="truncated"} 0');
      expect(text).toContain('flowbill_udp_receive_errors_total 0');
      expect(text).toContain('flowbill_udp_receiver{receiver="native"} 1');

      await (s.listener as ThreadedUdpListener).workerForTests!.terminate();
      await until('the dead thread reported', () => fatal.length > 0);
      expect(fatal.map((e) => e.message)).toEqual([expect.stringMatching(/UDP receive thread exited unexpectedly/)]);
      expect(logs.join('\n')).toMatch(/fatal: UDP receive thread exited unexpectedly/);
    } finally {
      await s.stop();
    }
  });

  it('COLLECTOR_RECEIVER=node reads the sockets with node:dgram in the receive thread, and says so', async () => {
    const { s, logs, registry } = service({ COLLECTOR_RECEIVER: 'node' });
    expect((s.listener as ThreadedUdpListener).receiver).toBe('node');
    const [bound] = await s.start();
    try {
      expect(logs).toContain('receiving with node:dgram (COLLECTOR_RECEIVER=node)');
      await send(bound.port, [Buffer.from([0, 99, 1, 2])]);
      await until('the exporter in the decoder stats', () => s.decoderStats().length === 1);
      expect(s.decoderStats()).toEqual([expect.objectContaining({ messages: 1 })]);
      const text = await registry.metrics();
      expect(text).toContain('flowbill_udp_receiver{receiver="node"} 1');
      expect(text).not.toContain('receiver="native"');
    } finally {
      await s.stop();
    }
  });

  it('a COLLECTOR_RECEIVER that is not auto, native or node stops start-up naming it', () => {
    expect(() => loadCollectorConfig({ COLLECTOR_RECEIVER: 'fast' })).toThrow(/COLLECTOR_RECEIVER.*expected auto, native or node/);
  });

  it('COLLECTOR_RECEIVE_THREAD=false receives on the main thread, without ring metrics', async () => {
    const { s, logs, registry } = service({ COLLECTOR_RECEIVE_THREAD: 'false' });
    expect(s.listener).toBeInstanceOf(UdpListener);
    const [bound] = await s.start();
    try {
      expect(logs.join('\n')).toContain('receiving on the main thread (COLLECTOR_RECEIVE_THREAD=false)');
      await send(bound.port, [Buffer.from([0, 99, 1, 2])]);
      await until('the exporter in the decoder stats', () => s.decoderStats().length === 1);
      const text = await registry.metrics();
      expect(text).toContain('flowbill_udp_datagrams_total 1');
      expect(text).not.toMatch(/flowbill_udp_ring|ring-full/);
    } finally {
      await s.stop();
    }
  });
});
