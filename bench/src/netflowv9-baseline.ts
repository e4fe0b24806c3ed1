/**
 * node-netflowv9 (npm, GPLv2) driven without a socket: the baseline of decode-bench.
 *
 * This file is the only place that loads it, and bench/ is the only package that depends
 * on it (devDependency). It must never be imported from collector/.
 *
 * How it is driven: `new NetFlowV9(options)` always creates a UDP socket (unbound unless
 * `port` is given); its 'message' handler queues (msg, rinfo) and `fetch()` calls
 * `this.nfPktDecode(msg, rinfo)` for each, which dispatches on the version to
 * nf1/nf5/nf7/nf9PktDecode. nf9PktDecode keeps templates in `this.templates` keyed by
 * "rinfo.address:rinfo.port" (not by source id) and compiles each template into a
 * `new Function`. We call `nfPktDecode` directly, which is exactly the work its listener
 * does per datagram minus the queue and the two `new Date()` calls: the most favourable
 * way to measure it.
 */
import { createRequire } from 'node:module';

export interface NfRinfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
  size: number;
}

/** What nfPktDecode returns: header plus one plain object per flow (keys from its nftypes table). */
export interface NfDecoded {
  header: Record<string, number>;
  flows: Record<string, unknown>[];
  templates?: Record<string, unknown>;
}

interface NetFlowV9Instance {
  nfPktDecode(msg: Buffer, rinfo: NfRinfo): NfDecoded | undefined;
  server: { close(): void };
  templates: Record<string, unknown>;
}

type NetFlowV9Ctor = new (options: { cb: (o: unknown) => void }) => NetFlowV9Instance;

const require = createRequire(import.meta.url);

export interface Baseline {
  /** Decode one datagram as node-netflowv9's listener would; returns its flows. */
  decode(msg: Buffer): NfDecoded | undefined;
  close(): void;
}

/** One node-netflowv9 instance (its own template table) for datagrams from `rinfo`. */
export function createBaseline(rinfo: Omit<NfRinfo, 'size'>): Baseline {
  const NetFlowV9 = require('node-netflowv9') as NetFlowV9Ctor;
  const nf = new NetFlowV9({ cb: () => {} });
  // The constructor made a socket; we never bind it. Close it so nothing lingers.
  nf.server.close();
  const info: NfRinfo = { ...rinfo, size: 0 };
  return {
    decode(msg: Buffer) {
      info.size = msg.length;
      return nf.nfPktDecode(msg, info);
    },
    close() {
      nf.templates = {};
    },
  };
}
