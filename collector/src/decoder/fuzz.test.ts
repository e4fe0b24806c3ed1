/**
 * Bounded fuzzing of the decoder (the long run is `pnpm fuzz`, bench/src/fuzz-decoder.ts;
 * both use testing/mutate.ts). Mutated messages from several fake exporters go to one
 * FlowDecoder: nothing may escape decode() and nothing may be counted as 'internal-error'.
 */
import { describe, expect, it } from 'vitest';

import {
  builderCorpus,
  DEFAULT_CONFORMANCE_DIR,
  formatFailure,
  loadConformanceCorpus,
  MUTATIONS,
  mutate,
  runFuzz,
  templateRefs,
  walkSets,
  type CorpusEntry,
  type FuzzResult,
} from './testing/mutate.js';
import { seededRandom } from './testing/message-builder.js';

const MESSAGES = 50_000;
const SEED = 20240611;

function expectClean(result: FuzzResult): void {
  // On failure, the message names the offending message (hex) and a minimal reproduction.
  expect(result.failures.map(formatFailure)).toEqual([]);
  expect(result.totals.errors['internal-error'] ?? 0).toBe(0);
}

describe('decoder fuzzing', () => {
  it('mutations really mutate, and never touch the corpus', () => {
    const corpus = builderCorpus(1);
    const copies = corpus.map((e) => e.bytes.slice());
    const rand = seededRandom(7);
    let changed = 0;
    for (let k = 0; k < 2000; k++) {
      const base = corpus[k % corpus.length].bytes;
      const m = mutate(rand, base, corpus.map((e) => e.bytes));
      expect(m.ops.length).toBeGreaterThan(0);
      if (m.bytes.length !== base.length || m.bytes.some((b, i) => b !== base[i])) changed++;
    }
    expect(changed).toBeGreaterThan(1800);
    corpus.forEach((e, k) => expect(e.bytes).toEqual(copies[k]));
  });

  it('finds the structure it corrupts in builder messages', () => {
    const corpus = builderCorpus(1);
    const withTemplates = corpus.filter((e) => templateRefs(e.bytes).fieldLengths.length > 0);
    const withSets = corpus.filter((e) => walkSets(e.bytes).length > 0);
    expect(withTemplates.length).toBeGreaterThan(10);
    expect(withSets.length).toBeGreaterThan(20);
    expect(MUTATIONS.length).toBeGreaterThan(15);
  });

  it(`${MESSAGES} mutated builder messages: no exception escapes, no internal-error`, () => {
    const result = runFuzz({ seed: SEED, messages: MESSAGES, corpus: builderCorpus(SEED) });
    expectClean(result);
    expect(result.messages).toBe(MESSAGES);
    expect(result.mutated).toBeGreaterThan(MESSAGES * 0.7);
    // Clean messages were decoded too: the run exercised real templates, not only rejections.
    expect(result.records).toBeGreaterThan(0);
    expect(result.totals.templates).toBeGreaterThan(0);
  }, 60_000);

  it(`${MESSAGES / 2} mutated builder messages with tiny pending limits (eviction paths)`, () => {
    const result = runFuzz({
      seed: SEED + 1,
      messages: MESSAGES / 2,
      corpus: builderCorpus(SEED + 1),
      decoder: { pendingMaxSets: 3, pendingMaxBytes: 2048, pendingMaxAgeMs: 50, templateIdleTimeoutMs: 1000 },
    });
    expectClean(result);
    expect(result.totals.pendingDroppedSets + result.totals.pendingExpiredSets).toBeGreaterThan(0);
  }, 60_000);

  it(`${MESSAGES} mutated conformance + builder messages: no exception escapes, no internal-error`, (ctx) => {
    const conformance = loadConformanceCorpus(DEFAULT_CONFORMANCE_DIR);
    ctx.skip(conformance === null, `conformance corpus not found at ${DEFAULT_CONFORMANCE_DIR} (set FLOWBILL_CONFORMANCE_DIR); builder-made messages still ran`);
    const corpus: CorpusEntry[] = [...conformance!.entries, ...builderCorpus(SEED)];
    expect(conformance!.problems).toEqual([]);
    expect(conformance!.entries.length).toBeGreaterThan(50);
    const result = runFuzz({ seed: SEED + 2, messages: MESSAGES, corpus });
    expectClean(result);
    expect(result.records).toBeGreaterThan(0);
  }, 60_000);
});
