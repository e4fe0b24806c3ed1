import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf } from './batch.js';
import { FlowDecoder, type DecoderOptions, type TemplateSnapshot } from './decoder.js';
import { collectRows, ipfixMessage, v9Message, type FieldSpec, type FieldValue, type SetSpec } from './testing/message-builder.js';

const EXP = '192.0.2.1';
const SECS = 1_700_000_000;
const T0 = SECS * 1000;

function setup(options: Partial<DecoderOptions> = {}) {
  const all = new FlowBatch(4096);
  const decoder = new FlowDecoder({ ...options, onBatch: collectRows(all) });
  const rows = () => {
    decoder.flush();
    return all;
  };
  const stats = (k = 0) => decoder.stats()[k];
  return { decoder, all, rows, stats };
}

const V9_DATA: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 8 }, { id: 48, length: 1 }, { id: 22, length: 4 }, { id: 21, length: 4 }];
const V9_SCOPE: FieldSpec[] = [{ id: 1, length: 4 }];
const V9_OPT: FieldSpec[] = [{ id: 48, length: 1 }, { id: 50, length: 4 }];
const IPFIX_DATA: FieldSpec[] = [{ id: 27, length: 16 }, { id: 1, length: 8 }, { id: 22, length: 4 }, { id: 21, length: 4 }];
const IPFIX_SCOPE: FieldSpec[] = [{ id: 143, length: 4 }];
const IPFIX_OPT: FieldSpec[] = [{ id: 160, length: 8 }];
const INIT = T0 - 86_400_000;

const v9 = (sequence: number, sets: SetSpec[], sysUptime = 1_000_000 + sequence * 1000) => v9Message({ sysUptime, unixSecs: SECS, sequence, sourceId: 3 }, sets);
const ipfix = (sequence: number, sets: SetSpec[]) => ipfixMessage({ exportTime: SECS, sequence, observationDomain: 5 }, sets);
const v9Data = (records: FieldValue[][]): SetSpec => ({ kind: 'data', templateId: 256, fields: V9_DATA, records });
const ipfixData = (records: FieldValue[][]): SetSpec => ({ kind: 'data', templateId: 256, fields: IPFIX_DATA, records });

/** A decoder that has learnt: v9 data + sampler options (port 2055), IPFIX data + init-time options (port 4739). */
function learnt(options: Partial<DecoderOptions> = {}) {
  const d = setup(options);
  d.decoder.decode(v9(10, [
    { kind: 'template', templates: [{ id: 256, fields: V9_DATA }] },
    { kind: 'options-template', templates: [{ id: 257, scopeFields: V9_SCOPE, fields: V9_OPT }] },
    { kind: 'data', templateId: 257, fields: [...V9_SCOPE, ...V9_OPT], records: [[0, 1, 100], [0, 2, 1000]] },
  ]), EXP, 2055, T0);
  d.decoder.decode(ipfix(0, [
    { kind: 'template', templates: [{ id: 256, fields: IPFIX_DATA }] },
    { kind: 'options-template', templates: [{ id: 300, scopeFields: IPFIX_SCOPE, fields: IPFIX_OPT }] },
    { kind: 'data', templateId: 300, fields: [...IPFIX_SCOPE, ...IPFIX_OPT], records: [[1, BigInt(INIT)]] },
  ]), EXP, 4739, T0);
  return d;
}

describe('template state snapshot', () => {
  it('survives JSON and lets a new decoder decode data at once, with samplers and system init time', () => {
    const a = learnt();
    const snap = a.decoder.exportState(T0 + 500);
    const restoredFrom = JSON.parse(JSON.stringify(snap)) as unknown;
    const b = setup();
    expect(b.decoder.restoreState(restoredFrom, T0 + 1000)).toEqual({ exporters: 2, templates: 4 });

    expect(b.decoder.decode(v9(11, [v9Data([['10.0.0.1', 7n, 1, 1_000_000, 1_010_000], ['10.0.0.2', 8n, 2, 1_005_000, 1_011_000]])], 1_011_000), EXP, 2055, T0 + 1000)).toBe(2);
    expect(b.decoder.decode(ipfix(2, [ipfixData([['2001:db8::1', 9n, 5000, 6000]])]), EXP, 4739, T0 + 1000)).toBe(1);
    const r = b.rows();
    expect([bytesOf(r, 0), bytesOf(r, 1), bytesOf(r, 2)]).toEqual([7n, 8n, 9n]);
    expect(Array.from(r.samplingRate.subarray(0, 3))).toEqual([100, 1000, 1]);
    expect([r.start[0], r.end[0]]).toEqual([T0 - 11_000, T0 - 1000]);
    expect([r.start[2], r.end[2]]).toEqual([INIT + 5000, INIT + 6000]);
    expect(Array.from(r.flags.subarray(0, 3))).toEqual([0, 0, 0]);
    for (const s of b.decoder.stats()) expect(s).toMatchObject({ missingTemplateSets: 0, errors: {}, sequenceLost: 0, sequenceOutOfOrder: 0 });
  });

  it('is plain JSON in the documented format', () => {
    const snap = learnt().decoder.exportState(T0 + 500);
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
    expect(snap).toMatchObject({ format: 'flowbill-decoder-state', formatVersion: 1, savedAt: T0 + 500 });
    expect(snap.exporters.map((e) => [e.address, e.port, e.domains.map((d) => [d.version, d.observationDomain, d.templates.length])])).toEqual([
      [EXP, 2055, [[9, 3, 2]]],
      [EXP, 4739, [[10, 5, 2]]],
    ]);
    const v9Domain = snap.exporters[0].domains[0];
    expect(v9Domain.samplers).toEqual([[1, 100], [2, 1000]]);
    expect(v9Domain.templates.find((t) => t.templateId === 257)).toMatchObject({ kind: 'options', scopeFieldCount: 1, fields: [[1, 4, 0], [48, 1, 0], [50, 4, 0]] });
    expect(snap.exporters[1].domains[0].systemInitMs).toBe(INIT);
  });

  it('restored NetFlow v9 options templates keep reading sampler tables', () => {
    const b = setup();
    b.decoder.restoreState(JSON.parse(JSON.stringify(learnt().decoder.exportState(T0))), T0);
    // New sampler table from the restored options template, then data.
    b.decoder.decode(v9(11, [{ kind: 'data', templateId: 257, fields: [...V9_SCOPE, ...V9_OPT], records: [[0, 1, 333]] }, v9Data([['10.0.0.1', 1n, 1, 0, 0]])]), EXP, 2055, T0);
    expect(b.rows().samplingRate[0]).toBe(333);
  });

  it('skips templates idle for longer than the timeout', () => {
    const a = setup();
    a.decoder.decode(ipfix(0, [{ kind: 'template', templates: [{ id: 256, fields: IPFIX_DATA }] }]), EXP, 4739, T0);
    a.decoder.decode(ipfix(0, [{ kind: 'template', templates: [{ id: 257, fields: IPFIX_DATA }] }]), EXP, 4739, T0 + 5000);
    const snap = JSON.parse(JSON.stringify(a.decoder.exportState(T0 + 5000))) as unknown;
    const b = setup({ templateIdleTimeoutMs: 1000 });
    expect(b.decoder.restoreState(snap, T0 + 5500)).toEqual({ exporters: 1, templates: 1 });
    expect(b.decoder.decode(ipfix(0, [{ kind: 'data', templateId: 257, fields: IPFIX_DATA, records: [['::1', 1n, 0, 0]] }]), EXP, 4739, T0 + 5500)).toBe(1);
    expect(b.decoder.decode(ipfix(1, [{ kind: 'data', templateId: 256, fields: IPFIX_DATA, records: [['::1', 1n, 0, 0]] }]), EXP, 4739, T0 + 5500)).toBe(0);
    expect(b.stats()).toMatchObject({ missingTemplateSets: 1 });
  });

  it('keeps the exporter key of IPv6 exporters and applies configured overrides after a restore', () => {
    const a = setup();
    a.decoder.decode(ipfix(0, [{ kind: 'template', templates: [{ id: 256, fields: IPFIX_DATA }] }]), '2001:db8::7', 4739, T0);
    const b = setup({ samplingOverrides: { '[2001:db8::7]:4739': 64 } });
    b.decoder.restoreState(JSON.parse(JSON.stringify(a.decoder.exportState(T0))), T0);
    expect(b.decoder.exporterInfos().map((e) => e.key)).toEqual(['[2001:db8::7]:4739']);
    b.decoder.decode(ipfix(0, [ipfixData([['::1', 1n, 0, 0]])]), '2001:db8::7', 4739, T0);
    const r = b.rows();
    expect(r.samplingRate[0]).toBe(64);
    expect(r.flags[0] & FlowFlag.RateOverride).toBe(FlowFlag.RateOverride);
  });

  it('round-trips a NetFlow v9 options template with a zero-length scope field (which the decoder accepts)', () => {
    const scope: FieldSpec[] = [{ id: 1, length: 0 }];
    const a = setup();
    a.decoder.decode(v9(10, [
      { kind: 'options-template', templates: [{ id: 257, scopeFields: scope, fields: V9_OPT }] },
      { kind: 'data', templateId: 257, fields: [...scope, ...V9_OPT], records: [[new Uint8Array(0), 1, 100]] },
      { kind: 'template', templates: [{ id: 256, fields: V9_DATA }] },
      v9Data([['10.0.0.1', 1n, 1, 0, 0]]),
    ]), EXP, 2055, T0);
    expect(a.rows().samplingRate[0]).toBe(100);
    expect(a.stats().errors).toEqual({});
    const snap = JSON.parse(JSON.stringify(a.decoder.exportState(T0))) as unknown;
    const b = setup();
    expect(() => b.decoder.restoreState(snap, T0)).not.toThrow();
  });

  describe('rejects a malformed snapshot with an error naming the bad path', () => {
    const good = (): TemplateSnapshot => JSON.parse(JSON.stringify(learnt().decoder.exportState(T0))) as TemplateSnapshot;
    const cases: [string, (s: TemplateSnapshot) => unknown, string[]][] = [
      ['a template id below 256', (s) => ((s.exporters[0].domains[0].templates[0] as { templateId: number }).templateId = 5, s), ['exporters', 'domains', 'templates', 'templateId']],
      ['a negative port', (s) => ((s.exporters[1] as { port: number }).port = -1, s), ['exporters', 'port']],
      ['a field that is not a triple', (s) => ((s.exporters[0].domains[0].templates[0].fields as unknown[])[0] = [8, 4], s), ['exporters', 'domains', 'templates', 'fields']],
      ['an unknown version', (s) => ((s.exporters[0].domains[0] as { version: number }).version = 5, s), ['exporters', 'domains', 'version']],
      ['a wrong format tag', (s) => ({ ...s, format: 'something-else' }), ['format']],
    ];
    it.each(cases)('%s', (_name, corrupt, path) => {
      const b = setup();
      let message = '';
      try {
        b.decoder.restoreState(corrupt(good()), T0);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).not.toBe('');
      // Every segment of the path is named, in order.
      let at = -1;
      for (const segment of path) {
        const next = message.indexOf(segment, at + 1);
        expect(next, `"${segment}" after position ${at} in: ${message}`).toBeGreaterThan(at);
        at = next;
      }
      // Nothing was half-restored.
      expect(b.decoder.exporterInfos()).toEqual([]);
    });

    it.each([[null], ['state'], [{}], [[]]])('rejects %j', (snap) => {
      expect(() => setup().decoder.restoreState(snap, T0)).toThrow();
    });
  });
});
