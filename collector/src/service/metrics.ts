/**
 * Prometheus metrics of the collector process. Counters the pipeline keeps itself (the
 * decoder's per-exporter stats, the listener's counts) are read at scrape time, so the hot
 * path only increments plain numbers.
 */
import http from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExporterStats } from '../decoder/index.js';
import type { UdpListenerStats } from './udp-listener.js';

/** The receive thread's ring (receiver/threaded-udp-listener.ts), when the collector uses one. */
export interface ReceiveRingSource {
  /** Ring size, bytes in use now, datagrams dropped because it was full. */
  ringStats(): { capacityBytes: number; usedBytes: number; drops: number; truncated: number; receiveErrors: number } | null;
  /** Most bytes in use since the previous call. */
  takePeakUsedBytes(): number;
  /** How the receive thread reads the sockets (COLLECTOR_RECEIVER resolved): "native" or "node". */
  readonly receiver: string;
}

export interface CollectorMetricSources {
  decoderStats(): ExporterStats[];
  listenerStats(): UdpListenerStats;
  /** Absent (or null) when datagrams are received on the main thread. */
  receiveRing?(): ReceiveRingSource | null;
  /** Datagrams the kernel dropped at our sockets (receive buffer full); null where unknown. */
  socketDrops?(): number | null;
  unattributed(): { exporter: string; records: number; bytes: bigint }[];
  pendingTemplateSets(): number;
}

export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Metrics read from the pipeline's own counters at scrape time. */
export function registerCollectorMetrics(registry: Registry, src: CollectorMetricSources): void {
  const fromStats = (name: string, help: string, pick: (s: ExporterStats) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['exporter'],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of src.decoderStats()) this.inc({ exporter: s.exporter }, pick(s));
      },
    });
  fromStats('flowbill_decoder_messages_total', 'Export messages decoded, per exporter', (s) => s.messages);
  fromStats('flowbill_decoder_records_total', 'Flow records decoded, per exporter', (s) => s.records);
  fromStats('flowbill_decoder_missing_template_sets_total', 'Data sets that arrived before their template', (s) => s.missingTemplateSets);
  fromStats('flowbill_decoder_pending_dropped_sets_total', 'Held data sets dropped: buffer overflow or exporter restart', (s) => s.pendingDroppedSets);
  fromStats('flowbill_decoder_pending_expired_sets_total', 'Held data sets whose template never came in time', (s) => s.pendingExpiredSets);
  fromStats('flowbill_decoder_sequence_lost_total', 'Messages (v9) or records (IPFIX, v5) lost according to sequence numbers', (s) => s.sequenceLost);
  fromStats('flowbill_decoder_exporter_restarts_total', 'Exporter restarts detected', (s) => s.restarts);
  fromStats('flowbill_decoder_rate_unknown_records_total', 'Records whose sampler rate is unknown (counted at rate 1)', (s) => s.rateUnknownRecords);
  new Counter({
    name: 'flowbill_decoder_errors_total',
    help: 'Malformed input, per exporter and reason',
    labelNames: ['exporter', 'reason'],
    registers: [registry],
    collect() {
      this.reset();
      for (const s of src.decoderStats()) for (const [reason, n] of Object.entries(s.errors)) this.inc({ exporter: s.exporter, reason }, n ?? 0);
    },
  });
  new Gauge({
    name: 'flowbill_decoder_pending_sets',
    help: 'Data sets currently waiting for their template',
    registers: [registry],
    collect() {
      this.set(src.pendingTemplateSets());
    },
  });
  new Counter({
    name: 'flowbill_udp_datagrams_total',
    help: 'Datagrams received from allowed exporters',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.listenerStats().datagrams);
    },
  });
  new Counter({
    name: 'flowbill_udp_dropped_total',
    help: 'Datagrams dropped, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ reason: 'exporter-not-allowed' }, src.listenerStats().notAllowed);
      const ring = src.receiveRing?.()?.ringStats();
      if (ring) {
        this.inc({ reason: 'ring-full' }, ring.drops);
        this.inc({ reason: 'truncated' }, ring.truncated);
      }
      const socketDrops = src.socketDrops?.();
      if (socketDrops !== undefined && socketDrops !== null) this.inc({ reason: 'socket-buffer-full' }, socketDrops);
    },
  });
  new Counter({
    name: 'flowbill_udp_receive_errors_total',
    help: 'Errors a receive call reported on a socket (ICMP errors and the like; the socket keeps receiving)',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(src.receiveRing?.()?.ringStats()?.receiveErrors ?? 0);
    },
  });
  if (src.receiveRing?.()) {
    new Gauge({
      name: 'flowbill_udp_receiver',
      help: 'How the receive thread reads the sockets: 1 for the receiver in use (native: recvmmsg batches; node: node:dgram, the fallback where the native module does not load)',
      labelNames: ['receiver'],
      registers: [registry],
      collect() {
        this.reset();
        const receiver = src.receiveRing?.()?.receiver;
        if (receiver !== undefined) this.set({ receiver }, 1);
      },
    });
    new Gauge({
      name: 'flowbill_udp_ring_size_bytes',
      help: 'Size of the ring between the UDP receive thread and the pipeline (COLLECTOR_RING_BYTES)',
      registers: [registry],
      collect() {
        this.set(src.receiveRing?.()?.ringStats()?.capacityBytes ?? 0);
      },
    });
    new Gauge({
      name: 'flowbill_udp_ring_fill_ratio',
      help: 'Fraction of that ring in use now (datagrams waiting for the pipeline)',
      registers: [registry],
      collect() {
        const ring = src.receiveRing?.()?.ringStats();
        if (ring) this.set(ring.usedBytes / ring.capacityBytes);
      },
    });
    new Gauge({
      name: 'flowbill_udp_ring_peak_fill_ratio',
      help: 'Most of that ring in use since the previous scrape (near 1: pauses of the pipeline come close to dropping datagrams, reason ring-full)',
      registers: [registry],
      collect() {
        const source = src.receiveRing?.();
        const ring = source?.ringStats();
        if (source && ring) this.set(source.takePeakUsedBytes() / ring.capacityBytes);
      },
    });
  }
  new Counter({
    name: 'flowbill_unattributed_bytes_total',
    help: 'Scaled bytes of records with no subscriber at either end, per exporter',
    labelNames: ['exporter'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of src.unattributed()) this.inc({ exporter: u.exporter }, Number(u.bytes));
    },
  });
  new Counter({
    name: 'flowbill_unattributed_records_total',
    help: 'Records with no subscriber at either end, per exporter',
    labelNames: ['exporter'],
    registers: [registry],
    collect() {
      this.reset();
      for (const u of src.unattributed()) this.inc({ exporter: u.exporter }, u.records);
    },
  });
}

/** Batch size and latency histograms for the store writers (Redis pushes, ClickHouse inserts). */
export function storeMetrics(registry: Registry, store: 'redis' | 'clickhouse') {
  return {
    batchSize: new Histogram({
      name: `flowbill_${store}_batch_size`,
      help: `Entries per ${store} write`,
      buckets: [1, 10, 100, 1000, 5000, 10000, 50000, 100000],
      registers: [registry],
    }),
    latency: new Histogram({
      name: `flowbill_${store}_write_seconds`,
      help: `Latency of ${store} writes`,
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    }),
    failures: new Counter({ name: `flowbill_${store}_write_failures_total`, help: `Failed ${store} writes (retried)`, registers: [registry] }),
  };
}

/** Checks an API key; resolves false for unknown or revoked keys. */
export type KeyCheck = (key: string) => Promise<boolean>;

/** The key of a request: `Authorization: Bearer <key>` or `X-API-Key`, as the API accepts. */
function presentedKey(req: http.IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && /^Bearer\s+\S+$/i.test(auth)) return auth.replace(/^Bearer\s+/i, '');
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header : null;
}

/**
 * A tiny HTTP server exposing /metrics (and /healthz) for a non-HTTP process. Like every
 * route of the API but /healthz, /metrics needs an API key when `checkKey` is given.
 */
export async function serveMetrics(registry: Registry, host: string, port: number, healthy: () => boolean = () => true, checkKey?: KeyCheck): Promise<http.Server> {
  const server = http.createServer(async (req, res) => {
    if (req.url === '/metrics') {
      if (checkKey) {
        const key = presentedKey(req);
        let ok = false;
        try {
          ok = key !== null && (await checkKey(key));
        } catch {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: 'cannot verify the API key now (PostgreSQL unreachable)' }));
          return;
        }
        if (!ok) {
          res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
          res.end(JSON.stringify({ error: 'an API key is required (Authorization: Bearer <key>)' }));
          return;
        }
      }
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType });
          res.end(text);
        })
        .catch((err: Error) => {
          res.writeHead(500);
          res.end(err.message);
        });
    } else if (req.url === '/healthz') {
      const ok = healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: ok ? 'ok' : 'unhealthy' }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
