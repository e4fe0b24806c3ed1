/**
 * Deterministic NetFlow v9 traffic for the end-to-end tests: flow records with known
 * owners, built into export messages with the decoder's test message builder, and a UDP
 * sender that replays them at a steady rate. The tests know, per message, exactly which
 * subscriber each record must be billed to, so "what was sent" is exact.
 *
 * Times are exact: each message's header has sysUptime = exportTime - boot (in ms, with
 * the export time a whole second, as v9 headers carry seconds), and each record's
 * first/last switched = its start/end - boot, so the decoder's
 * `export - (sysUptime - first)` gives back the record's start to the millisecond.
 */
import { createSocket, type Socket } from 'node:dgram';
import { v9Message, type FieldSpec, type FieldValue, type SetSpec } from '../../../src/decoder/testing/message-builder.js';
import { SeededRandom } from '../../../src/pcap/prng.js';
import { sleep } from './wait.js';

export type Direction = 'download' | 'upload';

/** One flow record as an exporter reports it. */
export interface FlowSpec {
  readonly src: string;
  readonly dst: string;
  readonly srcPort?: number;
  readonly dstPort?: number;
  /** Default 6 (TCP). */
  readonly protocol?: number;
  readonly bytes: bigint;
  readonly packets: bigint;
  /** ms since the epoch, integers. */
  readonly startMs: number;
  readonly endMs: number;
}

/** What one record must become: the usage of one subscriber (records with one subscriber end). */
export interface ExpectedUsage {
  readonly subscriberId: string;
  readonly address: string;
  readonly direction: Direction;
  readonly trafficClass: string;
  readonly bytes: bigint;
  readonly packets: bigint;
  readonly startMs: number;
}

export interface PlannedMessage {
  readonly payload: Buffer;
  readonly flows: readonly FlowSpec[];
  /** Usage the records must produce (empty for unattributable records). */
  readonly expected: readonly ExpectedUsage[];
}

const V4_TEMPLATE_ID = 256;
const V6_TEMPLATE_ID = 257;
const COMMON_FIELDS: FieldSpec[] = [
  { id: 7, length: 2 }, // sourceTransportPort
  { id: 11, length: 2 }, // destinationTransportPort
  { id: 4, length: 1 }, // protocolIdentifier
  { id: 1, length: 8 }, // octetDeltaCount
  { id: 2, length: 8 }, // packetDeltaCount
  { id: 22, length: 4 }, // flowStartSysUpTime (first switched)
  { id: 21, length: 4 }, // flowEndSysUpTime (last switched)
];
const V4_FIELDS: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, ...COMMON_FIELDS];
const V6_FIELDS: FieldSpec[] = [{ id: 27, length: 16 }, { id: 28, length: 16 }, ...COMMON_FIELDS];

/**
 * One NetFlow v9 exporter: sequence numbers (v9 counts messages), a boot time, and its
 * templates, which it puts into every message (so a restarted collector decodes at once).
 */
export class V9Exporter {
  private sequence = 0;

  /** `bootMs`: a whole second, earlier than every flow this exporter will report. */
  constructor(
    private readonly bootMs: number,
    private readonly sourceId = 1,
  ) {
    if (bootMs % 1000 !== 0) throw new RangeError('bootMs must be a whole second');
  }

  /** One export message with `flows` (IPv4 and IPv6 records in their own data sets). */
  message(flows: readonly FlowSpec[], exportAtMs?: number): Buffer {
    const latestEnd = flows.reduce((max, flow) => Math.max(max, flow.endMs), this.bootMs);
    const exportMs = Math.ceil(Math.max(exportAtMs ?? 0, latestEnd) / 1000) * 1000;
    const uptime = exportMs - this.bootMs;
    if (uptime > 0xffff_ffff) throw new RangeError('sysUptime would wrap: boot time too far back');
    const record = (flow: FlowSpec): FieldValue[] => {
      if (flow.startMs < this.bootMs || flow.endMs < flow.startMs) throw new RangeError(`flow times ${flow.startMs}..${flow.endMs} before boot ${this.bootMs} or reversed`);
      return [flow.src, flow.dst, flow.srcPort ?? 40_000, flow.dstPort ?? 443, flow.protocol ?? 6, flow.bytes, flow.packets, flow.startMs - this.bootMs, flow.endMs - this.bootMs];
    };
    const v4 = flows.filter((flow) => !flow.src.includes(':'));
    const v6 = flows.filter((flow) => flow.src.includes(':'));
    const sets: SetSpec[] = [
      {
        kind: 'template',
        templates: [
          { id: V4_TEMPLATE_ID, fields: V4_FIELDS },
          { id: V6_TEMPLATE_ID, fields: V6_FIELDS },
        ],
      },
    ];
    if (v4.length > 0) sets.push({ kind: 'data', templateId: V4_TEMPLATE_ID, fields: V4_FIELDS, records: v4.map(record) });
    if (v6.length > 0) sets.push({ kind: 'data', templateId: V6_TEMPLATE_ID, fields: V6_FIELDS, records: v6.map(record) });
    const bytes = v9Message({ sysUptime: uptime, unixSecs: exportMs / 1000, sequence: this.sequence++, sourceId: this.sourceId }, sets);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
}

export interface SubscriberAddresses {
  readonly subscriberId: string;
  /** Addresses this subscriber holds (for every flow time of the plan). */
  readonly addresses: readonly string[];
}

export interface ReplayPlanOptions {
  readonly seed: number;
  readonly messages: number;
  readonly recordsPerMessage: number;
  /** Planned send rate, messages per second. */
  readonly rateHz: number;
  /** Planned time of the first send, ms. */
  readonly firstSendMs: number;
  readonly subscribers: readonly SubscriberAddresses[];
  readonly remotes4: readonly string[];
  readonly remotes6: readonly string[];
  /**
   * Each record starts between `ageMs` and `ageMs + spreadMs` before its message's planned
   * send time and lasts up to 30 s (default 100 s / 120 s): old enough that every minute
   * is closed (flushable) soon after the replay ends, recent enough that minutes keep
   * closing during it.
   */
  readonly ageMs?: number;
  readonly spreadMs?: number;
}

/** A seeded stream of messages from one exporter, each with its expected usage. */
export function planReplay(options: ReplayPlanOptions, exporter = new V9Exporter(Math.floor(options.firstSendMs / 1000) * 1000 - 86_400_000)): PlannedMessage[] {
  const rng = new SeededRandom(options.seed);
  const ageMs = options.ageMs ?? 100_000;
  const spreadMs = options.spreadMs ?? 120_000;
  const out: PlannedMessage[] = [];
  for (let k = 0; k < options.messages; k++) {
    const sendMs = options.firstSendMs + Math.round((k * 1000) / options.rateHz);
    const flows: FlowSpec[] = [];
    const expected: ExpectedUsage[] = [];
    for (let r = 0; r < options.recordsPerMessage; r++) {
      const subscriber = rng.pick(options.subscribers);
      const address = rng.pick(subscriber.addresses);
      const remote = rng.pick(address.includes(':') ? options.remotes6 : options.remotes4);
      const upload = rng.chance(0.35);
      const packets = BigInt(rng.int(1, 900));
      const bytes = packets * BigInt(rng.int(40, 1500));
      const startMs = sendMs - ageMs - rng.int(0, spreadMs);
      const endMs = startMs + rng.int(0, 30_000);
      flows.push({
        src: upload ? address : remote,
        dst: upload ? remote : address,
        srcPort: upload ? rng.int(32_768, 60_999) : 443,
        dstPort: upload ? 443 : rng.int(32_768, 60_999),
        protocol: rng.chance(0.8) ? 6 : 17,
        bytes,
        packets,
        startMs,
        endMs,
      });
      expected.push({ subscriberId: subscriber.subscriberId, address, direction: upload ? 'upload' : 'download', trafficClass: 'internet', bytes, packets, startMs });
    }
    out.push({ payload: exporter.message(flows, sendMs), flows, expected });
  }
  return out;
}

export interface Totals {
  bytes: bigint;
  packets: bigint;
  flows: bigint;
}

export function zeroTotals(): Totals {
  return { bytes: 0n, packets: 0n, flows: 0n };
}

/** Sum of the expected usage of `messages`. */
export function expectedTotals(messages: readonly Pick<PlannedMessage, 'expected'>[]): Totals {
  const total = zeroTotals();
  for (const message of messages) {
    for (const usage of message.expected) {
      total.bytes += usage.bytes;
      total.packets += usage.packets;
      total.flows += 1n;
    }
  }
  return total;
}

export interface SubscriberTotals {
  download: { bytes: bigint; packets: bigint };
  upload: { bytes: bigint; packets: bigint };
}

/** Expected usage per subscriber and direction, over `messages`. */
export function expectedBySubscriber(messages: readonly Pick<PlannedMessage, 'expected'>[]): Map<string, SubscriberTotals> {
  const out = new Map<string, SubscriberTotals>();
  for (const message of messages) {
    for (const usage of message.expected) {
      let entry = out.get(usage.subscriberId);
      if (!entry) {
        entry = { download: { bytes: 0n, packets: 0n }, upload: { bytes: 0n, packets: 0n } };
        out.set(usage.subscriberId, entry);
      }
      entry[usage.direction].bytes += usage.bytes;
      entry[usage.direction].packets += usage.packets;
    }
  }
  return out;
}

/** Earliest and latest flow time of `messages` (ms). */
export function flowTimeRange(messages: readonly Pick<PlannedMessage, 'flows'>[]): { fromMs: number; toMs: number } {
  let fromMs = Number.POSITIVE_INFINITY;
  let toMs = Number.NEGATIVE_INFINITY;
  for (const message of messages) {
    for (const flow of message.flows) {
      fromMs = Math.min(fromMs, flow.startMs);
      toMs = Math.max(toMs, flow.endMs);
    }
  }
  return { fromMs, toMs };
}

export interface UdpTarget {
  readonly host: string;
  readonly port: number;
}

/** A UDP socket bound to `address` (any 127.0.0.0/8 address works on Linux loopback). */
export function bindSender(address = '127.0.0.1'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, address, () => {
      socket.off('error', reject);
      // Unconnected UDP: ICMP errors (collector down) are not reported on Linux; ignore others too.
      socket.on('error', () => undefined);
      resolve(socket);
    });
  });
}

/** Send each payload once, in order, waiting for each send to complete. */
export async function sendAll(socket: Socket, target: UdpTarget, payloads: readonly Buffer[]): Promise<void> {
  for (const payload of payloads) await sendOne(socket, target, payload);
}

function sendOne(socket: Socket, target: UdpTarget, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) => socket.send(payload, target.port, target.host, (error) => (error ? reject(error) : resolve())));
}

/**
 * Sends planned messages at a steady rate from one socket (one exporter). `progress` is
 * the number of messages whose send completed; `sentAtMs[k]` when message k went out.
 * `waitUntil(k)` resolves once k messages are out (for fault injection at a message count).
 */
export class SteadySender {
  progress = 0;
  readonly sentAtMs: number[] = [];
  readonly errors: string[] = [];
  private readonly waiters: { count: number; resolve: () => void }[] = [];
  private stopped = false;
  done: Promise<void> = Promise.resolve();

  constructor(
    private readonly socket: Socket,
    private readonly target: UdpTarget,
    private readonly messages: readonly PlannedMessage[],
    private readonly rateHz: number,
  ) {}

  get exporterPort(): number {
    return this.socket.address().port;
  }

  start(): this {
    this.done = this.run();
    return this;
  }

  stop(): void {
    this.stopped = true;
  }

  waitUntil(count: number): Promise<void> {
    if (this.progress >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }

  private async run(): Promise<void> {
    const started = performance.now();
    for (let k = 0; k < this.messages.length && !this.stopped; k++) {
      const due = started + (k * 1000) / this.rateHz;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      try {
        await sendOne(this.socket, this.target, this.messages[k].payload);
      } catch (error) {
        // A send the kernel refused: recorded, and the message counts as not sent.
        this.errors.push(`message ${k}: ${(error as Error).message}`);
        this.sentAtMs.push(Number.NaN);
        this.progress++;
        this.wake();
        continue;
      }
      this.sentAtMs.push(Date.now());
      this.progress++;
      this.wake();
    }
    this.wake(true);
  }

  /** Messages whose send completed without error. */
  get sentMessages(): PlannedMessage[] {
    return this.messages.filter((_, k) => k < this.sentAtMs.length && !Number.isNaN(this.sentAtMs[k]));
  }

  private wake(all = false): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (all || this.waiters[i].count <= this.progress) {
        this.waiters[i].resolve();
        this.waiters.splice(i, 1);
      }
    }
  }
}
