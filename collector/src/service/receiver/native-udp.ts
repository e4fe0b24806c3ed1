/**
 * The batched UDP receiver (collector/native/udp_batch.c, built by collector/native/build.mjs)
 * as the receive thread uses it: load the module, bind the configured sockets with the same
 * rules as node:dgram's listeners (udp-listener.ts: IPv6 sockets v6-only, no address reuse),
 * and read batches of datagrams laid out as the shared ring's records (datagram-ring.ts).
 *
 * Why: node:dgram costs a JavaScript callback, a Buffer and an rinfo object per datagram,
 * the largest item of the collector's CPU per record at high rates; recvmmsg takes up to 64
 * datagrams per system call and the records need one copy each into the ring.
 *
 * The module is optional (COLLECTOR_RECEIVER=auto): where it was not built (no C compiler,
 * not Linux) the receive thread uses node:dgram.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { BoundSocket, ListenAddress } from '../udp-listener.js';
import { senderAddressOf } from './address-text.js';
import type { ReceiverKind } from './protocol.js';

/** The compiled module's surface (see udp_batch.c for the contract). */
interface UdpBatchModule {
  open(family: 4 | 6, address: Uint8Array, port: number, receiveBufferBytes: number): [fd: number, port: number, receiveBufferBytes: number];
  receive(fds: Int32Array, out: Uint8Array, timeoutMs: number, stats: Float64Array, gatherUs: number): number;
  close(fd: number): void;
  readonly SLOT_BYTES: number;
  readonly BATCH: number;
}

export const NATIVE_MODULE_PATH = fileURLToPath(new URL('../../../native/build/udp_batch.node', import.meta.url));

let loaded: { module: UdpBatchModule } | { error: string } | null = null;

/** The module, or why it cannot be used here (loaded once per thread). */
export function loadNativeUdp(): { module: UdpBatchModule } | { error: string } {
  if (loaded !== null) return loaded;
  if (process.platform !== 'linux') loaded = { error: `the native receiver is Linux-only (this is ${process.platform})` };
  else if (!existsSync(NATIVE_MODULE_PATH)) loaded = { error: `${NATIVE_MODULE_PATH} is not built (node collector/native/build.mjs; it needs a C compiler)` };
  else {
    try {
      loaded = { module: createRequire(import.meta.url)(NATIVE_MODULE_PATH) as UdpBatchModule };
    } catch (e) {
      loaded = { error: `${NATIVE_MODULE_PATH} does not load: ${(e as Error).message}` };
    }
  }
  return loaded;
}

/** True when the native receiver can be used in this process. */
export function nativeUdpAvailable(): boolean {
  return 'module' in loadNativeUdp();
}

/** COLLECTOR_RECEIVER: "auto" is the native receiver where it loads, node:dgram elsewhere. */
export type ReceiverChoice = 'auto' | ReceiverKind;

/**
 * The receiver to use, and a line for the log saying which and why. Throws when "native"
 * is asked for and cannot be used (a configuration that cannot be honoured stops start-up).
 */
export function resolveReceiver(choice: ReceiverChoice, load: () => { module: unknown } | { error: string } = loadNativeUdp): { kind: ReceiverKind; note: string } {
  if (choice === 'node') return { kind: 'node', note: 'receiving with node:dgram (COLLECTOR_RECEIVER=node)' };
  const found = load();
  if ('module' in found) return { kind: 'native', note: 'receiving with the native batched receiver (recvmmsg)' };
  if (choice === 'native') throw new Error(`COLLECTOR_RECEIVER=native: ${found.error}`);
  return { kind: 'node', note: `receiving with node:dgram, slower: ${found.error}` };
}

/** Slots of the batch buffer beyond one batch: a second socket's batch fits without waiting a turn. */
const SPARE_SLOTS = 8;

/**
 * Bound sockets read in batches. `receive` fills `batch` with records (ring layout, from
 * byte 0) and returns the bytes used.
 */
export class NativeUdpSockets {
  readonly bound: BoundSocket[] = [];
  /** Records of the last receive(), from byte 0. */
  readonly batch: Uint8Array;
  /** [truncated datagrams, receive errors], cumulative. */
  readonly stats = new Float64Array(2);
  private fds: Int32Array = new Int32Array(0);
  private readonly native: UdpBatchModule;

  private constructor(native: UdpBatchModule) {
    this.native = native;
    this.batch = new Uint8Array(native.SLOT_BYTES * (native.BATCH + SPARE_SLOTS));
  }

  /**
   * Bind every address (all or none: on a failure the ones bound are closed and the error,
   * with its errno `code`, is thrown). Throws when the module is not available.
   */
  static open(listen: readonly ListenAddress[], receiveBufferBytes: number): NativeUdpSockets {
    const found = loadNativeUdp();
    if ('error' in found) throw new Error(found.error);
    const sockets = new NativeUdpSockets(found.module);
    const fds: number[] = [];
    try {
      for (const addr of listen) {
        // node:dgram resolves "localhost" for an IPv4 socket to 127.0.0.1; the same here.
        const host = addr.host === 'localhost' ? '127.0.0.1' : addr.host;
        const { family, bytes } = senderAddressOf(host);
        const [fd, port, got] = found.module.open(family, bytes, addr.port, receiveBufferBytes);
        fds.push(fd);
        sockets.bound.push({ host, port, receiveBufferBytes: got });
      }
    } catch (e) {
      for (const fd of fds) found.module.close(fd);
      throw e;
    }
    sockets.fds = Int32Array.from(fds);
    return sockets;
  }

  /**
   * Wait up to `timeoutMs` (0: not at all) for datagrams, let more gather for `gatherUs`
   * once some are there (fewer wake-ups, bigger batches), read them; returns the bytes of
   * records in `batch`.
   */
  receive(timeoutMs: number, gatherUs = 0): number {
    if (this.fds.length === 0) return 0;
    return this.native.receive(this.fds, this.batch, timeoutMs, this.stats, gatherUs);
  }

  close(): void {
    const fds = this.fds;
    this.fds = new Int32Array(0);
    for (const fd of fds) this.native.close(fd);
  }
}
