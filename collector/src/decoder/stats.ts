/** Counters the decoder keeps per exporter. Everything that is not a clean record is counted here. */

/** Why (part of) a message could not be decoded. Each is counted per exporter. */
export type DecodeErrorReason =
  | 'short-message'
  | 'unknown-version'
  | 'v5-bad-count'
  | 'v5-truncated'
  | 'ipfix-length-mismatch'
  | 'set-too-short'
  | 'set-past-end'
  | 'reserved-set-id'
  | 'template-truncated'
  | 'template-zero-fields'
  | 'template-field-length'
  | 'template-record-too-long'
  | 'template-scope-count'
  | 'template-id-invalid'
  | 'record-truncated'
  | 'options-record-truncated'
  | 'internal-error';

export interface ExporterStats {
  exporter: string;
  messages: number;
  /** Flow records emitted (including reverse biflow records). */
  records: number;
  optionsRecords: number;
  templates: number;
  optionsTemplates: number;
  templateRedefinitions: number;
  templateWithdrawals: number;
  templatesExpired: number;
  /** Observation domains forgotten because the exporter had too many (maxDomainsPerExporter). */
  domainsEvicted: number;
  /** Data sets that arrived before their template (held in the pending buffer). */
  missingTemplateSets: number;
  pendingDecodedSets: number;
  pendingDroppedSets: number;
  pendingExpiredSets: number;
  /** NetFlow v9: messages; IPFIX and v5: records. */
  sequenceLost: number;
  sequenceOutOfOrder: number;
  restarts: number;
  rateUnknownRecords: number;
  /** Bytes after the last set or record that were ignored. */
  trailingBytes: number;
  errors: Partial<Record<DecodeErrorReason, number>>;
}

export function emptyStats(exporter: string): ExporterStats {
  return {
    exporter,
    messages: 0,
    records: 0,
    optionsRecords: 0,
    templates: 0,
    optionsTemplates: 0,
    templateRedefinitions: 0,
    templateWithdrawals: 0,
    templatesExpired: 0,
    domainsEvicted: 0,
    missingTemplateSets: 0,
    pendingDecodedSets: 0,
    pendingDroppedSets: 0,
    pendingExpiredSets: 0,
    sequenceLost: 0,
    sequenceOutOfOrder: 0,
    restarts: 0,
    rateUnknownRecords: 0,
    trailingBytes: 0,
    errors: {},
  };
}

export function countError(stats: ExporterStats, reason: DecodeErrorReason, n = 1): void {
  stats.errors[reason] = (stats.errors[reason] ?? 0) + n;
}

/** Sum of several exporters' counters (for summaries). */
export function totalStats(all: Iterable<ExporterStats>): ExporterStats {
  const total = emptyStats('*');
  for (const s of all) {
    for (const key of Object.keys(total) as (keyof ExporterStats)[]) {
      if (typeof total[key] === 'number') (total as unknown as Record<string, number>)[key] += s[key] as number;
    }
    for (const [reason, n] of Object.entries(s.errors)) countError(total, reason as DecodeErrorReason, n);
  }
  return total;
}
