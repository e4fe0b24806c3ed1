/**
 * The native batched receiver (collector/native/udp_batch.c through native-udp.ts): the
 * records it lays out are exactly the datagrams sent (sizes from empty to the largest UDP
 * payload, IPv4 and IPv6 senders, many batches), they go into the ring unchanged with
 * tryWriteRecord, binding follows the listeners' rules (errors with their errno code, the
 * port free again after close), and COLLECTOR_RECEIVER's choices resolve as documented.
 *
 * The module is built by `pnpm install` (root postinstall) and by scripts/test.sh, which
 * requires it: these tests fail, not skip, when it is missing.
 */
import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../testing-udp.js';
import { DatagramRing, RECORD_HEADER_BYTES } from './datagram-ring.js';
import { loadNativeUdp, NativeUdpSockets, resolveReceiver } from './native-udp.js';

const opened: NativeUdpSockets[] = [];
afterEach(() => {
  for (const s of opened.splice(0)) s.close();
});

function open(listen: { host: string; port: number }[], receiveBufferBytes = 4 * 1024 * 1024): NativeUdpSockets {
  const s = NativeUdpSockets.open(listen, receiveBufferBytes);
  opened.push(s);
  return s;
}

interface Got {
  payload: Buffer;
  port: number;
  family: number;
  address: Buffer;
  receivedAt: number;
}

/** The records of one receive() call. */
function records(batch: Uint8Array, used: number): Got[] {
  const view = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const out: Got[] = [];
  for (let at = 0; at < used; ) {
    expect(at % 8).toBe(0);
    const length = view.getInt32(at, true);
    const meta = view.getInt32(at + 4, true);
    out.push({
      payload: Buffer.from(batch.slice(at + RECORD_HEADER_BYTES, at + RECORD_HEADER_BYTES + length)),
      port: meta & 0xffff,
      family: meta >>> 16,
      address: Buffer.from(batch.slice(at + 8, at + 24)),
      receivedAt: view.getFloat64(at + 24, true),
    });
    at += RECORD_HEADER_BYTES + ((length + 7) & ~7);
  }
  return out;
}

/** Receive until `count` records came or `ms` passed. */
function receiveAll(sockets: NativeUdpSockets, count: number, ms = 5000): Got[] {
  const got: Got[] = [];
  const end = Date.now() + ms;
  while (got.length < count && Date.now() < end) {
    const used = sockets.receive(50);
    got.push(...records(sockets.batch, used));
  }
  return got;
}

function pattern(size: number, seed: number): Buffer {
  const b = Buffer.alloc(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed * 7) & 255;
  return b;
}

/** A sender socket bound to a known port, to check the port the records carry. */
async function senderSocket(type: 'udp4' | 'udp6'): Promise<dgram.Socket> {
  const s = dgram.createSocket(type);
  await new Promise<void>((resolve) => s.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', resolve));
  return s;
}

function sendFrom(s: dgram.Socket, host: string, port: number, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => s.send(payload, port, host, (e) => (e ? reject(e) : resolve())));
}

describe('native batched UDP receiver', () => {
  it('is built and loads (pnpm install builds it; scripts/test.sh requires it)', () => {
    const found = loadNativeUdp();
    expect('error' in found ? found.error : 'loaded').toBe('loaded');
  });

  it('lays out each datagram as a ring record: payload, sender port, family and address, receive time; IPv4 and IPv6', async () => {
    const sockets = open([{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }]);
    expect(sockets.bound.map((b) => b.host)).toEqual(['127.0.0.1', '::1']);
    expect(sockets.bound.every((b) => b.port > 0 && b.receiveBufferBytes > 0)).toBe(true);
    const v4 = await senderSocket('udp4');
    const v6 = await senderSocket('udp6');
    const before = Date.now();
    // Empty, odd sizes around the 8-byte padding, a typical export, the largest IPv4 payload.
    const sizes = [0, 1, 7, 8, 9, 1464, 65507];
    for (const [k, size] of sizes.entries()) await sendFrom(v4, '127.0.0.1', sockets.bound[0].port, pattern(size, k));
    await sendFrom(v6, '::1', sockets.bound[1].port, pattern(1500, 99));
    const got = receiveAll(sockets, sizes.length + 1);
    const after = Date.now();
    const v4Port = v4.address().port;
    const v6Port = v6.address().port;
    v4.close();
    v6.close();
    expect(got).toHaveLength(sizes.length + 1);
    const fromV4 = got.filter((g) => g.family === 4);
    expect(fromV4.map((g) => g.payload.length)).toEqual(sizes);
    for (const [k, g] of fromV4.entries()) {
      expect(g.payload.equals(pattern(sizes[k], k))).toBe(true);
      expect(g.port).toBe(v4Port);
      expect([...g.address]).toEqual([127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
      expect(g.receivedAt).toBeGreaterThanOrEqual(before);
      expect(g.receivedAt).toBeLessThanOrEqual(after);
      expect(Number.isInteger(g.receivedAt)).toBe(true);
    }
    const [fromV6] = got.filter((g) => g.family === 6);
    expect(fromV6.payload.equals(pattern(1500, 99))).toBe(true);
    expect(fromV6.port).toBe(v6Port);
    expect([...fromV6.address]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('takes many datagrams in batches, none lost, reordered or mixed up (letting them gather, too)', async () => {
    const sockets = open([{ host: '127.0.0.1', port: 0 }], 16 * 1024 * 1024);
    const v4 = await senderSocket('udp4');
    const count = 2000;
    // Sizes vary so that the moves inside the batch buffer shift every record differently.
    const sizeOf = (k: number) => 1 + ((k * 97) % 1400);
    const sent: Promise<void>[] = [];
    for (let k = 0; k < count; k++) {
      const p = pattern(sizeOf(k), k);
      if (p.length >= 4) p.writeUInt32BE(k, 0);
      sent.push(sendFrom(v4, '127.0.0.1', sockets.bound[0].port, p));
    }
    await Promise.all(sent);
    const got: Got[] = [];
    let calls = 0;
    const end = Date.now() + 5000;
    while (got.length < count && Date.now() < end) {
      calls++;
      got.push(...records(sockets.batch, sockets.receive(50, 500)));
    }
    v4.close();
    expect(got).toHaveLength(count);
    expect(calls).toBeLessThan(count / 10);
    for (let k = 0; k < count; k++) {
      const expected = pattern(sizeOf(k), k);
      if (expected.length >= 4) expected.writeUInt32BE(k, 0);
      if (!got[k].payload.equals(expected)) throw new Error(`datagram ${k} differs`);
    }
  });

  it('stops a call when its buffer is full and leaves the rest queued for the next one, none lost', async () => {
    const sockets = open([{ host: '127.0.0.1', port: 0 }], 16 * 1024 * 1024);
    const v4 = await senderSocket('udp4');
    // 80 datagrams of 60,000 bytes: more than one call's buffer (64 + 8 slots of 64 KiB),
    // little enough for a socket buffer capped at the usual net.core.rmem_max.
    const count = 80;
    for (let k = 0; k < count; k++) await sendFrom(v4, '127.0.0.1', sockets.bound[0].port, pattern(60_000, k));
    v4.close();
    const perCall: number[] = [];
    const got: Got[] = [];
    const end = Date.now() + 5000;
    while (got.length < count && Date.now() < end) {
      const batch = records(sockets.batch, sockets.receive(50));
      if (batch.length > 0) perCall.push(batch.length);
      got.push(...batch);
    }
    expect(got).toHaveLength(count);
    expect(perCall.length).toBeGreaterThan(1);
    expect(Math.max(...perCall)).toBeLessThan(count);
    for (let k = 0; k < count; k++) if (!got[k].payload.equals(pattern(60_000, k))) throw new Error(`datagram ${k} differs`);
  });

  it('returns nothing, without waiting, when nothing is queued and the timeout is 0', () => {
    const sockets = open([{ host: '127.0.0.1', port: 0 }]);
    expect(sockets.receive(0)).toBe(0);
    expect(sockets.receive(10)).toBe(0);
    expect(sockets.stats[0]).toBe(0);
  });

  it('records go into the ring unchanged with tryWriteRecord, as tryWrite would have written them', async () => {
    const sockets = open([{ host: '127.0.0.1', port: 0 }]);
    for (const size of [0, 5, 1400]) await send('udp4', '127.0.0.1', sockets.bound[0].port, pattern(size, size));
    let used = 0;
    const end = Date.now() + 5000;
    let batch = new Uint8Array(0);
    while (records(batch, used).length < 3 && Date.now() < end) {
      const more = sockets.receive(50);
      const joined = new Uint8Array(used + more);
      joined.set(batch.subarray(0, used));
      joined.set(sockets.batch.subarray(0, more), used);
      batch = joined;
      used += more;
    }
    const viaRecord = DatagramRing.create(1 << 16);
    const viaWrite = DatagramRing.create(1 << 16);
    for (let at = 0, k = 0; at < used; k++) {
      expect(viaRecord.tryWriteRecord(batch, at)).toBe(true);
      const g = records(batch.subarray(at), used - at)[0];
      expect(viaWrite.tryWrite(g.payload, g.port, g.family as 4, g.address, g.receivedAt)).toBe(true);
      at += RECORD_HEADER_BYTES + ((g.payload.length + 7) & ~7);
    }
    const read = (ring: DatagramRing) => {
      const out: string[] = [];
      ring.read(10, (payload, port, family, addressOffset, receivedAt) =>
        out.push(`${Buffer.from(payload).toString('hex')}|${port}|${family}|${Buffer.from(ring.bytes.subarray(addressOffset, addressOffset + 16)).toString('hex')}|${receivedAt}`),
      );
      return out;
    };
    const a = read(viaRecord);
    expect(a).toHaveLength(3);
    expect(a).toEqual(read(viaWrite));
  });

  it('fails to bind a port that is taken with the errno code, closing what it had bound; the port is free after close()', () => {
    const a = open([{ host: '127.0.0.1', port: 0 }]);
    const port = a.bound[0].port;
    let error: NodeJS.ErrnoException | null = null;
    try {
      open([{ host: '127.0.0.1', port: 0 }, { host: '127.0.0.1', port }]);
    } catch (e) {
      error = e as NodeJS.ErrnoException;
    }
    expect(error?.code).toBe('EADDRINUSE');
    expect(error?.message).toMatch(/bind EADDRINUSE .*127\.0\.0\.1:\d+/);
    a.close();
    const again = open([{ host: '127.0.0.1', port }]);
    expect(again.bound[0].port).toBe(port);
  });

  it('binds IPv6 sockets v6-only, so 0.0.0.0:P and [::]:P are two sockets', () => {
    const v4 = open([{ host: '0.0.0.0', port: 0 }]);
    const v6 = open([{ host: '::', port: v4.bound[0].port }]);
    expect(v6.bound[0].port).toBe(v4.bound[0].port);
  });

  it('rejects a host that is no address, naming it', () => {
    expect(() => open([{ host: '300.1.1.1', port: 0 }])).toThrow(/300\.1\.1\.1/);
  });

  it('refuses bad arguments with a clear error instead of reading or writing wild memory', () => {
    const found = loadNativeUdp();
    if (!('module' in found)) throw new Error(found.error);
    const m = found.module;
    const stats = new Float64Array(2);
    const out = new Uint8Array(m.SLOT_BYTES);
    const call = (f: () => unknown) => expect(f);
    call(() => (m.open as (...a: unknown[]) => unknown)(4, new Uint8Array(16), 0)).toThrow('open(family, address, port, receiveBufferBytes)');
    call(() => m.open(5 as 4, new Uint8Array(16), 0, 0)).toThrow(/family must be 4 or 6/);
    call(() => m.open(4, new Uint8Array(4), 0, 0)).toThrow(/16 bytes/);
    call(() => m.open(4, new Uint8Array(16), 70000, 0)).toThrow(/port 0\.\.65535/);
    call(() => m.receive(new Int32Array(0), out, 0, stats, 0)).toThrow(/1\.\.64 descriptors/);
    call(() => m.receive(new Int32Array([0]), new Uint8Array(m.SLOT_BYTES - 1), 0, stats, 0)).toThrow(/at least SLOT_BYTES/);
    call(() => m.receive(new Int32Array([0]), out, 0, new Float64Array(1), 0)).toThrow(/Float64Array of 2/);
    call(() => m.receive(new Int32Array([0]), out, 0, stats, -1)).toThrow(/gatherUs must be/);
    call(() => (m.close as (...a: unknown[]) => unknown)()).toThrow('close(fd)');
  });

  it('receives nothing after close()', () => {
    const s = open([{ host: '127.0.0.1', port: 0 }]);
    s.close();
    expect(s.receive(0)).toBe(0);
  });
});

describe('COLLECTOR_RECEIVER', () => {
  it('auto and native choose the native receiver where it loads; node chooses node:dgram', () => {
    expect(resolveReceiver('auto').kind).toBe('native');
    expect(resolveReceiver('native').kind).toBe('native');
    expect(resolveReceiver('node')).toEqual({ kind: 'node', note: 'receiving with node:dgram (COLLECTOR_RECEIVER=node)' });
  });

  it('where the module does not load: auto falls back to node:dgram saying why; native stops start-up', () => {
    const missing = () => ({ error: 'udp_batch.node is not built' });
    expect(resolveReceiver('auto', missing)).toEqual({ kind: 'node', note: 'receiving with node:dgram, slower: udp_batch.node is not built' });
    expect(() => resolveReceiver('native', missing)).toThrow('COLLECTOR_RECEIVER=native: udp_batch.node is not built');
  });
});
