/**
 * Per-exporter decoding state: templates, samplers and sequence tracking per observation
 * domain, and the buffer of data sets waiting for their template. Plus the snapshot
 * format that lets a restarted collector decode at once.
 */
import { z } from 'zod';
import type { ExporterInfo } from './batch.js';
import { SequenceTracker } from './sequence.js';
import type { ExporterStats } from './stats.js';
import { compileTemplate, markV9Scope, type CompiledTemplate, type TemplateDefinition } from './template.js';

export interface DomainState {
  readonly version: number;
  readonly observationDomain: number;
  readonly templates: Map<number, CompiledTemplate>;
  /** samplerId (48/302) -> packets per sampled packet. */
  readonly samplers: Map<number, number>;
  /** Rate from options that named no sampler, or from the v5 header; 0 if none. */
  defaultRate: number;
  /** IPFIX systemInitTimeMilliseconds (option 160); NaN if unknown. */
  systemInitMs: number;
  sentData: boolean;
  sentOptions: boolean;
  readonly sequence: SequenceTracker;
  /** Receive time of the domain's last message: idle domains are forgotten by expire(). */
  lastSeen: number;
}

export interface PendingSet {
  readonly domainKey: number;
  readonly templateId: number;
  readonly bytes: Uint8Array;
  readonly exportMs: number;
  readonly sysUptime: number;
  readonly receivedAt: number;
}

export interface ExporterState {
  readonly info: ExporterInfo;
  readonly stats: ExporterStats;
  readonly domains: Map<number, DomainState>;
  pending: PendingSet[];
  pendingBytes: number;
  /** Configured sampling rate for this exporter; 0 = none. */
  overrideRate: number;
}

/** NetFlow v9 and IPFIX domains with the same number are distinct state. */
export function domainKey(version: number, observationDomain: number): number {
  return version * 4294967296 + observationDomain;
}

export function newDomain(version: number, observationDomain: number): DomainState {
  return {
    version,
    observationDomain,
    templates: new Map(),
    samplers: new Map(),
    defaultRate: 0,
    systemInitMs: NaN,
    sentData: false,
    sentOptions: false,
    sequence: new SequenceTracker(version === 9 ? 'messages' : 'records'),
    lastSeen: 0,
  };
}

// ---------------------------------------------------------------------------------
// Snapshot (export/restore of template state)

const fieldSchema = z.tuple([z.number().int().min(0).max(65535), z.number().int().min(0).max(65535), z.number().int().min(0).max(4294967295)]);
const templateSchema = z.object({
  templateId: z.number().int().min(256).max(65535),
  kind: z.enum(['data', 'options']),
  scopeFieldCount: z.number().int().min(0).max(65535),
  fields: z.array(fieldSchema).min(1),
  lastSeen: z.number(),
});
const domainSchema = z.object({
  version: z.union([z.literal(9), z.literal(10)]),
  observationDomain: z.number().int().min(0).max(4294967295),
  templates: z.array(templateSchema),
  samplers: z.array(z.tuple([z.number().int().min(0), z.number().int().min(1)])),
  defaultRate: z.number().int().min(0),
  systemInitMs: z.number().nullable(),
  sentData: z.boolean(),
  sentOptions: z.boolean(),
});
export const templateSnapshotSchema = z.object({
  format: z.literal('flowbill-decoder-state'),
  formatVersion: z.literal(1),
  savedAt: z.number(),
  exporters: z.array(
    z.object({
      address: z.string().min(1),
      port: z.number().int().min(0).max(65535),
      domains: z.array(domainSchema),
    }),
  ),
});
export type TemplateSnapshot = z.infer<typeof templateSnapshotSchema>;

export function snapshotOf(exporters: Iterable<ExporterState>, savedAt: number): TemplateSnapshot {
  const out: TemplateSnapshot = { format: 'flowbill-decoder-state', formatVersion: 1, savedAt, exporters: [] };
  for (const ex of exporters) {
    const domains: TemplateSnapshot['exporters'][number]['domains'] = [];
    for (const d of ex.domains.values()) {
      if (d.version !== 9 && d.version !== 10) continue; // v5 has no state worth keeping
      domains.push({
        version: d.version,
        observationDomain: d.observationDomain,
        templates: [...d.templates.values()].map((t) => ({
          templateId: t.definition.templateId,
          kind: t.definition.kind,
          scopeFieldCount: t.definition.scopeFieldCount,
          fields: t.definition.fields.map((f) => [f.id, f.length, f.pen] as [number, number, number]),
          lastSeen: t.lastSeen,
        })),
        samplers: [...d.samplers.entries()],
        defaultRate: d.defaultRate,
        systemInitMs: Number.isNaN(d.systemInitMs) ? null : d.systemInitMs,
        sentData: d.sentData,
        sentOptions: d.sentOptions,
      });
    }
    if (domains.length > 0) out.exporters.push({ address: ex.info.address, port: ex.info.port, domains });
  }
  return out;
}

/** Rebuild a domain from its snapshot (templates recompiled). */
export function restoreDomain(snap: TemplateSnapshot['exporters'][number]['domains'][number]): DomainState {
  const d = newDomain(snap.version, snap.observationDomain);
  for (const t of snap.templates) {
    const def: TemplateDefinition = {
      templateId: t.templateId,
      kind: t.kind,
      scopeFieldCount: t.scopeFieldCount,
      fields: t.fields.map(([id, length, pen]) => ({ id, length, pen })),
    };
    if (snap.version === 9 && def.kind === 'options') markV9Scope(def);
    const compiled = compileTemplate(def, t.lastSeen);
    d.templates.set(def.templateId, compiled);
  }
  for (const [id, rate] of snap.samplers) d.samplers.set(id, rate);
  d.defaultRate = snap.defaultRate;
  d.systemInitMs = snap.systemInitMs ?? NaN;
  d.sentData = snap.sentData;
  d.sentOptions = snap.sentOptions;
  d.lastSeen = Math.max(0, ...snap.templates.map((t) => t.lastSeen));
  // Sequence numbering restarts from the first message after the restore.
  d.sequence.markResync();
  return d;
}
