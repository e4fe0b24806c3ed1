/**
 * Fault tests, stores: Redis killed -9 and restarted (AOF, fsync always) and ClickHouse
 * stopped for several seconds, each at a random moment of a steady NetFlow v9 replay
 * (seed printed; FLOWBILL_E2E_SEED repeats it). The collector never dies here, so every
 * datagram sent must be billed exactly once: ClickHouse == Redis accepted == sent, per
 * subscriber through the API too, no batch part inserted twice, and the collector's own
 * counters show it received and decoded every datagram (no kernel drop, no refusal).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  expectCollectorGotEverything,
  expectExactly,
  FAULT_SUBSCRIBERS,
  faultRandom,
  faultSeed,
  formatTotals,
  planFaultReplay,
  startFaultPipeline,
} from './support/fault-scenario.js';
import { bindSender, expectedTotals, SteadySender } from './support/replay.js';
import { Pipeline, useE2eServers } from './support/stack.js';
import { get } from 'node:http';
import { sleep } from './support/wait.js';

const servers = useE2eServers();
let pipeline: Pipeline | undefined;
afterEach(async () => {
  await pipeline?.close();
  pipeline = undefined;
});

describe('Redis kill -9 and restart mid-replay', () => {
  it('loses nothing acknowledged: ClickHouse == accepted == sent, per subscriber too, no batch twice', async () => {
    const seed = faultSeed('Redis restart');
    const random = faultRandom(seed);
    const shape = { messages: 1_000, rateHz: 100, recordsPerMessage: 20 };
    const killAt = random.int(Math.floor(shape.messages * 0.3), Math.floor(shape.messages * 0.6));
    const downMs = random.int(300, 2_000);
    pipeline = await Pipeline.create(servers(), FAULT_SUBSCRIBERS);
    const { collector, flusher } = await startFaultPipeline(pipeline);
    const messages = planFaultReplay(seed, shape);
    const socket = await bindSender();
    const sender = new SteadySender(socket, collector.target, messages, shape.rateHz).start();
    try {
      await sender.waitUntil(killAt);
      const killedAt = sender.progress;
      const acceptedBefore = await pipeline.acceptedTotals();
      const logMarks = { collector: collector.log.length, flusher: flusher.log.length };
      const killedAtMs = Date.now();
      await servers().redis.kill9();
      await sleep(downMs);
      await servers().redis.restart();
      const restartedAtMs = Date.now();
      await sender.done;
      expect(sender.errors).toEqual([]);
      await expectCollectorGotEverything(collector, messages.length, messages.length * shape.recordsPerMessage);
      const lostClaim = await lostClaimReplies(pipeline, killedAtMs, restartedAtMs);
      await expectExactly(pipeline, messages, 'Redis restart', lostClaim === '' ? 60_000 : 150_000);
      // The outage was real: both services saw Redis go away and retried. The collector
      // either had a push fail or, when no push fell in a short outage (pushes wait in the
      // client's offline queue), saw its connection refused.
      expect(collector.log.slice(logMarks.collector)).toMatch(/push to Redis failed|redis: .*ECONN(REFUSED|RESET)/);
      expect(flusher.log.slice(logMarks.flusher)).toMatch(/will retry/);
      expect(acceptedBefore.bytes > 0n, 'data was accepted before the kill').toBe(true);
      console.log(`[e2e] Redis kill -9 at message ${killedAt}/${messages.length}, down ${downMs} ms: ${formatTotals(expectedTotals(messages))} billed exactly${lostClaim}`);
    } finally {
      sender.stop();
      socket.close();
    }
  }, 240_000);
});

describe('ClickHouse stopped for several seconds mid-replay', () => {
  it('data waits in Redis and lands once: ClickHouse == accepted == sent, per subscriber too, no batch twice', async () => {
    const seed = faultSeed('ClickHouse outage');
    const random = faultRandom(seed);
    // Planned long; the sender is stopped 3 s after ClickHouse is back (see below).
    const shape = { messages: 5_000, rateHz: 100, recordsPerMessage: 20 };
    const stopAt = random.int(150, 350);
    const downMs = random.int(5_000, 8_000);
    pipeline = await Pipeline.create(servers(), FAULT_SUBSCRIBERS);
    const { collector, flusher } = await startFaultPipeline(pipeline);
    const messages = planFaultReplay(seed, shape);
    const socket = await bindSender();
    const sender = new SteadySender(socket, collector.target, messages, shape.rateHz).start();
    try {
      await sender.waitUntil(stopAt);
      const stoppedAt = sender.progress;
      const clickhouse = servers().clickhouse;
      const flusherLogMark = flusher.log.length;
      const retriesBefore = (await flusher.metrics()).sum('flowbill_flush_retries_total');
      // Graceful stop (SIGTERM, wait for the exit), down for downMs, start on the same ports
      // and data. ClickHouse 18.16 keeps serving requests on connections already open for
      // 10-15 s after SIGTERM while a client keeps them busy (the flusher does), so the
      // replay runs on until 3 s after the restart: traffic arrives during the whole outage.
      const stopStarted = Date.now();
      const outage = watchAvailability(() => pingOnce(clickhouse.url));
      await clickhouse.restart({ downMs });
      const unavailableMs = Date.now() - stopStarted;
      const restartedAt = sender.progress;
      const { downForMs } = await outage.stop();
      await sleep(3_000);
      sender.stop();
      await sender.done;
      expect(sender.errors).toEqual([]);
      expect(sender.progress, 'the planned replay was long enough to outlast the outage').toBeLessThan(messages.length);
      expect(downForMs, 'ClickHouse did not answer for at least downMs').toBeGreaterThanOrEqual(downMs);
      const sent = sender.sentMessages;
      await expectCollectorGotEverything(collector, sent.length, sent.length * shape.recordsPerMessage);
      await expectExactly(pipeline, sent, 'ClickHouse outage');
      const caughtUpMs = Date.now() - stopStarted - unavailableMs;
      // The flusher met the outage: its attempts failed and were retried.
      const retries = (await flusher.metrics()).sum('flowbill_flush_retries_total') - retriesBefore;
      expect(retries, 'flusher retries during the outage').toBeGreaterThan(0);
      expect(flusher.log.slice(flusherLogMark), 'the flusher noticed the outage and retried').toMatch(/will retry/);
      console.log(
        `[e2e] ClickHouse stopped at message ${stoppedAt}, back at message ${restartedAt}, replay ended at ${sent.length} ` +
          `(graceful stop + ${downMs} ms down + start = ${unavailableMs} ms; refusing new connections for ${downForMs} ms; ${retries} flusher retries); ` +
          `flushed ${caughtUpMs} ms after the restart: ${formatTotals(expectedTotals(sent))} billed exactly`,
      );
    } finally {
      sender.stop();
      socket.close();
    }
  }, 150_000);
});

/**
 * Known issue (README, "Found while writing these tests"): when the flusher's claim script
 * ran but its reply was lost (Redis killed after writing the AOF, before answering), the
 * live flusher does not know the batch and it waits for its lease (120 s) to expire.
 * Nothing is lost, it is late. Wait up to 30 s for a normal drain; if what is left is only
 * batches claimed while Redis went down, say so and let the caller wait for the lease.
 */
async function lostClaimReplies(pipeline: Pipeline, killedAtMs: number, restartedAtMs: number): Promise<string> {
  try {
    await pipeline.waitUntilFlushed(30_000);
    return '';
  } catch (error) {
    const left = await pipeline.claimedBatches();
    const claimedAtKill = (b: (typeof left)[number]) => Number(b.batch.claimedAt) >= killedAtMs - 2_000 && Number(b.batch.claimedAt) <= restartedAtMs + 2_000;
    if (left.length === 0 || !left.every(claimedAtKill)) throw error;
    const note = `; known issue: ${left.length} batch(es) claimed as Redis died (${left.map((b) => b.batchId).join(', ')}) waited for their 120 s lease`;
    console.log(`[e2e] Redis restart${note}`);
    return note;
  }
}

/** Ping every 50 ms; on stop(), how long the longest run of failed pings lasted. */
function watchAvailability(ping: () => Promise<boolean>): { stop(): Promise<{ downForMs: number }> } {
  let running = true;
  let downSince: number | undefined;
  let longest = 0;
  const loop = (async () => {
    while (running) {
      const ok = await ping();
      const now = Date.now();
      if (!ok && downSince === undefined) downSince = now;
      if (ok && downSince !== undefined) {
        longest = Math.max(longest, now - downSince);
        downSince = undefined;
      }
      await sleep(50);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      if (downSince !== undefined) longest = Math.max(longest, Date.now() - downSince);
      return { downForMs: longest };
    },
  };
}

/** GET /ping on a fresh connection (a kept-alive one would hold up the server's graceful shutdown). */
function pingOnce(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = get(`${url}/ping`, { agent: false, timeout: 1_000, headers: { connection: 'close' } }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200));
      response.on('error', () => resolve(false));
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}
