/**
 * ThreadedUdpListener: UdpListener's behaviours (allowlist, IPv4 + IPv6, receive buffer,
 * stats, port taken), and why it exists: a burst sent while the main thread is blocked
 * arrives whole and in order (UdpListener loses it); stop() delivers everything received;
 * a dead or failing receive thread is reported, never silent.
 */
import type { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { ExporterAllowlist } from '../exporter-allowlist.js';
import { systemReceiveBufferMax, UdpListener } from '../udp-listener.js';
import type { UdpBlasterData } from './testing/udp-blaster.js';
import { ThreadedUdpListener, type ThreadedUdpListenerOptions } from './threaded-udp-listener.js';
import { startWorker } from './ts-worker.js';
import { send, until as untilWithin } from '../testing-udp.js';

const listeners: { stop(): Promise<void> }[] = [];
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.terminate()));
  await Promise.all(listeners.splice(0).map((l) => l.stop()));
});

function threaded(options: Partial<ThreadedUdpListenerOptions> & Pick<ThreadedUdpListenerOptions, 'onMessage'>): ThreadedUdpListener {
  const l = new ThreadedUdpListener({
    listen: [{ host: '127.0.0.1', port: 0 }],
    receiveBufferBytes: 8 * 1024 * 1024,
    allowlist: new ExporterAllowlist(['127.0.0.1/32', '::1/128']),
    ringBytes: 1 << 20,
    onError: (e) => {
      throw e;
    },
    ...options,
  });
  listeners.push(l);
  return l;
}

const until = (check: () => boolean, ms = 3000) => untilWithin(check, ms);

/** Block this thread (busy, as a long GC or a synchronous hand-over would) for `ms`, and while `more()`. */
function blockFor(ms: number, more: () => boolean = () => false, maxMs = 30_000): number {
  const started = Date.now();
  while (Date.now() - started < ms || (more() && Date.now() - started < maxMs)) {
    // busy
  }
  return Date.now() - started;
}

/** A sender in another thread: sends `count` datagrams once told to, while this thread may be blocked. */
async function blaster(port: number, count: number, size: number, rate: number) {
  const flags = new Int32Array(new SharedArrayBuffer(8));
  const data: UdpBlasterData = { host: '127.0.0.1', port, count, size, rate, flags: flags.buffer as SharedArrayBuffer };
  const worker = startWorker(new URL('./testing/udp-blaster.ts', import.meta.url), { workerData: data });
  workers.push(worker);
  const done = new Promise<{ sent: number; errors: number }>((resolve, reject) => {
    worker.on('message', (m: { type: string; sent: number; errors: number }) => {
      if (m.type === 'done') resolve(m);
    });
    worker.once('error', reject);
  });
  await new Promise<void>((resolve, reject) => {
    worker.on('message', (m: { type: string }) => m.type === 'ready' && resolve());
    worker.once('error', reject);
  });
  return {
    go: () => {
      Atomics.store(flags, 0, 1);
      Atomics.notify(flags, 0);
    },
    finished: () => Atomics.load(flags, 1) === 1,
    done,
  };
}

/**
 * Burst rate: 100,000 datagrams in 4 s, all while this thread is blocked (busy). The sending
 * thread, the receive thread and the busy thread share the test machine's cores with the
 * other test files running in parallel: at a higher rate a starved receive thread lets the
 * kernel drop (a limit of the cores, not of the ring, which stays far from full). At this
 * rate the socket buffer holds a few hundred ms of datagrams, slack for the scheduler.
 */
const RATE = 25_000;

describe.each(['native', 'node'] as const)('threaded UDP listener (%s receiver)', (receiver) => {
  it('delivers datagrams from allowed exporters (IPv4 and IPv6) and drops and counts the others', async () => {
    const got: string[] = [];
    const l = threaded({ receiver,
      listen: [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }],
      allowlist: new ExporterAllowlist(['127.0.0.1/32']),
      onMessage: (msg, address, port, receivedAt) => {
        expect(msg).toBeInstanceOf(Uint8Array);
        expect(Buffer.isBuffer(msg)).toBe(false);
        expect(port).toBeGreaterThan(0);
        expect(Math.abs(Date.now() - receivedAt)).toBeLessThan(5000);
        got.push(`${address}:${Buffer.from(msg).toString()}`);
      },
    });
    const bound = await l.start();
    expect(bound).toHaveLength(2);
    expect(bound.map((b) => b.host)).toEqual(['127.0.0.1', '::1']);
    expect(bound[0].receiveBufferBytes).toBeGreaterThan(0);
    expect(l.bound).toEqual(bound);
    await send('udp4', '127.0.0.1', bound[0].port, Buffer.from('hello'));
    await send('udp6', '::1', bound[1].port, Buffer.from('spoof'));
    // Allowed, not allowed, allowed again: a verdict cached for one sender never sticks to the next.
    await send('udp4', '127.0.0.1', bound[0].port, Buffer.from('again'));
    await send('udp6', '::1', bound[1].port, Buffer.from('spoof'));
    await until(() => got.length === 2 && l.stats.notAllowed === 2 && l.stats.notAllowedSenders.get('::1') === 2);
    expect(got).toEqual(['127.0.0.1:hello', '127.0.0.1:again']);
    expect(l.stats.notAllowed).toBe(2);
    expect([...l.stats.notAllowedSenders]).toEqual([['::1', 2]]);
    expect(l.stats.datagrams).toBe(2);
    expect(l.stats.bytes).toBe(10);
    expect(l.ringDrops).toBe(0);
    expect(l.ringStats()).toMatchObject({ capacityBytes: 1 << 20, drops: 0, received: 4, truncated: 0, receiveErrors: 0 });
  });

  it('gives IPv6 senders the text node:dgram gives them', async () => {
    const got: string[] = [];
    const l = threaded({ receiver, listen: [{ host: '::1', port: 0 }], onMessage: (msg, address) => got.push(address) });
    const [b] = await l.start();
    await send('udp6', '::1', b.port, Buffer.from('x'));
    await until(() => got.length === 1);
    expect(got).toEqual(['::1']);
  });

  it('fails to start with a clear error when the port is taken', async () => {
    const a = threaded({ receiver, onMessage: () => undefined });
    const [b] = await a.start();
    const c = threaded({ receiver, listen: [{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port: b.port }], onMessage: () => undefined });
    await expect(c.start()).rejects.toThrow(/EADDRINUSE/);
    // The socket it had bound before the failure is closed again.
    await c.stop();
  });

  it('loses nothing of a 100,000-datagram burst sent while the main thread is blocked (busy, at least 500 ms and until all is sent), in order', async () => {
    const count = 100_000;
    const seqs: number[] = [];
    const l = threaded({ receiver,
      ringBytes: 32 * 1024 * 1024,
      onMessage: (msg) => seqs.push(((msg[0] << 24) | (msg[1] << 16) | (msg[2] << 8) | msg[3]) >>> 0),
    });
    const [b] = await l.start();
    const sender = await blaster(b.port, count, 100, RATE);
    sender.go();
    const blocked = blockFor(500, () => !sender.finished());
    const { sent } = await sender.done;
    expect(sent).toBe(count);
    await until(() => seqs.length === count, 20_000);
    expect(blocked).toBeGreaterThanOrEqual(500);
    expect(l.ringDrops).toBe(0);
    expect(seqs.length).toBe(count);
    let inOrder = true;
    for (let k = 0; k < count; k++) if (seqs[k] !== k) inOrder = false;
    expect(inOrder).toBe(true);
    expect(l.stats.datagrams).toBe(count);
  }, 60_000);

  it('stop() delivers everything already received before it resolves', async () => {
    const count = 5_000;
    let got = 0;
    const l = threaded({ receiver, ringBytes: 8 * 1024 * 1024, onMessage: () => got++ });
    const [b] = await l.start();
    const sender = await blaster(b.port, count, 200, 50_000);
    sender.go();
    // Blocked until the receive thread has every datagram in the ring; none delivered yet.
    blockFor(0, () => (l.ringStats()?.received ?? 0) < count);
    expect(got).toBe(0);
    await l.stop();
    expect(got).toBe(count);
    expect(l.stats.datagrams).toBe(count);
    // Stopped: the port is free again.
    const again = threaded({ receiver, listen: [{ host: '127.0.0.1', port: b.port }], onMessage: () => undefined });
    await again.start();
  });

  it('drops and counts when the ring is full, and keeps receiving', async () => {
    let got = 0;
    const l = threaded({ receiver, ringBytes: 1 << 20, onMessage: () => got++ });
    const [b] = await l.start();
    const count = 20_000; // 20,000 x 1,032 bytes of ring: far more than 1 MiB
    const sender = await blaster(b.port, count, 1000, 50_000);
    sender.go();
    blockFor(300, () => !sender.finished());
    await sender.done;
    // The kernel's socket buffer may still hold datagrams the thread has not read when the
    // sender is done: wait until the thread has received nothing new for 300 ms and
    // everything it received was delivered or dropped.
    let lastReceived = -1;
    let stableSince = Date.now();
    await until(() => {
      const received = l.ringStats()?.received ?? 0;
      if (received !== lastReceived) {
        lastReceived = received;
        stableSince = Date.now();
      }
      return Date.now() - stableSince >= 300 && got + l.ringDrops >= received;
    }, 20_000);
    expect(l.ringDrops).toBeGreaterThan(0);
    expect(got).toBeGreaterThan(0);
    expect(got + l.ringDrops).toBe(l.ringStats()!.received);
    const before = got;
    await send('udp4', '127.0.0.1', b.port, Buffer.from('after'));
    await until(() => got === before + 1);
    expect(got).toBe(before + 1);
  }, 60_000);

  it('reports a receive thread that exits, and still delivers what it had received', async () => {
    const errors: Error[] = [];
    let got = 0;
    const l = threaded({ receiver, onMessage: () => got++, onError: (e) => errors.push(e) });
    const [b] = await l.start();
    await send('udp4', '127.0.0.1', b.port, Buffer.from('one'));
    await until(() => got === 1);
    await l.workerForTests!.terminate();
    await until(() => errors.length > 0);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/UDP receive thread exited unexpectedly/)]);
    await l.stop();
  });

  it('reports a receive thread that throws', async () => {
    const errors: Error[] = [];
    const l = threaded({ receiver, onMessage: () => undefined, onError: (e) => errors.push(e) });
    await l.start();
    l.workerForTests!.postMessage({ type: 'no such message' });
    await until(() => errors.length > 0);
    expect(errors[0].message).toMatch(/UDP receive thread failed: .*unknown message/);
    await l.stop();
  });

  it('fails start() when the worker cannot start', async () => {
    const l = threaded({ receiver, onMessage: () => undefined, workerUrl: new URL('./no-such-worker.ts', import.meta.url) });
    await expect(l.start()).rejects.toThrow(/UDP receive thread/);
  });
});

describe('main-thread UDP listener', () => {
  it('loses most of a 100,000-datagram burst sent while its thread is blocked (its socket buffer is all it has): why the receive thread exists', async () => {
    const max = systemReceiveBufferMax();
    // Deterministic only while the kernel caps the socket buffer well below the burst.
    if (max === null || max > 16 * 1024 * 1024) return;
    const count = 100_000;
    let got = 0;
    const l = new UdpListener({
      listen: [{ host: '127.0.0.1', port: 0 }],
      receiveBufferBytes: 8 * 1024 * 1024,
      allowlist: new ExporterAllowlist(['127.0.0.1/32']),
      onMessage: () => got++,
    });
    listeners.push(l);
    const [b] = await l.start();
    const sender = await blaster(b.port, count, 100, RATE);
    sender.go();
    blockFor(500, () => !sender.finished());
    await sender.done;
    await new Promise((r) => setTimeout(r, 500));
    expect(got).toBeLessThan(count);
  }, 60_000);
});
