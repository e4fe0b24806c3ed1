/**
 * UDP listeners for export messages. One socket per configured address (IPv6 sockets are
 * v6-only, so `0.0.0.0:2055` and `[::]:2055` can both be bound). The receive buffer is
 * raised as far as the system allows, since bursts from a router arrive faster than a
 * garbage-collection pause lasts.
 */
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import type { ExporterAllowlist } from './exporter-allowlist.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface UdpListenerOptions {
  listen: readonly ListenAddress[];
  /** Receive buffer to ask for; the kernel caps it at net.core.rmem_max (unless root). */
  receiveBufferBytes: number;
  allowlist: ExporterAllowlist;
  onMessage(message: Buffer, address: string, port: number): void;
}

export interface UdpListenerStats {
  datagrams: number;
  bytes: number;
  /** Datagrams from senders outside the allowlist, dropped. */
  notAllowed: number;
  /** Senders recently dropped (bounded), for the operator to see who is knocking. */
  notAllowedSenders: Map<string, number>;
}

export interface BoundSocket {
  host: string;
  port: number;
  receiveBufferBytes: number;
}

/** How many not-allowed senders the stats name (the rest are only counted). */
export const MAX_TRACKED_SENDERS = 256;

export class UdpListener {
  private readonly sockets: dgram.Socket[] = [];
  readonly stats: UdpListenerStats = { datagrams: 0, bytes: 0, notAllowed: 0, notAllowedSenders: new Map() };
  readonly bound: BoundSocket[] = [];

  constructor(private readonly options: UdpListenerOptions) {}

  async start(): Promise<BoundSocket[]> {
    for (const addr of this.options.listen) {
      const { socket, bound } = await openUdpSocket(addr, this.options.receiveBufferBytes, (msg, rinfo) => this.receive(msg, rinfo));
      this.sockets.push(socket);
      this.bound.push(bound);
    }
    return this.bound;
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const s = this.stats;
    if (!this.options.allowlist.allows(rinfo.address)) {
      s.notAllowed++;
      const senders = s.notAllowedSenders;
      if (senders.has(rinfo.address) || senders.size < MAX_TRACKED_SENDERS) senders.set(rinfo.address, (senders.get(rinfo.address) ?? 0) + 1);
      return;
    }
    s.datagrams++;
    s.bytes += msg.length;
    this.options.onMessage(msg, rinfo.address, rinfo.port);
  }

  async stop(): Promise<void> {
    await Promise.all(this.sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.sockets.length = 0;
  }
}

/**
 * Bind one socket the way every listener does (also the receive thread's,
 * receiver/receiver-worker.ts): IPv6 sockets v6-only, no address reuse, errors after bind
 * ignored, receive buffer raised as far as the system allows. Rejects with the bind error.
 */
export async function openUdpSocket(
  addr: ListenAddress,
  receiveBufferBytes: number,
  onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
): Promise<{ socket: dgram.Socket; bound: BoundSocket }> {
  const v6 = addr.host.includes(':');
  const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, reuseAddr: false });
  socket.on('message', onMessage);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(addr.port, addr.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  // After bind: errors on a bound UDP socket are transient (ICMP unreachable etc.).
  socket.on('error', () => undefined);
  const got = raiseReceiveBuffer(socket, receiveBufferBytes);
  const a = socket.address();
  return { socket, bound: { host: a.address, port: a.port, receiveBufferBytes: got } };
}

/** Largest receive buffer an unprivileged socket may get (Linux). */
export function systemReceiveBufferMax(): number | null {
  try {
    return Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim());
  } catch {
    return null;
  }
}

/**
 * Ask for `wanted` bytes; if refused, halve until accepted. Returns what the socket got
 * (Linux reports double the requested size for bookkeeping; we return its answer as is).
 */
function raiseReceiveBuffer(socket: dgram.Socket, wanted: number): number {
  for (let size = wanted; size >= 65536; size = Math.floor(size / 2)) {
    try {
      socket.setRecvBufferSize(size);
      return socket.getRecvBufferSize();
    } catch {
      // refused: try a smaller size
    }
  }
  return socket.getRecvBufferSize();
}

/** Parse "0.0.0.0:2055,[::]:2055" into addresses; throws naming the bad entry. */
export function parseListenList(text: string): ListenAddress[] {
  const out: ListenAddress[] = [];
  for (const raw of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+|localhost)):(\d{1,5})$/.exec(raw);
    const port = m ? Number(m[3]) : NaN;
    if (!m || port > 65535) throw new Error(`"${raw}" is not HOST:PORT (IPv6 in brackets, e.g. [::]:2055)`);
    out.push({ host: m[1] ?? m[2], port });
  }
  if (out.length === 0) throw new Error('no listen address given');
  return out;
}
