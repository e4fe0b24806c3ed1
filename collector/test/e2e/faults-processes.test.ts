/**
 * Fault tests, processes: kill -9 of the collector and of the flusher at random moments
 * while a deterministic NetFlow v9 replay runs at a steady rate. The moments come from a
 * printed seed (FLOWBILL_E2E_SEED repeats them).
 *
 * Exactness: at the end ClickHouse usage == Redis accepted totals, exactly, and no batch
 * part was inserted twice. When the collector never died, accepted == what was sent, per
 * subscriber too. When it died, accepted is exactly "a prefix of the stream (what the
 * first process had pushed) + the suffix the restarted process received", so the loss is
 * exactly the messages in between, which the test reports.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  expectCollectorGotEverything,
  expectExactly,
  expectNoDuplicateBatches,
  FAULT_SUBSCRIBERS,
  faultRandom,
  faultSeed,
  formatTotals,
  planFaultReplay,
  startFaultPipeline,
} from './support/fault-scenario.js';
import { bindSender, expectedBySubscriber, expectedTotals, SteadySender, type PlannedMessage, type Totals } from './support/replay.js';
import { type CollectorProcess, Pipeline, useE2eServers } from './support/stack.js';
import { sleep, stableJson, waitFor } from './support/wait.js';

/**
 * FLOWBILL_E2E_REAL_LEASE=1: let a killed flusher's leases run out for real (120 s each
 * kill, about 7 minutes in all) instead of expiring them once the flusher is dead.
 */
const REAL_LEASE = process.env.FLOWBILL_E2E_REAL_LEASE === '1';

const servers = useE2eServers();
let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

function add(a: Totals, b: Totals): Totals {
  return { bytes: a.bytes + b.bytes, packets: a.packets + b.packets, flows: a.flows + b.flows };
}

describe('kill -9 of the collector mid-replay', () => {
  it('ClickHouse == accepted exactly; accepted is a prefix of the stream plus everything after the restart; the loss is reported', async () => {
    const seed = faultSeed('collector kill -9');
    const random = faultRandom(seed);
    const shape = { messages: 1_000, rateHz: 100, recordsPerMessage: 20 };
    const killAt = random.int(Math.floor(shape.messages * 0.3), Math.floor(shape.messages * 0.6));
    const downMs = random.int(200, 1_500);

    pipeline = await Pipeline.create(servers(), FAULT_SUBSCRIBERS);
    const { collector } = await startFaultPipeline(pipeline);
    const messages = planFaultReplay(seed, shape);
    const socket = await bindSender();
    const sender = new SteadySender(socket, collector.target, messages, shape.rateHz).start();
    try {
      await sender.waitUntil(killAt);
      const sentBeforeKill = sender.progress;
      await collector.kill9();
      await sleep(downMs);
      await collector.start();
      const sentBeforeReady = sender.progress;
      await sender.done;
      expect(sender.errors).toEqual([]);

      // The restarted process received a contiguous suffix of the stream: the first message
      // it got is messages.length - received.
      const m = await waitForReceived(collector, sentBeforeReady, messages.length);
      const received = m.datagrams;
      const firstReceived = messages.length - received;
      expect(firstReceived).toBeGreaterThanOrEqual(sentBeforeKill);
      expect(firstReceived).toBeLessThanOrEqual(sentBeforeReady);
      expect(m.records).toBe(received * shape.recordsPerMessage);

      const state = await pipeline.waitUntilFlushed(60_000);
      expect(state.clickhouse, 'ClickHouse == Redis accepted').toEqual(state.accepted);
      await expectNoDuplicateBatches(pipeline);

      const sent = expectedTotals(messages);
      const suffix = expectedTotals(messages.slice(firstReceived));
      // Which prefix did the killed process get into Redis? Prefix sums strictly grow, so at
      // most one fits. (It may have received a few messages sent while SIGKILL was on its way.)
      let accepted = -1;
      let prefix: Totals = { bytes: 0n, packets: 0n, flows: 0n };
      for (let j = 0; j <= firstReceived; j++) {
        if (stableJson(add(prefix, suffix)) === stableJson(state.accepted)) {
          accepted = j;
          break;
        }
        if (j < messages.length) prefix = add(prefix, expectedTotals([messages[j]]));
      }
      expect(accepted, `accepted (${formatTotals(state.accepted)}) is not "a prefix of the stream + the suffix from message ${firstReceived}"`).toBeGreaterThanOrEqual(0);
      const lostMessages = messages.slice(accepted, firstReceived);
      const lost = expectedTotals(lostMessages);
      expect(state.accepted.bytes <= sent.bytes && state.accepted.packets <= sent.packets && state.accepted.flows <= sent.flows, 'accepted <= sent').toBe(true);
      expect(add(state.accepted, lost)).toEqual(sent);
      // The loss: what the killed process held (received, not yet pushed: about one push
      // interval, 1 s by default, of traffic; allow two seconds' worth on a loaded machine) and what
      // was sent while no collector listened.
      const inFlightAtKill = sentBeforeKill - accepted;
      expect(inFlightAtKill, 'messages the killed collector had received but not pushed').toBeLessThanOrEqual(2 * shape.rateHz);
      console.log(
        `[e2e] collector kill -9 at message ${sentBeforeKill}/${messages.length}, down ${downMs} ms: ` +
          `accepted ${accepted} + ${received} messages; lost ${lostMessages.length} messages ` +
          `(${inFlightAtKill} received but unpushed at the kill, ${firstReceived - sentBeforeKill} sent while no collector listened) = ${formatTotals(lost)} ` +
          `of ${formatTotals(sent)} sent`,
      );

      // And per subscriber, ClickHouse holds exactly the usage of the accepted messages.
      const acceptedMessages: PlannedMessage[] = [...messages.slice(0, accepted), ...messages.slice(firstReceived)];
      const bySubscriber = await pipeline.clickhouseBySubscriber();
      expect(Object.fromEntries(bySubscriber)).toEqual(Object.fromEntries(expectedBySubscriber(acceptedMessages)));
    } finally {
      sender.stop();
      socket.close();
    }
  }, 120_000);
});

describe('graceful stop (SIGTERM) of the collector mid-replay', () => {
  it('pushes everything it decoded before exiting: accepted is exactly a prefix of the stream, ClickHouse == accepted', async () => {
    const seed = faultSeed('collector SIGTERM');
    const random = faultRandom(seed);
    const shape = { messages: 600, rateHz: 100, recordsPerMessage: 20 };
    const stopAt = random.int(Math.floor(shape.messages * 0.3), Math.floor(shape.messages * 0.7));
    pipeline = await Pipeline.create(servers(), FAULT_SUBSCRIBERS);
    const { collector } = await startFaultPipeline(pipeline);
    const messages = planFaultReplay(seed, shape);
    const socket = await bindSender();
    const sender = new SteadySender(socket, collector.target, messages, shape.rateHz).start();
    try {
      await sender.waitUntil(stopAt);
      const sentBeforeStop = sender.progress;
      await collector.stop();
      const sentBeforeExit = sender.progress;
      sender.stop();
      await sender.done;
      expect(collector.log).toMatch(/\[collector\] stopped/);
      expect(collector.log, 'everything was acknowledged by Redis before the exit').not.toMatch(/not acknowledged by Redis/);

      const state = await pipeline.waitUntilFlushed(60_000);
      expect(state.clickhouse, 'ClickHouse == Redis accepted').toEqual(state.accepted);
      await expectNoDuplicateBatches(pipeline);
      let accepted = -1;
      let prefix: Totals = { bytes: 0n, packets: 0n, flows: 0n };
      for (let j = 0; j <= sentBeforeExit; j++) {
        if (stableJson(prefix) === stableJson(state.accepted)) {
          accepted = j;
          break;
        }
        if (j < messages.length) prefix = add(prefix, expectedTotals([messages[j]]));
      }
      expect(accepted, `accepted (${formatTotals(state.accepted)}) is not a prefix of the stream`).toBeGreaterThanOrEqual(0);
      // Only datagrams still unread in the socket buffer when the listener closed can be
      // missing: a few at most.
      expect(accepted, `accepted ${accepted} messages; ${sentBeforeStop} were sent before SIGTERM`).toBeGreaterThanOrEqual(sentBeforeStop - 5);
      expect(Object.fromEntries(await pipeline.clickhouseBySubscriber())).toEqual(Object.fromEntries(expectedBySubscriber(messages.slice(0, accepted))));
      console.log(`[e2e] collector SIGTERM after message ${sentBeforeStop} (exited after ${sentBeforeExit}): accepted exactly the first ${accepted} messages`);
    } finally {
      sender.stop();
      socket.close();
    }
  }, 120_000);
});

describe('kill -9 of the flusher, several times, mid-replay', () => {
  it('every datagram sent is billed exactly once: ClickHouse == accepted == sent, per subscriber too, no batch twice', async () => {
    const seed = faultSeed('flusher kill -9');
    const random = faultRandom(seed);
    const shape = { messages: 1_400, rateHz: 100, recordsPerMessage: 20 };
    pipeline = await Pipeline.create(servers(), FAULT_SUBSCRIBERS);
    const { collector, flusher } = await startFaultPipeline(pipeline);
    const messages = planFaultReplay(seed, shape);
    const socket = await bindSender();
    const sender = new SteadySender(socket, collector.target, messages, shape.rateHz).start();
    const p = pipeline;
    // Three kills at random moments; the second waits for a claimed batch so at least one
    // kill lands between claim and cleanup (the window recovery exists for).
    const kills = [0.15, 0.4, 0.65].map((at, k) => ({ at: Math.floor(shape.messages * at) + random.int(0, Math.floor(shape.messages * 0.15)), inFlight: k === 1 }));
    const report: string[] = [];
    try {
      for (const kill of kills) {
        await sender.waitUntil(kill.at);
        if (kill.inFlight) {
          await waitFor('the flusher to hold a claimed batch', async () => (await p.redis.zcard(p.keys.flushing)) > 0, { timeoutMs: 10_000, intervalMs: 2 });
        }
        const killedAt = sender.progress;
        await flusher.kill9();
        const orphans = await p.redis.zrange(p.keys.flushing, 0, -1);
        await sleep(1_500);
        if (!REAL_LEASE) {
          // Stand-in for the lease running out (120 s, and flusher-main.ts has no variable
          // for it): after a settle time for an INSERT the dead process may have left on the
          // wire (what the protocol's insertSettleMs is for), expire the dead flusher's
          // leases. It is the only flusher, so every claimed batch is its.
          for (const batchId of orphans) await p.redis.zadd(p.keys.flushing, 'XX', 0, batchId);
        }
        await flusher.start();
        // The restarted flusher recovers and finishes every orphaned batch.
        await waitFor(
          `the restarted flusher to finish the ${orphans.length} batches the killed one held`,
          async () => (await Promise.all(orphans.map((id) => p.redis.zscore(p.keys.flushing, id)))).every((score) => score === null),
          { timeoutMs: REAL_LEASE ? 150_000 : 20_000, describe: () => flusher.log.slice(-1_500) },
        );
        const recovered = (await flusher.metrics()).sum('flowbill_flush_batches_recovered_total');
        expect(recovered, 'batches the restarted flusher took over').toBeGreaterThanOrEqual(orphans.length);
        report.push(`kill at message ${killedAt}${kill.inFlight ? ' (batch in flight)' : ''}: ${orphans.length} claimed batches orphaned, ${recovered} recovered`);
      }
      await sender.done;
      expect(sender.errors).toEqual([]);
      expect(report.some((line) => !line.includes(': 0 claimed')), 'at least one kill orphaned a claimed batch').toBe(true);
      await expectCollectorGotEverything(collector, messages.length, messages.length * shape.recordsPerMessage);
      await expectExactly(pipeline, messages, 'flusher kill -9');
      console.log(`[e2e] flusher kill -9 x${kills.length}${REAL_LEASE ? ' (real 120 s leases)' : ''}: ${report.join('; ')}; ${formatTotals(expectedTotals(messages))} billed exactly`);
    } finally {
      sender.stop();
      socket.close();
    }
  }, REAL_LEASE ? 900_000 : 120_000);
});

/** The collector's received/decoded counters once they stop moving (the sender is done). */
async function waitForReceived(collector: CollectorProcess, atLeastFrom: number, total: number) {
  let last = { datagrams: -1, records: -1 };
  await waitFor(
    `${collector.options.name} to receive everything sent after its restart`,
    async () => {
      const m = await collector.metrics();
      const now = { datagrams: m.sum('flowbill_udp_datagrams_total'), records: m.sum('flowbill_decoder_records_total') };
      const settled = now.datagrams === last.datagrams && now.datagrams >= total - atLeastFrom;
      last = now;
      return settled;
    },
    { timeoutMs: 15_000, intervalMs: 300, describe: () => JSON.stringify(last) },
  );
  return last;
}
