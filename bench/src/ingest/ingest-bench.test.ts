/**
 * Smoke test of the ingestion benchmark harness (ingest-bench.ts in its --quick shape):
 * node-netflowv9 and our collector (collector-main.ts with a private redis-server and a
 * scratch PostgreSQL database) at 2k messages/s for 2 s, each of which must account every
 * record sent. Proves the senders, the collector start-up and the counting work end to end;
 * it measures nothing. Nothing is pinned to CPUs here (the machine may be busy).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, formatReport, runIngestBench } from './ingest-bench.js';

describe('ingest-bench --quick', () => {
  it('accounts every record sent, for node-netflowv9 and for our collector', { timeout: 120_000 }, async () => {
    const lines: string[] = [];
    const report = await runIngestBench({
      ...DEFAULT_OPTIONS,
      collectors: ['ours', 'node-netflowv9'],
      rates: [2000],
      seconds: 2,
      // Few subscribers: few usage entries per push, so a busy machine's Redis keeps up.
      subscribers: 100,
      oneCoreCpus: null,
      senderCpus: null,
      // Also proves the warm-up exporter is left out of every count.
      warmupSeconds: 1,
      log: (line) => lines.push(line),
    });
    const summary = `${formatReport(report)}\n${lines.join('\n')}`;
    expect(report.results.map((r) => r.id), summary).toEqual(['ours', 'node-netflowv9']);
    for (const result of report.results) {
      expect(result.steps, summary).toHaveLength(1);
      const [step] = result.steps;
      expect(step.error, summary).toBeUndefined();
      expect(step.sentMessages, summary).toBe(4000);
      expect(step.sentRecords, summary).toBe(100_000);
      expect(step.accountedRecords, `${result.id}\n${summary}`).toBe(step.sentRecords);
      expect(step.accountedBytes, `${result.id}\n${summary}`).toBe(step.sentBytes);
      expect(step.kernelDrops).toBe(0);
      expect(result.maxRate).toBe(2000);
    }
  });
});
