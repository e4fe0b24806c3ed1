/**
 * The ring between the receive thread and the main thread (datagram-ring.ts): order,
 * wrap-around from every reachable offset, full and too-big refusals, payload views that the
 * decoder's slice() copies out, and a real worker_threads producer checked byte for byte.
 * Also the sender address text, which must be what node:dgram would have given.
 */
import net from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressTextCache, formatSenderAddress, senderAddressOf } from './address-text.js';
import { DatagramRing, MIN_RING_CAPACITY, recordBytes } from './datagram-ring.js';
import { addressOf, payloadByte, payloadLength, type RingProducerData } from './testing/ring-producer.js';
import { startWorker } from './ts-worker.js';

const ADDRESS = new Uint8Array(16).map((_, k) => k + 1);

function payloadFor(seq: number, length: number): Uint8Array {
  const p = new Uint8Array(length);
  for (let j = 0; j < length; j++) p[j] = (seq * 13 + j) & 255;
  return p;
}

interface Got {
  payload: number[];
  port: number;
  family: number;
  address: number[];
  receivedAt: number;
}

function readAll(ring: DatagramRing, max = Infinity): Got[] {
  const out: Got[] = [];
  ring.read(max, (payload, port, family, addressOffset, receivedAt) => {
    out.push({ payload: [...payload], port, family, address: [...ring.bytes.subarray(addressOffset, addressOffset + 16)], receivedAt });
  });
  return out;
}

/** Move an empty ring's positions to data offset `at` (0, or 32 and up: a record is at least 32 bytes). */
function positionAt(ring: DatagramRing, at: number): void {
  if (at === 0) return;
  expect(ring.tryWrite(new Uint8Array(at - 32), 1, 4, ADDRESS, 0)).toBe(true);
  expect(readAll(ring)).toHaveLength(1);
  expect(ring.isEmpty()).toBe(true);
}

describe('datagram ring', () => {
  it('delivers records in order with their port, family, address and receive time', () => {
    const ring = DatagramRing.create(64 * 1024);
    const sent: Got[] = [];
    for (let seq = 0; seq < 100; seq++) {
      const payload = payloadFor(seq, (seq * 37) % 300);
      const address = new Uint8Array(16).map((_, k) => (seq + k) & 255);
      const family = seq % 2 === 0 ? 4 : 6;
      expect(ring.tryWrite(payload, 1000 + seq, family, address, 1_700_000_000_000 + seq + 0.5)).toBe(true);
      sent.push({ payload: [...payload], port: 1000 + seq, family, address: [...address], receivedAt: 1_700_000_000_000 + seq + 0.5 });
    }
    expect(readAll(ring, 30)).toEqual(sent.slice(0, 30));
    expect(readAll(ring)).toEqual(sent.slice(30));
    expect(ring.isEmpty()).toBe(true);
    expect(ring.counters()).toEqual({ written: 100, refusedFull: 0, refusedTooBig: 0, read: 100 });
  });

  it('payloads are plain Uint8Array views; slice() copies them out of the ring', () => {
    const ring = DatagramRing.create(MIN_RING_CAPACITY);
    ring.tryWrite(payloadFor(1, 40), 1, 4, ADDRESS, 0);
    let kept: Uint8Array | null = null;
    ring.read(1, (payload) => {
      expect(payload).toBeInstanceOf(Uint8Array);
      expect(Buffer.isBuffer(payload)).toBe(false);
      expect(payload.buffer).toBe(ring.buffer);
      // What the decoder does with data waiting for its template (decoder.ts, `msg.slice(p, end)`).
      kept = payload.slice(4, 20);
    });
    expect(kept!.buffer).not.toBe(ring.buffer);
    expect(kept!.buffer).toBeInstanceOf(ArrayBuffer);
    const copy = [...kept!];
    // Overwrite the ring where the record was: the copy must not change.
    for (let k = 0; k < 10; k++) {
      ring.tryWrite(new Uint8Array(64).fill(0xee), 1, 4, ADDRESS, 0);
      readAll(ring);
    }
    expect([...kept!]).toEqual(copy);
  });

  it('wraps around correctly from every reachable offset, for records of every size class', () => {
    const cap = MIN_RING_CAPACITY;
    // Tail room before the end takes every multiple of 8 from 8 to cap; payload lengths give
    // record sizes smaller, equal and larger than the tail room, each with padding 0..7.
    const lengths = [0, 1, 7, 8, 9, 15, 16, 23, 24, 31, 32, 33, 63, 64, 65, 100, 200, 255, 300, 470, 471, 472];
    const starts = [0];
    for (let at = 32; at < cap; at += 8) starts.push(at);
    let seq = 0;
    for (const start of starts) {
      for (const length of lengths) {
        const ring = DatagramRing.create(cap);
        positionAt(ring, start);
        // Three rounds: fill until refused, read half, fill again, read everything.
        const expected: number[][] = [];
        for (let round = 0; round < 3; round++) {
          for (;;) {
            const payload = payloadFor(seq, length);
            if (!ring.tryWrite(payload, seq & 0xffff, 4, ADDRESS, seq)) break;
            expected.push([...payload]);
            seq++;
            // More records than can be held means the ring overwrote unread ones.
            if (expected.length > cap / 32) throw new Error(`ring accepted ${expected.length} records of ${length} bytes in ${cap}`);
          }
          // The ring only refuses when the record truly has no room.
          expect(ring.usedBytes() + recordBytes(length)).toBeGreaterThan(cap - 8 - recordBytes(length));
          const take = round === 2 ? Infinity : Math.ceil(expected.length / 2);
          const got = readAll(ring, take).map((g) => g.payload);
          expect(got).toEqual(expected.splice(0, got.length));
        }
        expect(expected).toEqual([]);
        expect(ring.isEmpty()).toBe(true);
        expect(ring.usedBytes()).toBe(0);
      }
    }
  });

  it('a record ending exactly at the end is refused while the reader is at 0, accepted once it moved', () => {
    const ring = DatagramRing.create(1024);
    expect(ring.tryWrite(new Uint8Array(512 - 32), 1, 4, ADDRESS, 0)).toBe(true); // [0, 512)
    // [512, 1024) would make the write position 0 = the read position ("empty"): refused.
    expect(ring.tryWrite(new Uint8Array(512 - 32), 2, 4, ADDRESS, 0)).toBe(false);
    expect(ring.counters().refusedFull).toBe(1);
    expect(readAll(ring).map((g) => g.port)).toEqual([1]);
    expect(ring.tryWrite(new Uint8Array(512 - 32), 3, 4, ADDRESS, 0)).toBe(true);
    expect(ring.usedBytes()).toBe(512);
    expect(readAll(ring).map((g) => g.port)).toEqual([3]);
    expect(ring.isEmpty()).toBe(true);
  });

  it('refuses and counts when full, and takes records again once read', () => {
    const ring = DatagramRing.create(4096);
    let written = 0;
    while (ring.tryWrite(payloadFor(written, 100), written, 4, ADDRESS, written)) written++;
    expect(written).toBe(Math.floor((4096 - 8) / recordBytes(100)));
    expect(ring.tryWrite(payloadFor(0, 100), 0, 4, ADDRESS, 0)).toBe(false);
    expect(ring.counters()).toMatchObject({ written, refusedFull: 2, refusedTooBig: 0 });
    expect(ring.refused()).toBe(2);
    // One record read is not enough room at the start for the wrapped record (the write
    // position must stay behind the read position); two are.
    expect(readAll(ring, 1).map((g) => g.port)).toEqual([0]);
    expect(ring.tryWrite(payloadFor(written, 100), written, 4, ADDRESS, written)).toBe(false);
    expect(readAll(ring, 1).map((g) => g.port)).toEqual([1]);
    expect(ring.tryWrite(payloadFor(written, 100), written, 4, ADDRESS, written)).toBe(true);
    expect(readAll(ring).map((g) => g.port)).toEqual(Array.from({ length: written - 1 }, (_, k) => k + 2));
  });

  it('refuses a datagram bigger than the ring, counted apart', () => {
    const ring = DatagramRing.create(MIN_RING_CAPACITY);
    expect(ring.tryWrite(new Uint8Array(MIN_RING_CAPACITY), 1, 4, ADDRESS, 0)).toBe(false);
    expect(ring.tryWrite(new Uint8Array(MIN_RING_CAPACITY - 32 - 7), 1, 4, ADDRESS, 0)).toBe(false);
    expect(ring.counters()).toMatchObject({ refusedTooBig: 2, refusedFull: 0, written: 0 });
    // The largest that can ever fit: capacity - 8 bytes of record.
    expect(ring.tryWrite(new Uint8Array(MIN_RING_CAPACITY - 40), 1, 4, ADDRESS, 0)).toBe(true);
    expect(readAll(ring)[0].payload).toHaveLength(MIN_RING_CAPACITY - 40);
  });

  it('attaches to an existing buffer (the other thread) and rejects a foreign one', () => {
    const a = DatagramRing.create(8192);
    a.tryWrite(payloadFor(7, 77), 7, 6, ADDRESS, 7);
    const b = new DatagramRing(a.buffer);
    expect(b.capacity).toBe(8192);
    expect(readAll(b).map((g) => g.port)).toEqual([7]);
    expect(() => new DatagramRing(new SharedArrayBuffer(4096))).toThrow(/not a datagram ring/);
    expect(() => DatagramRing.create(100)).toThrow(/ring capacity/);
  });

  it('a record is consumed even when its handler throws', () => {
    const ring = DatagramRing.create(MIN_RING_CAPACITY);
    ring.tryWrite(payloadFor(1, 10), 1, 4, ADDRESS, 0);
    ring.tryWrite(payloadFor(2, 10), 2, 4, ADDRESS, 0);
    expect(() =>
      ring.read(10, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(readAll(ring).map((g) => g.port)).toEqual([2]);
  });

  it('waitForData resolves when the producer writes, and at once when data is there', async () => {
    const ring = DatagramRing.create(MIN_RING_CAPACITY);
    const wait = ring.waitForData();
    expect(wait).not.toBeNull();
    let woke = false;
    void wait!.then(() => (woke = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(woke).toBe(false);
    ring.tryWrite(payloadFor(1, 10), 1, 4, ADDRESS, 0);
    await wait;
    expect(woke).toBe(true);
    expect(ring.waitForData()).toBeNull();
  });

  describe('across threads (a worker_threads producer)', () => {
    async function runProducer(ringBytes: number, data: Omit<RingProducerData, 'ring'>) {
      const ring = DatagramRing.create(ringBytes);
      const worker = startWorker(new URL('./testing/ring-producer.ts', import.meta.url), { workerData: { ...data, ring: ring.buffer } satisfies RingProducerData });
      const result = new Promise<{ drops: number; fullWaits: number }>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      let done: { drops: number; fullWaits: number } | null = null;
      void result.then((r) => (done = r));
      let received = 0;
      let lastSeq = -1;
      let bad = '';
      const address = new Uint8Array(16);
      const check = (payload: Uint8Array, port: number, family: number, addressOffset: number, receivedAt: number) => {
        const seq = receivedAt;
        if (seq <= lastSeq || (data.retry && seq !== lastSeq + 1)) bad ||= `record ${seq} after ${lastSeq}`;
        lastSeq = seq;
        received++;
        if (port !== (seq & 0xffff) || family !== (seq % 2 === 0 ? 4 : 6)) bad ||= `record ${seq}: port ${port} family ${family}`;
        const length = payloadLength(seq, data.maxPayload);
        if (payload.length !== length) bad ||= `record ${seq}: ${payload.length} bytes, expected ${length}`;
        // Checksum of the payload against the producer's.
        let sum = 0;
        let want = 0;
        for (let j = 0; j < payload.length; j++) {
          sum = (Math.imul(sum, 31) + payload[j]) | 0;
          want = (Math.imul(want, 31) + payloadByte(seq, j)) | 0;
        }
        if (sum !== want) bad ||= `record ${seq}: payload checksum differs`;
        addressOf(seq, address);
        for (let k = 0; k < 16; k++) if (ring.bytes[addressOffset + k] !== address[k]) bad ||= `record ${seq}: address differs`;
      };
      while (done === null || !ring.isEmpty()) {
        if (ring.read(4096, check) === 0) {
          const wait = ring.waitForData();
          if (wait !== null) await Promise.race([wait, result]);
        }
      }
      await exited;
      ring.wake();
      return { received, bad, lastSeq, ring, ...(done as unknown as { drops: number; fullWaits: number }) };
    }

    it('2 million records through a small ring: every one intact and in order (producer waits when full)', async () => {
      const count = 2_000_000;
      const r = await runProducer(256 * 1024, { count, maxPayload: 96, retry: true });
      expect(r.bad).toBe('');
      expect(r.received).toBe(count);
      expect(r.drops).toBe(0);
      expect(r.ring.counters()).toMatchObject({ written: count, read: count });
    }, 120_000);

    it('1 million records into a ring big enough for them all: none dropped, all intact', async () => {
      const count = 1_000_000;
      const maxPayload = 48;
      const r = await runProducer(count * recordBytes(maxPayload) + 4096, { count, maxPayload, retry: false });
      expect(r.bad).toBe('');
      expect(r.drops).toBe(0);
      expect(r.received).toBe(count);
      expect(r.ring.refused()).toBe(0);
    }, 120_000);

    it('a ring too small for the burst drops (counted), and what it delivers is intact', async () => {
      const count = 300_000;
      const r = await runProducer(64 * 1024, { count, maxPayload: 200, retry: false });
      expect(r.bad).toBe('');
      expect(r.received + r.drops).toBe(count);
      expect(r.ring.counters().refusedFull).toBe(r.drops);
    }, 120_000);
  });
});

describe('sender address text', () => {
  it('matches the text node:dgram (libuv) gives for any address', () => {
    const word = fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
    fc.assert(
      fc.property(fc.array(word, { minLength: 8, maxLength: 8 }), (words) => {
        const bytes = new Uint8Array(16);
        words.forEach((w, k) => {
          bytes[2 * k] = w >>> 8;
          bytes[2 * k + 1] = w & 255;
        });
        const text = formatSenderAddress(6, bytes);
        const node = new net.SocketAddress({ address: words.map((w) => w.toString(16)).join(':'), family: 'ipv6' }).address;
        expect(text).toBe(node);
        expect([...senderAddressOf(text).bytes]).toEqual([...bytes]);
      }),
      { numRuns: 3000 },
    );
    for (const text of ['::', '::1', '1::', '::ffff:1.2.3.4', '::1.2.3.4', 'fe80::1:0:0:0', '2001:db8::1:0:0:1', '::ffff:0.0.0.0']) {
      expect(formatSenderAddress(6, senderAddressOf(text).bytes)).toBe(new net.SocketAddress({ address: text, family: 'ipv6' }).address);
    }
    expect(formatSenderAddress(4, senderAddressOf('192.0.2.77').bytes)).toBe('192.0.2.77');
    expect(senderAddressOf('10.1.2.3').family).toBe(4);
  });

  it('caches the text per address: one string per sender', () => {
    const cache = new AddressTextCache();
    const buffer = new SharedArrayBuffer(64);
    const bytes = new Uint8Array(buffer);
    const words = new Int32Array(buffer);
    bytes.set(senderAddressOf('2001:db8::7').bytes, 16);
    bytes.set(senderAddressOf('192.0.2.1').bytes, 32);
    const a = cache.text(bytes, words, 16, 6);
    expect(a).toBe('2001:db8::7');
    expect(cache.text(bytes, words, 32, 4)).toBe('192.0.2.1');
    expect(cache.text(bytes, words, 16, 6)).toBe(a);
    // Same bytes, other family: another address.
    expect(cache.text(bytes, words, 32, 6)).toBe('c000:201::');
  });
});
