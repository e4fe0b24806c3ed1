/**
 * FlowDecoder: NetFlow v1/v5/v7, NetFlow v9 (RFC 3954) and IPFIX (RFC 7011) messages in,
 * batches of flow records out. Pure code: no sockets, no clocks it is not given.
 *
 * Guarantees:
 * - never throws on input: every malformed part is counted per exporter by reason and the
 *   rest of the message is decoded where that is safe;
 * - template state is keyed by exporter address + port + observation domain + template id;
 * - data that arrives before its template waits in a bounded per-exporter buffer and is
 *   decoded when the template arrives; overflow and expiry are counted;
 * - every record carries its raw counters and the sampling rate that applies to it.
 */
import { FlowBatch, FlowFlag, type ExporterInfo } from './batch.js';
import { IE, REVERSE_PEN, VARLEN } from './fields.js';
import { decodeNetflowV1, decodeNetflowV5, decodeNetflowV7 } from './netflow5.js';
import { countError, emptyStats, type DecodeErrorReason, type ExporterStats } from './stats.js';
import {
  domainKey,
  newDomain,
  restoreDomain,
  snapshotOf,
  templateSnapshotSchema,
  type DomainState,
  type ExporterState,
  type PendingSet,
  type TemplateSnapshot,
} from './state.js';
import {
  compileTemplate,
  markV9Scope,
  readOptionsRecord,
  sameDefinition,
  validateTemplate,
  type CompiledTemplate,
  type DecodeContext,
  type TemplateDefinition,
  type TemplateField,
} from './template.js';

export interface DecoderOptions {
  /** Receives each full batch (and the last partial one on flush()). Read it before returning: the batch is reused. */
  onBatch: (batch: FlowBatch) => void;
  /** Rows per batch. */
  batchSize?: number;
  /** A template neither announced nor used for this long is forgotten. Default 1 hour. */
  templateIdleTimeoutMs?: number;
  /** Limits of the buffer of data sets that arrived before their template, per exporter. */
  pendingMaxSets?: number;
  pendingMaxBytes?: number;
  pendingMaxAgeMs?: number;
  /**
   * Observation domains (v9 source ids, IPFIX domains, v5 engines) kept per exporter. Each
   * carries template state; corrupt or spoofed messages could otherwise create them without
   * end. Past the limit the least recently seen domain is forgotten (counted).
   */
  maxDomainsPerExporter?: number;
  /**
   * Sampling rate to use for an exporter whatever it announces, keyed by "address",
   * "address:port" or "[v6address]:port". The most specific key wins.
   */
  samplingOverrides?: Record<string, number>;
  /** Clock used when decode() is not given a receive time. */
  now?: () => number;
}

export const DECODER_DEFAULTS = {
  batchSize: 8192,
  templateIdleTimeoutMs: 60 * 60 * 1000,
  pendingMaxSets: 1024,
  pendingMaxBytes: 4 * 1024 * 1024,
  pendingMaxAgeMs: 30 * 60 * 1000,
  maxDomainsPerExporter: 1024,
} as const;

const V9_HEADER = 20;
const IPFIX_HEADER = 16;

export class FlowDecoder {
  private readonly batch: FlowBatch;
  private readonly exporters = new Map<string, ExporterState>();
  private readonly exporterList: ExporterState[] = [];
  private readonly ctx: Context;
  private readonly opts: Required<Omit<DecoderOptions, 'samplingOverrides'>> & { samplingOverrides: Record<string, number> };

  constructor(options: DecoderOptions) {
    this.opts = {
      batchSize: options.batchSize ?? DECODER_DEFAULTS.batchSize,
      templateIdleTimeoutMs: options.templateIdleTimeoutMs ?? DECODER_DEFAULTS.templateIdleTimeoutMs,
      pendingMaxSets: options.pendingMaxSets ?? DECODER_DEFAULTS.pendingMaxSets,
      pendingMaxBytes: options.pendingMaxBytes ?? DECODER_DEFAULTS.pendingMaxBytes,
      pendingMaxAgeMs: options.pendingMaxAgeMs ?? DECODER_DEFAULTS.pendingMaxAgeMs,
      maxDomainsPerExporter: options.maxDomainsPerExporter ?? DECODER_DEFAULTS.maxDomainsPerExporter,
      samplingOverrides: options.samplingOverrides ?? {},
      now: options.now ?? Date.now,
      onBatch: options.onBatch,
    };
    for (const [key, rate] of Object.entries(this.opts.samplingOverrides)) {
      if (!Number.isInteger(rate) || rate < 1 || rate > 0xffffffff) throw new RangeError(`sampling override for ${key} must be an integer >= 1, got ${rate}`);
    }
    this.batch = new FlowBatch(Math.max(2, this.opts.batchSize));
    this.ctx = new Context(this);
  }

  /**
   * Decode one export message from `address`:`port`. Returns the number of flow records
   * it produced (including records of earlier data that its templates unlocked).
   */
  decode(message: Uint8Array, address: string, port: number, receivedAt: number = this.opts.now()): number {
    const ex = this.exporterState(address, port);
    ex.stats.messages++;
    this.receivedAt = receivedAt;
    const before = ex.stats.records;
    try {
      if (message.length < 2) {
        countError(ex.stats, 'short-message');
        return 0;
      }
      const version = (message[0] << 8) | message[1];
      switch (version) {
        case 5:
          ex.stats.records += decodeNetflowV5(message, ex, this.ctx.prepareV5(ex), this.domainLookup);
          break;
        case 9:
          this.decodeTemplated(message, ex, 9, receivedAt);
          break;
        case 10:
          this.decodeTemplated(message, ex, 10, receivedAt);
          break;
        case 1:
          ex.stats.records += decodeNetflowV1(message, ex, this.ctx.prepareV5(ex), this.domainLookup);
          break;
        case 7:
          ex.stats.records += decodeNetflowV7(message, ex, this.ctx.prepareV5(ex), this.domainLookup);
          break;
        default:
          countError(ex.stats, 'unknown-version');
      }
    } catch (err) {
      // A bug, not bad input: still never let one message take the collector down.
      countError(ex.stats, 'internal-error');
      this.lastInternalError = err;
    }
    return ex.stats.records - before;
  }

  /** Receive time of the message being decoded. */
  private receivedAt = 0;

  /** The last unexpected exception caught (for tests and debugging); null if none. */
  lastInternalError: unknown = null;

  /** Hand the partial batch to the consumer. */
  flush(): void {
    if (this.batch.length > 0) this.emitBatch();
  }

  /** @internal */
  emitBatch(): void {
    try {
      this.opts.onBatch(this.batch);
    } finally {
      // Even if the consumer threw, these rows were handed over: never hand them out twice.
      this.batch.reset();
    }
  }

  /** @internal */
  currentBatch(): FlowBatch {
    return this.batch;
  }

  exporter(id: number): ExporterInfo {
    return this.exporterList[id].info;
  }

  exporterInfos(): ExporterInfo[] {
    return this.exporterList.map((e) => e.info);
  }

  stats(): ExporterStats[] {
    return this.exporterList.map((e) => structuredClone(e.stats));
  }

  /** Number of data sets waiting for a template, over all exporters. */
  pendingSets(): number {
    let n = 0;
    for (const e of this.exporterList) n += e.pending.length;
    return n;
  }

  /** Forget idle templates and expired pending data. Call periodically (e.g. every minute). */
  expire(now: number = this.opts.now()): void {
    for (const ex of this.exporterList) {
      for (const [key, d] of ex.domains) {
        for (const [id, t] of d.templates) {
          if (now - t.lastSeen > this.opts.templateIdleTimeoutMs) {
            d.templates.delete(id);
            ex.stats.templatesExpired++;
          }
        }
        // A domain silent for as long as a template may live has nothing left worth keeping.
        if (d.templates.size === 0 && now - d.lastSeen > this.opts.templateIdleTimeoutMs) ex.domains.delete(key);
      }
      this.expirePending(ex, now);
    }
  }

  /** Template and sampler state, JSON-serialisable, for restoreState() after a restart. */
  exportState(now: number = this.opts.now()): TemplateSnapshot {
    return snapshotOf(this.exporterList, now);
  }

  /**
   * Restore state saved by exportState(). Templates idle for longer than the timeout are
   * skipped. Throws (with the path of the bad field) on a malformed snapshot: that is
   * configuration, not network input.
   */
  restoreState(snapshot: unknown, now: number = this.opts.now()): { exporters: number; templates: number } {
    const snap = templateSnapshotSchema.parse(snapshot);
    let templates = 0;
    for (const e of snap.exporters) {
      const ex = this.exporterState(e.address, e.port);
      for (const ds of e.domains) {
        const fresh = { ...ds, templates: ds.templates.filter((t) => now - t.lastSeen <= this.opts.templateIdleTimeoutMs) };
        const d = restoreDomain(fresh);
        ex.domains.set(domainKey(d.version, d.observationDomain), d);
        templates += d.templates.size;
      }
    }
    return { exporters: snap.exporters.length, templates };
  }

  // -------------------------------------------------------------------------------
  // Exporters

  private lastExporter: ExporterState | null = null;

  private exporterState(address: string, port: number): ExporterState {
    // Routers send bursts: skip building the key when the sender is the same as last time.
    const last = this.lastExporter;
    if (last !== null && last.info.port === port && last.info.address === address) return last;
    const key = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    let ex = this.exporters.get(key);
    if (ex === undefined) {
      const info: ExporterInfo = { id: this.exporterList.length, address, port, key };
      const o = this.opts.samplingOverrides;
      ex = {
        info,
        stats: emptyStats(key),
        domains: new Map(),
        pending: [],
        pendingBytes: 0,
        overrideRate: o[key] ?? o[address] ?? 0,
      };
      this.exporters.set(key, ex);
      this.exporterList.push(ex);
    }
    this.lastExporter = ex;
    return ex;
  }

  private readonly domainLookup = (ex: ExporterState, version: number, od: number): DomainState => this.domain(ex, version, od);

  /** @internal */
  domain(ex: ExporterState, version: number, observationDomain: number): DomainState {
    const key = domainKey(version, observationDomain);
    let d = ex.domains.get(key);
    if (d === undefined) {
      if (ex.domains.size >= this.opts.maxDomainsPerExporter) this.evictOldestDomain(ex);
      d = newDomain(version, observationDomain);
      ex.domains.set(key, d);
    }
    d.lastSeen = this.receivedAt;
    return d;
  }

  private evictOldestDomain(ex: ExporterState): void {
    let oldestKey = -1;
    let oldest = Infinity;
    for (const [key, d] of ex.domains) {
      if (d.lastSeen < oldest) {
        oldest = d.lastSeen;
        oldestKey = key;
      }
    }
    if (oldestKey < 0) return;
    ex.domains.delete(oldestKey);
    ex.stats.domainsEvicted++;
    const before = ex.pending.length;
    ex.pending = ex.pending.filter((s) => s.domainKey !== oldestKey);
    if (ex.pending.length !== before) {
      ex.pendingBytes = ex.pending.reduce((sum, s) => sum + s.bytes.length, 0);
      ex.stats.pendingDroppedSets += before - ex.pending.length;
    }
  }

  // -------------------------------------------------------------------------------
  // NetFlow v9 and IPFIX

  private decodeTemplated(msg: Uint8Array, ex: ExporterState, version: 9 | 10, receivedAt: number): void {
    const headerLength = version === 9 ? V9_HEADER : IPFIX_HEADER;
    if (msg.length < headerLength) {
      countError(ex.stats, 'short-message');
      return;
    }
    let end = msg.length;
    let exportMs: number;
    let sysUptime = 0;
    let sequence: number;
    let observationDomain: number;
    if (version === 9) {
      sysUptime = u32(msg, 4);
      exportMs = u32(msg, 8) * 1000;
      sequence = u32(msg, 12);
      observationDomain = u32(msg, 16);
    } else {
      const length = (msg[2] << 8) | msg[3];
      if (length < IPFIX_HEADER) {
        countError(ex.stats, 'ipfix-length-mismatch');
        return;
      }
      if (length > msg.length) countError(ex.stats, 'ipfix-length-mismatch');
      else if (length < msg.length) {
        ex.stats.trailingBytes += msg.length - length;
        end = length;
      }
      exportMs = u32(msg, 4) * 1000;
      sequence = u32(msg, 8);
      observationDomain = u32(msg, 12);
    }
    const d = this.domain(ex, version, observationDomain);
    if (d.sequence.detectRestart(sequence, version === 9 ? sysUptime : NaN)) this.exporterRestarted(ex, d);
    const ctx = this.ctx;
    ctx.prepare(ex, d, version, exportMs, sysUptime, 0);

    let dataRecords = 0;
    let uncountable = false;
    let p = headerLength;
    while (p < end) {
      if (end - p < 4) {
        // Fewer bytes than a set header: padding some exporters leave at the end.
        ex.stats.trailingBytes += end - p;
        break;
      }
      const setId = (msg[p] << 8) | msg[p + 1];
      const setLength = (msg[p + 2] << 8) | msg[p + 3];
      if (setLength < 4) {
        // Zero or tiny length: cannot walk further without looping forever.
        countError(ex.stats, 'set-too-short');
        break;
      }
      if (p + setLength > end) {
        countError(ex.stats, 'set-past-end');
        break;
      }
      const body = p + 4;
      const setEnd = p + setLength;
      if (version === 9 ? setId === 0 : setId === 2) {
        this.templateSet(msg, body, setEnd, ex, d, version, receivedAt);
      } else if (version === 9 ? setId === 1 : setId === 3) {
        this.optionsTemplateSet(msg, body, setEnd, ex, d, version, receivedAt);
      } else if (setId >= 256) {
        const n = this.dataSet(msg, body, setEnd, ex, d, setId, receivedAt, exportMs, sysUptime);
        if (n < 0) uncountable = true;
        else dataRecords += n;
      } else {
        countError(ex.stats, 'reserved-set-id');
      }
      p = setEnd;
    }

    const verdict = d.sequence.observe(sequence, dataRecords);
    ex.stats.sequenceLost += verdict.lost;
    if (verdict.outOfOrder) ex.stats.sequenceOutOfOrder++;
    if (uncountable) d.sequence.markResync();
  }

  /**
   * The exporter rebooted (or its process restarted): templates and samplers it announced
   * before may now mean something else. Forget them; it re-announces them at start.
   */
  private exporterRestarted(ex: ExporterState, d: DomainState): void {
    ex.stats.restarts++;
    d.templates.clear();
    d.samplers.clear();
    d.defaultRate = 0;
    d.systemInitMs = NaN;
    const key = domainKey(d.version, d.observationDomain);
    const stale = ex.pending.filter((s) => s.domainKey === key);
    if (stale.length > 0) {
      // Data held for templates of the previous incarnation can never be decoded correctly.
      ex.pending = ex.pending.filter((s) => s.domainKey !== key);
      ex.pendingBytes -= stale.reduce((sum, s) => sum + s.bytes.length, 0);
      ex.stats.pendingDroppedSets += stale.length;
    }
  }

  private templateSet(msg: Uint8Array, p: number, end: number, ex: ExporterState, d: DomainState, version: number, now: number): void {
    while (end - p >= 4) {
      const templateId = (msg[p] << 8) | msg[p + 1];
      const fieldCount = (msg[p + 2] << 8) | msg[p + 3];
      p += 4;
      if (fieldCount === 0) {
        if (version === 10) this.withdraw(ex, d, templateId, 'data');
        else countError(ex.stats, 'template-zero-fields');
        continue;
      }
      const fields = readFields(msg, p, end, fieldCount, version);
      if (fields === null) {
        countError(ex.stats, 'template-truncated');
        return;
      }
      p = fields.next;
      if (templateId < 256) {
        countError(ex.stats, 'template-id-invalid');
        continue;
      }
      this.learn(ex, d, { templateId, kind: 'data', scopeFieldCount: 0, fields: fields.fields }, now);
    }
  }

  private optionsTemplateSet(msg: Uint8Array, p: number, end: number, ex: ExporterState, d: DomainState, version: number, now: number): void {
    if (version === 9) {
      while (end - p >= 6) {
        const templateId = (msg[p] << 8) | msg[p + 1];
        const scopeLength = (msg[p + 2] << 8) | msg[p + 3];
        const optionLength = (msg[p + 4] << 8) | msg[p + 5];
        p += 6;
        if (scopeLength % 4 !== 0 || optionLength % 4 !== 0) {
          countError(ex.stats, 'template-truncated');
          return;
        }
        const fieldCount = (scopeLength + optionLength) / 4;
        if (fieldCount === 0) {
          countError(ex.stats, 'template-zero-fields');
          continue;
        }
        const fields = readFields(msg, p, end, fieldCount, 9);
        if (fields === null) {
          countError(ex.stats, 'template-truncated');
          return;
        }
        p = fields.next;
        if (templateId < 256) {
          countError(ex.stats, 'template-id-invalid');
          continue;
        }
        const def: TemplateDefinition = { templateId, kind: 'options', scopeFieldCount: scopeLength / 4, fields: fields.fields };
        markV9Scope(def);
        this.learn(ex, d, def, now);
      }
      return;
    }
    while (end - p >= 4) {
      const templateId = (msg[p] << 8) | msg[p + 1];
      const fieldCount = (msg[p + 2] << 8) | msg[p + 3];
      if (fieldCount === 0) {
        p += 4;
        this.withdraw(ex, d, templateId, 'options');
        continue;
      }
      if (end - p < 6) {
        countError(ex.stats, 'template-truncated');
        return;
      }
      const scopeFieldCount = (msg[p + 4] << 8) | msg[p + 5];
      p += 6;
      const fields = readFields(msg, p, end, fieldCount, 10);
      if (fields === null) {
        countError(ex.stats, 'template-truncated');
        return;
      }
      p = fields.next;
      if (templateId < 256) {
        countError(ex.stats, 'template-id-invalid');
        continue;
      }
      if (scopeFieldCount === 0) {
        // RFC 7011 3.4.2.2: the scope field count must not be zero.
        countError(ex.stats, 'template-scope-count');
        continue;
      }
      this.learn(ex, d, { templateId, kind: 'options', scopeFieldCount, fields: fields.fields }, now);
    }
  }

  private learn(ex: ExporterState, d: DomainState, def: TemplateDefinition, now: number): void {
    const problem = validateTemplate(def);
    if (problem !== null) {
      countError(ex.stats, problem);
      return;
    }
    const existing = d.templates.get(def.templateId);
    if (existing !== undefined && sameDefinition(existing.definition, def)) {
      existing.lastSeen = now;
    } else {
      if (existing !== undefined) ex.stats.templateRedefinitions++;
      d.templates.set(def.templateId, compileTemplate(def, now));
    }
    if (def.kind === 'data') ex.stats.templates++;
    else ex.stats.optionsTemplates++;
    if (ex.pending.length > 0) this.drainPending(ex, d, def.templateId, now);
  }

  /** IPFIX template withdrawal (RFC 7011 8.1): id 2/3 withdraws all templates of that kind. */
  private withdraw(ex: ExporterState, d: DomainState, templateId: number, kind: 'data' | 'options'): void {
    const all = templateId === (kind === 'data' ? 2 : 3);
    for (const [id, t] of d.templates) {
      if (t.definition.kind === kind && (all || id === templateId)) {
        d.templates.delete(id);
        ex.stats.templateWithdrawals++;
      }
    }
  }

  /** Returns the number of data records decoded, or -1 when the set had to wait for its template. */
  private dataSet(
    msg: Uint8Array,
    p: number,
    end: number,
    ex: ExporterState,
    d: DomainState,
    templateId: number,
    now: number,
    exportMs: number,
    sysUptime: number,
  ): number {
    let t = d.templates.get(templateId);
    if (t !== undefined && now - t.lastSeen > this.opts.templateIdleTimeoutMs) {
      d.templates.delete(templateId);
      ex.stats.templatesExpired++;
      t = undefined;
    }
    if (t === undefined) {
      ex.stats.missingTemplateSets++;
      this.hold(ex, {
        domainKey: domainKey(d.version, d.observationDomain),
        templateId,
        bytes: msg.slice(p, end),
        exportMs,
        sysUptime,
        receivedAt: now,
      });
      return -1;
    }
    t.lastSeen = now;
    return this.decodeWith(t, msg, p, end, ex, d);
  }

  private decodeWith(t: CompiledTemplate, msg: Uint8Array, p: number, end: number, ex: ExporterState, d: DomainState): number {
    if (t.decode === null) return this.optionsData(t, msg, p, end, ex, d);
    d.sentData = true;
    const ctx = this.ctx;
    ctx.useDomain(d);
    ctx.truncated = false;
    ctx.rateUnknownRecords = 0;
    const n = t.decode(msg, new DataView(msg.buffer, msg.byteOffset, msg.byteLength), p, end, ctx);
    // Reverse biflow rows are counted in n too; records for sequence purposes are forward ones.
    ex.stats.records += n;
    ex.stats.rateUnknownRecords += ctx.rateUnknownRecords;
    if (ctx.truncated) countError(ex.stats, 'record-truncated');
    return ctx.recordsRead;
  }

  /** Options data: sampler rates, system init time. Returns the records read. */
  private optionsData(t: CompiledTemplate, msg: Uint8Array, p: number, end: number, ex: ExporterState, d: DomainState): number {
    d.sentOptions = true;
    let n = 0;
    while (end - p >= t.minRecordLength && t.minRecordLength > 0) {
      const rec = readOptionsRecord(t.definition, msg, p, end);
      if (rec === null) {
        countError(ex.stats, 'options-record-truncated');
        break;
      }
      p = rec.next;
      n++;
      ex.stats.optionsRecords++;
      applyOptions(d, rec.values);
    }
    return n;
  }

  // -------------------------------------------------------------------------------
  // Data waiting for its template

  private hold(ex: ExporterState, set: PendingSet): void {
    this.expirePending(ex, set.receivedAt);
    ex.pending.push(set);
    ex.pendingBytes += set.bytes.length;
    while (ex.pending.length > this.opts.pendingMaxSets || ex.pendingBytes > this.opts.pendingMaxBytes) {
      const dropped = ex.pending.shift()!;
      ex.pendingBytes -= dropped.bytes.length;
      ex.stats.pendingDroppedSets++;
    }
  }

  private expirePending(ex: ExporterState, now: number): void {
    if (ex.pending.length === 0) return;
    const keep = ex.pending.filter((s) => now - s.receivedAt <= this.opts.pendingMaxAgeMs);
    if (keep.length !== ex.pending.length) {
      ex.stats.pendingExpiredSets += ex.pending.length - keep.length;
      ex.pending = keep;
      ex.pendingBytes = keep.reduce((sum, s) => sum + s.bytes.length, 0);
    }
  }

  private drainPending(ex: ExporterState, d: DomainState, templateId: number, now: number): void {
    const key = domainKey(d.version, d.observationDomain);
    const ready = ex.pending.filter((s) => s.domainKey === key && s.templateId === templateId);
    if (ready.length === 0) return;
    ex.pending = ex.pending.filter((s) => !(s.domainKey === key && s.templateId === templateId));
    const t = d.templates.get(templateId)!;
    const ctx = this.ctx;
    const saved = ctx.saveMessage();
    for (const s of ready) {
      ex.pendingBytes -= s.bytes.length;
      if (now - s.receivedAt > this.opts.pendingMaxAgeMs) {
        ex.stats.pendingExpiredSets++;
        continue;
      }
      ctx.prepare(ex, d, d.version, s.exportMs, s.sysUptime, FlowFlag.FromPending);
      this.decodeWith(t, s.bytes, 0, s.bytes.length, ex, d);
      ex.stats.pendingDecodedSets++;
    }
    ctx.restoreMessage(saved);
  }

  // -------------------------------------------------------------------------------
  // Sampling

  /** @internal Rate for records without sampling information of their own. */
  defaultRateOf(ex: ExporterState, d: DomainState): { rate: number; flags: number } {
    if (ex.overrideRate > 0) return { rate: ex.overrideRate, flags: FlowFlag.RateOverride };
    if (d.defaultRate > 0) return { rate: d.defaultRate, flags: 0 };
    if (d.samplers.size > 0) {
      // Options named samplers but the record names none: unambiguous only if they agree.
      let only = 0;
      for (const r of d.samplers.values()) {
        if (only === 0) only = r;
        else if (r !== only) return { rate: 1, flags: FlowFlag.RateUnknown };
      }
      return { rate: only, flags: 0 };
    }
    return { rate: 1, flags: 0 };
  }

  /**
   * @internal Rate of sampler `id` for domain d, or 0 if unknown. Falls back (Cisco IOS XE)
   * to a domain of the same exporter that only ever sent options, if exactly one rate fits.
   */
  samplerRateOf(ex: ExporterState, d: DomainState, id: number): number {
    const own = d.samplers.get(id);
    if (own !== undefined) return own;
    let found = 0;
    for (const other of ex.domains.values()) {
      if (other === d || other.sentData || !other.sentOptions) continue;
      const r = other.samplers.get(id);
      if (r === undefined) continue;
      if (found !== 0 && found !== r) return 0;
      found = r;
    }
    return found;
  }
}

/** Apply one options record's values to the domain state. */
function applyOptions(d: DomainState, v: Map<number, number>): void {
  const init = v.get(IE.systemInitTimeMilliseconds);
  if (init !== undefined && init > 0) d.systemInitMs = init;
  let rate = 0;
  const size = v.get(IE.samplingSize);
  const population = v.get(IE.samplingPopulation);
  if (size !== undefined && population !== undefined && size > 0) rate = Math.round(population / size);
  const pktInterval = v.get(IE.samplingPacketInterval);
  const pktSpace = v.get(IE.samplingPacketSpace);
  if (rate === 0 && pktInterval !== undefined && pktInterval > 0) {
    rate = pktSpace !== undefined ? Math.round((pktInterval + pktSpace) / pktInterval) : pktInterval;
  }
  if (rate === 0) rate = v.get(IE.samplerRandomInterval) ?? 0;
  if (rate === 0) rate = v.get(IE.samplingInterval) ?? 0;
  if (rate <= 0 || rate > 0xffffffff) return;
  const samplerId = v.get(IE.samplerId) ?? v.get(IE.selectorId);
  if (samplerId !== undefined && samplerId !== 0) d.samplers.set(samplerId, rate);
  else d.defaultRate = rate;
}

function u32(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
}

/** Read `count` template field specifiers; null if they run past `end`. */
function readFields(msg: Uint8Array, p: number, end: number, count: number, version: number): { fields: TemplateField[]; next: number } | null {
  const fields: TemplateField[] = [];
  for (let k = 0; k < count; k++) {
    if (p + 4 > end) return null;
    let id = (msg[p] << 8) | msg[p + 1];
    const length = (msg[p + 2] << 8) | msg[p + 3];
    p += 4;
    let pen = 0;
    if (version === 10 && id & 0x8000) {
      if (p + 4 > end) return null;
      id &= 0x7fff;
      pen = u32(msg, p);
      p += 4;
    }
    fields.push({ id, length, pen });
  }
  return { fields, next: p };
}

/** The mutable context compiled decoders write through. One per decoder. */
class Context implements DecodeContext {
  batch: FlowBatch;
  version = 0;
  exporterId = 0;
  observationDomain = 0;
  exportMs = 0;
  sysUptime = 0;
  systemInitMs = NaN;
  overrideRate = 0;
  defaultRate = 1;
  defaultRateFlags = 0;
  baseFlags = 0;
  rateUnknownRecords = 0;
  truncated = false;
  recordsRead = 0;
  private ex: ExporterState | null = null;
  private dom: DomainState | null = null;

  constructor(private readonly decoder: FlowDecoder) {
    this.batch = decoder.currentBatch();
  }

  emit(): void {
    this.decoder.emitBatch();
  }

  samplerRate(samplerId: number): number {
    return this.decoder.samplerRateOf(this.ex!, this.dom!, samplerId);
  }

  prepare(ex: ExporterState, d: DomainState, version: number, exportMs: number, sysUptime: number, baseFlags: number): void {
    this.ex = ex;
    this.dom = d;
    this.version = version;
    this.exporterId = ex.info.id;
    this.observationDomain = d.observationDomain;
    this.exportMs = exportMs;
    this.sysUptime = sysUptime;
    this.baseFlags = baseFlags;
    this.overrideRate = ex.overrideRate;
  }

  /** Refresh what depends on the domain's current options (they may arrive mid-message). */
  useDomain(d: DomainState): void {
    const r = this.decoder.defaultRateOf(this.ex!, d);
    this.defaultRate = r.rate;
    this.defaultRateFlags = r.flags;
    this.systemInitMs = d.systemInitMs;
  }

  prepareV5(ex: ExporterState): Context {
    this.ex = ex;
    this.exporterId = ex.info.id;
    this.overrideRate = ex.overrideRate;
    this.baseFlags = 0;
    return this;
  }

  saveMessage() {
    return { ex: this.ex, dom: this.dom, version: this.version, exportMs: this.exportMs, sysUptime: this.sysUptime, od: this.observationDomain };
  }

  restoreMessage(s: ReturnType<Context['saveMessage']>): void {
    this.ex = s.ex;
    this.dom = s.dom;
    this.version = s.version;
    this.exportMs = s.exportMs;
    this.sysUptime = s.sysUptime;
    this.observationDomain = s.od;
    this.baseFlags = 0;
  }
}

export type { DecodeErrorReason, ExporterStats, TemplateSnapshot };
export { VARLEN, REVERSE_PEN };
