/**
 * Scale-out: two collector processes (different COLLECTOR_IDs and UDP ports) and two
 * flushers share one Redis prefix and one ClickHouse database. Each collector receives
 * half the traffic (its own exporter), for the same subscribers and the same minutes, so
 * both push into the same minute hashes while both flushers claim and insert. Totals must
 * be exact with nothing counted twice.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectCollectorGotEverything, expectExactly, FAULT_SUBSCRIBERS, formatTotals, planFaultReplay } from './support/fault-scenario.js';
import { bindSender, expectedTotals, SteadySender } from './support/replay.js';
import { Pipeline, useE2eServers } from './support/stack.js';

const servers = useE2eServers();
let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe('two collectors and two flushers on one Redis prefix and ClickHouse database', () => {
  it('bill every datagram exactly once: per exporter, per subscriber and in total', async () => {
    pipeline = await Pipeline.create(servers(), FAULT_SUBSCRIBERS);
    const p = pipeline;
    const [c1, c2] = await Promise.all([p.startCollector({ id: 'scale-c1' }), p.startCollector({ id: 'scale-c2' })]);
    const [f1, f2] = await Promise.all([p.startFlusher('scale-f1'), p.startFlusher('scale-f2')]);
    expect(c1.udpPort).not.toBe(c2.udpPort);

    const shape = { messages: 800, rateHz: 100, recordsPerMessage: 20 };
    const halves = [planFaultReplay(7_001, shape), planFaultReplay(7_002, shape)];
    const sockets = await Promise.all([bindSender(), bindSender()]);
    const senders = [new SteadySender(sockets[0], c1.target, halves[0], shape.rateHz).start(), new SteadySender(sockets[1], c2.target, halves[1], shape.rateHz).start()];
    try {
      await Promise.all(senders.map((sender) => sender.done));
      for (const sender of senders) expect(sender.errors).toEqual([]);
      await expectCollectorGotEverything(c1, shape.messages, shape.messages * shape.recordsPerMessage);
      await expectCollectorGotEverything(c2, shape.messages, shape.messages * shape.recordsPerMessage);

      const all = [...halves[0], ...halves[1]];
      await expectExactly(p, all, 'two collectors, two flushers');

      // Per exporter: each collector's half is accepted exactly once.
      for (const [k, sender] of senders.entries()) {
        const label = `127.0.0.1:${sender.exporterPort}`;
        expect(await p.acceptedTotals((exporter) => exporter === label), `accepted of exporter ${label}`).toEqual(expectedTotals(halves[k]));
      }
      // Both collectors pushed under their own ids, and both flushers took part.
      const pushKeys = await p.redis.keys(`${p.prefix}{u}:push:*`);
      expect(new Set(pushKeys.map((key) => key.split(':push:')[1].split(':')[0]))).toEqual(new Set(['scale-c1', 'scale-c2']));
      const claimed = await Promise.all([f1, f2].map(async (f) => (await f.metrics()).sum('flowbill_flush_batches_claimed_total')));
      expect(claimed.every((n) => n > 0), `both flushers claimed batches (${claimed.join(', ')})`).toBe(true);
      console.log(`[e2e] scale-out: ${formatTotals(expectedTotals(all))} billed exactly; batches claimed by the flushers: ${claimed.join(' + ')}`);
    } finally {
      for (const sender of senders) sender.stop();
      for (const socket of sockets) socket.close();
    }
  }, 120_000);
});
