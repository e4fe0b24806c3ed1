/**
 * A single-producer single-consumer ring of UDP datagrams in a SharedArrayBuffer: the
 * receive thread (receiver-worker.ts) writes every datagram it gets, the main thread
 * (threaded-udp-listener.ts) reads them when it has time.
 *
 * Why: the kernel's socket buffer is capped by net.core.rmem_max (4 MiB here, ~90 ms of
 * 1.5 KB datagrams at 40k/s). Any longer pause of the thread that reads the socket (a major
 * GC, a big hand-over of aggregates, building a Redis push) overflowed it and lost
 * datagrams. A thread that does nothing but receive reads the socket within microseconds,
 * and this ring, as large as configured (64 MiB by default, about a second at that rate),
 * absorbs the main thread's pauses instead. Pure: no I/O, no timers.
 *
 * Layout. A header of HEADER_BYTES, then `capacity` data bytes (a multiple of 8):
 *
 *   header byte   0  Int32   write position (data offset of the next record; producer only)
 *   header byte   8  Float64 records written            (producer only)
 *   header byte  16  Float64 refused: ring full         (producer only)
 *   header byte  24  Float64 refused: bigger than ring  (producer only)
 *   header byte  64  Int32   consumer is waiting (1) for the write position to move
 *   header byte  68  Int32   capacity (data bytes), checked when a thread attaches
 *   header byte 128  Int32   read position (data offset of the next record; consumer only)
 *   header byte 136  Float64 records read               (consumer only)
 *
 * (Producer and consumer fields sit on different cache lines.) A record starts at an
 * offset that is a multiple of 8:
 *
 *   +0  Int32   payload length in bytes, or WRAP (-1): "continue at data offset 0"
 *   +4  Int32   port | address family (4 or 6) << 16
 *   +8  16 B    address, network order (IPv4: the first 4 bytes, the rest zero)
 *   +24 Float64 receivedAt (ms since the epoch, the producer's Date.now())
 *   +32 payload, padded to a multiple of 8
 *
 * When a record does not fit in the room left before the end, the producer writes WRAP
 * there (at least 8 bytes are always left, so the marker fits) and writes the record at
 * offset 0. The producer never lets the write position catch up with the read position
 * (equal means empty), so the ring holds at most `capacity - 8` bytes.
 *
 * Ordering: record bytes are written with plain stores, then published by Atomics.store of
 * the write position; the consumer Atomics.loads the write position before reading records
 * and gives their space back with Atomics.store of the read position. Atomics are
 * sequentially consistent, which orders the plain accesses around them.
 *
 * The Float64 counters are written by one side and read by the other without Atomics
 * (there are no 64-bit float atomics); an aligned 8-byte access does not tear on the
 * 64-bit platforms Node runs on, and these are monitoring counts.
 */

export const HEADER_BYTES = 256;
export const RECORD_HEADER_BYTES = 32;
/** Length word of a wrap marker. */
const WRAP = -1;

// Int32 indices into the header.
const I_WRITE = 0;
const I_WAITING = 16;
const I_CAPACITY = 17;
const I_READ = 32;
// Float64 indices into the header.
const F_WRITTEN = 1;
const F_REFUSED_FULL = 2;
const F_REFUSED_TOO_BIG = 3;
const F_READ = 17;

/** Smallest data capacity accepted (a few records), and the largest (Int32 offsets). */
export const MIN_RING_CAPACITY = 1024;
export const MAX_RING_CAPACITY = 1 << 30;

/**
 * Called for each record read. `payload` is a view into the ring, valid only during the
 * call: copy what must outlive it. `addressOffset` is the byte offset in `ring.bytes` of
 * the 16 address bytes (also valid only during the call).
 */
export type RingRecordHandler = (payload: Uint8Array, port: number, family: 4 | 6, addressOffset: number, receivedAt: number) => void;

interface WaitAsyncResult {
  async: boolean;
  value: 'not-equal' | 'timed-out' | Promise<'ok' | 'timed-out'>;
}
type WaitAsync = (typedArray: Int32Array, index: number, value: number, timeout?: number) => WaitAsyncResult;
// Atomics.waitAsync is ES2024 (Node >= 16); the project's lib is ES2023.
const atomicsWaitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/** Bytes a record with a payload of `length` bytes takes in the ring. */
export function recordBytes(length: number): number {
  return RECORD_HEADER_BYTES + ((length + 7) & ~7);
}

export interface RingCounters {
  written: number;
  refusedFull: number;
  refusedTooBig: number;
  read: number;
}

export class DatagramRing {
  /** The whole shared buffer (header and data), for handing to another thread. */
  readonly buffer: SharedArrayBuffer;
  /** Data bytes (records live at HEADER_BYTES + offset). */
  readonly capacity: number;
  /** Views over the whole buffer. */
  readonly bytes: Uint8Array;
  readonly words: Int32Array;
  private readonly floats: Float64Array;
  /** This side's position: only the producer moves `writePos`, only the consumer `readPos`. */
  private writePos: number;
  private readPos: number;

  /** A new ring with `capacity` data bytes (rounded down to a multiple of 8). */
  static create(capacity: number): DatagramRing {
    const cap = Math.floor(capacity / 8) * 8;
    if (!Number.isInteger(capacity) || cap < MIN_RING_CAPACITY || cap > MAX_RING_CAPACITY) {
      throw new RangeError(`ring capacity must be an integer from ${MIN_RING_CAPACITY} to ${MAX_RING_CAPACITY} bytes, got ${capacity}`);
    }
    const buffer = new SharedArrayBuffer(HEADER_BYTES + cap);
    new Int32Array(buffer)[I_CAPACITY] = cap;
    return new DatagramRing(buffer);
  }

  /** Attach to a ring made by create() (in this or another thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.bytes = new Uint8Array(buffer);
    this.words = new Int32Array(buffer);
    this.floats = new Float64Array(buffer);
    const cap = Atomics.load(this.words, I_CAPACITY);
    if (cap < MIN_RING_CAPACITY || cap % 8 !== 0 || buffer.byteLength !== HEADER_BYTES + cap) {
      throw new Error('not a datagram ring (bad capacity in the header)');
    }
    this.capacity = cap;
    this.writePos = Atomics.load(this.words, I_WRITE);
    this.readPos = Atomics.load(this.words, I_READ);
  }

  /**
   * Touch every page of the ring once, so the memory is committed now (the process's RSS
   * shows it from the start) rather than page-faulted in during the first lap, a burst.
   * Call before the producer starts.
   */
  prefault(): void {
    const bytes = this.bytes;
    for (let at = HEADER_BYTES; at < bytes.length; at += 4096) bytes[at] = 0;
  }

  // ---------------------------------------------------------------------------------
  // Producer

  /**
   * Append one datagram. Returns false, writing nothing, when there is no room (counted as
   * refused-full) or when it could never fit (refused-too-big); the caller counts a drop.
   * `address`: 16 bytes in network order (IPv4 in the first 4). Wakes a waiting consumer.
   */
  tryWrite(payload: Uint8Array, port: number, family: 4 | 6, address: Uint8Array, receivedAt: number): boolean {
    if (address.length !== 16) throw new RangeError(`address must be 16 bytes, got ${address.length}`);
    const length = payload.length;
    const size = RECORD_HEADER_BYTES + ((length + 7) & ~7);
    const at = this.reserve(size);
    if (at < 0) return false;
    const base = HEADER_BYTES + at;
    const words = this.words;
    words[base >> 2] = length;
    words[(base >> 2) + 1] = port | (family << 16);
    this.bytes.set(address, base + 8);
    this.floats[(base + 24) >> 3] = receivedAt;
    this.bytes.set(payload, base + RECORD_HEADER_BYTES);
    this.publish(at + size);
    return true;
  }

  /**
   * Append one record already laid out as the ring's records are (header and padded
   * payload, e.g. by the native receiver, native-udp.ts) at `offset` of `source`: one copy.
   * Returns false, writing nothing, like tryWrite. Throws when the record overruns `source`.
   */
  tryWriteRecord(source: Uint8Array, offset: number): boolean {
    if ((offset & 7) !== 0 || offset + RECORD_HEADER_BYTES > source.length) throw new RangeError(`no record header at offset ${offset}`);
    const length = source[offset] | (source[offset + 1] << 8) | (source[offset + 2] << 16) | (source[offset + 3] << 24);
    const size = RECORD_HEADER_BYTES + ((length + 7) & ~7);
    if (length < 0 || offset + size > source.length) throw new RangeError(`record at offset ${offset} overruns its buffer (payload length ${length})`);
    const at = this.reserve(size);
    if (at < 0) return false;
    this.bytes.set(source.subarray(offset, offset + size), HEADER_BYTES + at);
    this.publish(at + size);
    return true;
  }

  /**
   * Data offset where a record of `size` bytes goes (writing a wrap marker when it goes to
   * the start), or -1 when it does not fit (counted).
   */
  private reserve(size: number): number {
    const cap = this.capacity;
    if (size > cap - 8) {
      this.floats[F_REFUSED_TOO_BIG]++;
      return -1;
    }
    const w = this.writePos;
    const r = Atomics.load(this.words, I_READ);
    if (w >= r) {
      // Free: [w, cap) and [0, r). The write position must not become equal to r.
      if (w + size < cap || (w + size === cap && r > 0)) return w;
      if (size < r) {
        this.words[(HEADER_BYTES + w) >> 2] = WRAP;
        return 0;
      }
    } else if (w + size < r) {
      return w;
    }
    this.floats[F_REFUSED_FULL]++;
    return -1;
  }

  /** Make the record that ends at data offset `end` visible to the consumer, and wake it if it waits. */
  private publish(end: number): void {
    const words = this.words;
    const next = end === this.capacity ? 0 : end;
    this.writePos = next;
    Atomics.store(words, I_WRITE, next);
    this.floats[F_WRITTEN]++;
    if (Atomics.load(words, I_WAITING) !== 0) {
      Atomics.store(words, I_WAITING, 0);
      Atomics.notify(words, I_WRITE);
    }
  }

  // ---------------------------------------------------------------------------------
  // Consumer

  /**
   * Read up to `max` records in order, calling `onRecord` for each. Each record's space is
   * given back to the producer as soon as its callback returns (or throws: a record is
   * never delivered twice). Returns the number of records read (0 when empty).
   */
  read(max: number, onRecord: RingRecordHandler): number {
    const words = this.words;
    const cap = this.capacity;
    const w = Atomics.load(words, I_WRITE);
    let r = this.readPos;
    let n = 0;
    while (n < max && r !== w) {
      let base = HEADER_BYTES + r;
      let length = words[base >> 2];
      if (length === WRAP) {
        r = 0;
        base = HEADER_BYTES;
        length = words[base >> 2];
      }
      const meta = words[(base >> 2) + 1];
      const receivedAt = this.floats[(base + 24) >> 3];
      const payload = new Uint8Array(this.buffer, base + RECORD_HEADER_BYTES, length);
      let next = r + RECORD_HEADER_BYTES + ((length + 7) & ~7);
      if (next === cap) next = 0;
      n++;
      try {
        onRecord(payload, meta & 0xffff, (meta >>> 16) as 4 | 6, base + 8, receivedAt);
      } finally {
        r = next;
        this.readPos = next;
        Atomics.store(words, I_READ, next);
        this.floats[F_READ]++;
      }
    }
    return n;
  }

  /** True when there is nothing to read (consumer side). */
  isEmpty(): boolean {
    return Atomics.load(this.words, I_WRITE) === this.readPos;
  }

  /**
   * Consumer: null when there is something to read now; otherwise a promise that resolves
   * once the producer has written (or wake() was called). Never spins: the producer
   * notifies only while this flag says a consumer waits.
   */
  waitForData(): Promise<unknown> | null {
    const words = this.words;
    const w = Atomics.load(words, I_WRITE);
    if (w !== this.readPos) return null;
    if (atomicsWaitAsync === undefined) throw new Error('Atomics.waitAsync is not available (Node >= 16 is needed)');
    // Announce the wait first: a producer that publishes after this sees the flag and
    // notifies; one that published before makes waitAsync return "not-equal" at once.
    Atomics.store(words, I_WAITING, 1);
    const result = atomicsWaitAsync(words, I_WRITE, w);
    if (!result.async) {
      Atomics.store(words, I_WAITING, 0);
      return null;
    }
    return (result.value as Promise<string>).then(() => {
      Atomics.store(words, I_WAITING, 0);
    });
  }

  /** Wake a consumer waiting in waitForData() (e.g. when closing). */
  wake(): void {
    Atomics.notify(this.words, I_WRITE);
  }

  /** Bytes currently held (records and wrap slack), as either side sees it. */
  usedBytes(): number {
    const w = Atomics.load(this.words, I_WRITE);
    const r = Atomics.load(this.words, I_READ);
    return w >= r ? w - r : this.capacity - r + w;
  }

  counters(): RingCounters {
    const f = this.floats;
    return { written: f[F_WRITTEN], refusedFull: f[F_REFUSED_FULL], refusedTooBig: f[F_REFUSED_TOO_BIG], read: f[F_READ] };
  }

  /** Records refused so far (full or too big): the drops the producer's caller counts. */
  refused(): number {
    return this.floats[F_REFUSED_FULL] + this.floats[F_REFUSED_TOO_BIG];
  }
}
