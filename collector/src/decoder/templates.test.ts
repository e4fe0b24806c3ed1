import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf, dstAddrString, packetsOf, srcAddrString } from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { collectRows, ipfixMessage, v9Message, type FieldSpec, type FieldValue, type SetSpec } from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 4739;
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

const bytesList = (b: FlowBatch) => Array.from({ length: b.length }, (_, i) => bytesOf(b, i));
const flagsList = (b: FlowBatch) => Array.from(b.flags.subarray(0, b.length));

// Two layouts that read differently if confused.
const LAYOUT_A: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 4 }, { id: 2, length: 4 }, { id: 152, length: 8 }];
const LAYOUT_B: FieldSpec[] = [{ id: 12, length: 4 }, { id: 8, length: 4 }, { id: 2, length: 8 }, { id: 1, length: 8 }, { id: 7, length: 2 }, { id: 11, length: 2 }];
const recA = (bytes: number, src = '10.0.0.1'): FieldValue[] => [src, '10.9.9.9', bytes, 1, BigInt(T0 - 1000)];
const recB = (bytes: number): FieldValue[] => ['10.8.8.8', '10.0.0.7', 3n, BigInt(bytes), 5555, 53];

const tmpl = (id: number, fields: FieldSpec[]): SetSpec => ({ kind: 'template', templates: [{ id, fields }] });
const data = (templateId: number, fields: FieldSpec[], records: FieldValue[][]): SetSpec => ({ kind: 'data', templateId, fields, records });
const ipfix = (observationDomain: number, sequence: number, sets: SetSpec[], exportTime = SECS) => ipfixMessage({ exportTime, sequence, observationDomain }, sets);

describe('template keying', () => {
  it('two source ids (v9) sharing one template id with different layouts decode correctly', () => {
    const { decoder, rows, stats } = setup();
    const up = 100_000;
    decoder.decode(v9Message({ sysUptime: up, unixSecs: SECS, sequence: 1, sourceId: 1 }, [tmpl(256, LAYOUT_A)]), EXP, 2055, T0);
    decoder.decode(v9Message({ sysUptime: up, unixSecs: SECS, sequence: 1, sourceId: 2 }, [tmpl(256, LAYOUT_B)]), EXP, 2055, T0);
    decoder.decode(v9Message({ sysUptime: up, unixSecs: SECS, sequence: 2, sourceId: 2 }, [data(256, LAYOUT_B, [recB(2000)])]), EXP, 2055, T0);
    decoder.decode(v9Message({ sysUptime: up, unixSecs: SECS, sequence: 2, sourceId: 1 }, [data(256, LAYOUT_A, [recA(1000)])]), EXP, 2055, T0);
    const b = rows();
    expect(Array.from(b.observationDomain.subarray(0, 2))).toEqual([2, 1]);
    expect(bytesList(b)).toEqual([2000n, 1000n]);
    expect([srcAddrString(b, 0), dstAddrString(b, 0), b.srcPort[0], b.dstPort[0], packetsOf(b, 0)]).toEqual(['10.0.0.7', '10.8.8.8', 5555, 53, 3n]);
    expect([srcAddrString(b, 1), dstAddrString(b, 1), b.srcPort[1], packetsOf(b, 1)]).toEqual(['10.0.0.1', '10.9.9.9', 0, 1n]);
    expect(stats()).toMatchObject({ templates: 2, templateRedefinitions: 0, errors: {} });
  });

  it('two IPFIX observation domains sharing one template id decode correctly', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0);
    decoder.decode(ipfix(2, 0, [tmpl(256, LAYOUT_B), data(256, LAYOUT_B, [recB(2000)])]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1000)])]), EXP, PORT, T0);
    const b = rows();
    expect(bytesList(b)).toEqual([2000n, 1000n]);
    expect(Array.from(b.observationDomain.subarray(0, 2))).toEqual([2, 1]);
    expect(stats()).toMatchObject({ templateRedefinitions: 0, errors: {} });
  });

  it('the same template id from two ports of one address is kept apart', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(ipfix(0, 0, [tmpl(256, LAYOUT_A)]), EXP, 50001, T0);
    decoder.decode(ipfix(0, 0, [tmpl(256, LAYOUT_B)]), EXP, 50002, T0);
    decoder.decode(ipfix(0, 0, [data(256, LAYOUT_A, [recA(1000)])]), EXP, 50001, T0);
    decoder.decode(ipfix(0, 0, [data(256, LAYOUT_B, [recB(2000)])]), EXP, 50002, T0);
    // A third port that never sent a template: its data waits.
    decoder.decode(ipfix(0, 0, [data(256, LAYOUT_A, [recA(3000)])]), EXP, 50003, T0);
    const b = rows();
    expect(bytesList(b)).toEqual([1000n, 2000n]);
    expect(Array.from(b.exporterId.subarray(0, 2))).toEqual([0, 1]);
    expect(decoder.exporterInfos().map((e) => e.key)).toEqual([`${EXP}:50001`, `${EXP}:50002`, `${EXP}:50003`]);
    expect(stats(0)).toMatchObject({ templates: 1, templateRedefinitions: 0, records: 1 });
    expect(stats(1)).toMatchObject({ templates: 1, templateRedefinitions: 0, records: 1 });
    expect(stats(2)).toMatchObject({ missingTemplateSets: 1, records: 0 });
  });

  it('NetFlow v9 source id 0 and IPFIX domain 0 of one exporter are distinct', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9Message({ sysUptime: 1000, unixSecs: SECS, sequence: 1, sourceId: 0 }, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0);
    decoder.decode(ipfix(0, 0, [tmpl(256, LAYOUT_B)]), EXP, PORT, T0);
    decoder.decode(v9Message({ sysUptime: 2000, unixSecs: SECS, sequence: 2, sourceId: 0 }, [data(256, LAYOUT_A, [recA(1000)])]), EXP, PORT, T0);
    decoder.decode(ipfix(0, 0, [data(256, LAYOUT_B, [recB(2000)])]), EXP, PORT, T0);
    const b = rows();
    expect(bytesList(b)).toEqual([1000n, 2000n]);
    expect(Array.from(b.version.subarray(0, 2))).toEqual([9, 10]);
    expect(stats()).toMatchObject({ templateRedefinitions: 0 });
  });
});

describe('IPFIX template withdrawal', () => {
  const OPT_SCOPE: FieldSpec[] = [{ id: 302, length: 4 }];
  const OPT_FIELDS: FieldSpec[] = [{ id: 305, length: 4 }];
  const SAMPLED: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 302, length: 4 }];
  const announce = (d: ReturnType<typeof setup>) =>
    d.decoder.decode(ipfix(1, 0, [
      { kind: 'template', templates: [{ id: 256, fields: LAYOUT_A }, { id: 257, fields: SAMPLED }] },
      { kind: 'options-template', templates: [{ id: 300, scopeFields: OPT_SCOPE, fields: OPT_FIELDS }] },
    ]), EXP, PORT, T0);
  const optionsData = (rate: number) => data(300, [...OPT_SCOPE, ...OPT_FIELDS], [[1, rate]]);

  it('withdraws one template id: its data waits, the others still decode', () => {
    const d = setup();
    announce(d);
    d.decoder.decode(ipfix(1, 0, [{ kind: 'withdraw', templateIds: [256] }]), EXP, PORT, T0);
    d.decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)]), data(257, SAMPLED, [['10.0.0.1', 2, 0]])]), EXP, PORT, T0);
    expect(bytesList(d.rows())).toEqual([2n]);
    expect(d.stats()).toMatchObject({ templateWithdrawals: 1, missingTemplateSets: 1, records: 1, errors: {} });
    expect(d.decoder.pendingSets()).toBe(1);
  });

  it('withdraws all data templates with id 2, leaving options templates', () => {
    const d = setup();
    announce(d);
    d.decoder.decode(ipfix(1, 0, [{ kind: 'withdraw', templateIds: [2] }]), EXP, PORT, T0);
    expect(d.stats()).toMatchObject({ templateWithdrawals: 2 });
    // The options template still works: its data sets the rate of sampler 1...
    d.decoder.decode(ipfix(1, 0, [optionsData(100)]), EXP, PORT, T0);
    expect(d.stats()).toMatchObject({ optionsRecords: 1, missingTemplateSets: 0 });
    // ...and both data templates are gone until re-announced.
    d.decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)]), data(257, SAMPLED, [['10.0.0.1', 2, 1]])]), EXP, PORT, T0);
    expect(d.stats()).toMatchObject({ missingTemplateSets: 2, records: 0 });
    d.decoder.decode(ipfix(1, 0, [tmpl(257, SAMPLED)]), EXP, PORT, T0);
    const b = d.rows();
    expect(bytesList(b)).toEqual([2n]);
    expect(b.samplingRate[0]).toBe(100);
    expect(b.flags[0]).toBe(FlowFlag.FromPending | FlowFlag.TimeFromExport);
  });

  it('withdraws all options templates with id 3, and a single options template by its id', () => {
    const d = setup();
    announce(d);
    d.decoder.decode(ipfix(1, 0, [{ kind: 'withdraw', templateIds: [3], options: true }]), EXP, PORT, T0);
    expect(d.stats()).toMatchObject({ templateWithdrawals: 1 });
    d.decoder.decode(ipfix(1, 0, [optionsData(100)]), EXP, PORT, T0);
    expect(d.stats()).toMatchObject({ optionsRecords: 0, missingTemplateSets: 1 });
    // Data templates were not touched.
    expect(d.decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0)).toBe(1);

    const e = setup();
    announce(e);
    e.decoder.decode(ipfix(1, 0, [{ kind: 'withdraw', templateIds: [300], options: true }]), EXP, PORT, T0);
    e.decoder.decode(ipfix(1, 0, [optionsData(100)]), EXP, PORT, T0);
    expect(e.stats()).toMatchObject({ templateWithdrawals: 1, optionsRecords: 0, missingTemplateSets: 1 });
  });

  it('a withdrawal applies to its own observation domain only', () => {
    const d = setup();
    announce(d);
    d.decoder.decode(ipfix(2, 0, [{ kind: 'withdraw', templateIds: [2] }]), EXP, PORT, T0);
    expect(d.decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0)).toBe(1);
    expect(d.stats()).toMatchObject({ templateWithdrawals: 0 });
  });
});

describe('template redefinition', () => {
  it('counts a redefinition and decodes with the new layout', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A), data(256, LAYOUT_A, [recA(1000)])]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 1, [tmpl(256, LAYOUT_B), data(256, LAYOUT_B, [recB(2000)])]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 2, [data(256, LAYOUT_B, [recB(3000)])]), EXP, PORT, T0);
    const b = rows();
    expect(bytesList(b)).toEqual([1000n, 2000n, 3000n]);
    expect([b.srcPort[2], b.dstPort[2], srcAddrString(b, 2)]).toEqual([5555, 53, '10.0.0.7']);
    expect(stats()).toMatchObject({ templates: 2, templateRedefinitions: 1 });
  });

  it('does not count re-announcing the same template as a redefinition', () => {
    const { decoder, stats } = setup();
    for (let k = 0; k < 3; k++) decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0 + k);
    expect(stats()).toMatchObject({ templates: 3, templateRedefinitions: 0 });
  });

  it('counts a redefinition when only a field length changes', () => {
    const { decoder, rows, stats } = setup();
    const wide: FieldSpec[] = LAYOUT_A.map((f) => (f.id === 1 ? { id: 1, length: 8 } : f));
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 0, [tmpl(256, wide), data(256, wide, [['10.0.0.1', '10.9.9.9', 2n ** 40n, 1, BigInt(T0)]])]), EXP, PORT, T0);
    expect(bytesOf(rows(), 0)).toBe(2n ** 40n);
    expect(stats()).toMatchObject({ templateRedefinitions: 1 });
  });
});

describe('template expiry', () => {
  const opts = { templateIdleTimeoutMs: 1000 };

  it('expire(now) forgets templates idle for longer than the timeout', () => {
    const { decoder, stats } = setup(opts);
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A), tmpl(257, LAYOUT_B)]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 0, [tmpl(257, LAYOUT_B)]), EXP, PORT, T0 + 500);
    decoder.expire(T0 + 1000);
    expect(stats()).toMatchObject({ templatesExpired: 0 });
    decoder.expire(T0 + 1001);
    expect(stats()).toMatchObject({ templatesExpired: 1 });
    expect(decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0 + 1002)).toBe(0);
    expect(decoder.decode(ipfix(1, 0, [data(257, LAYOUT_B, [recB(2)])]), EXP, PORT, T0 + 1002)).toBe(1);
    expect(stats()).toMatchObject({ templatesExpired: 1, missingTemplateSets: 1 });
  });

  it('a template idle past the timeout is not used for data that arrives after it', () => {
    const { decoder, stats } = setup(opts);
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0);
    expect(decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0 + 1001)).toBe(0);
    expect(stats()).toMatchObject({ templatesExpired: 1, missingTemplateSets: 1, records: 0 });
    expect(decoder.pendingSets()).toBe(1);
  });

  it('use and re-announcement keep a template alive', () => {
    const { decoder, stats } = setup(opts);
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0);
    expect(decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0 + 1000)).toBe(1);
    expect(decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0 + 1900)).toBe(1);
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0 + 2800);
    decoder.expire(T0 + 3700);
    expect(decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0 + 3750)).toBe(1);
    expect(stats()).toMatchObject({ templatesExpired: 0, records: 3 });
  });
});

describe('data before its template (pending buffer)', () => {
  it('holds the data and decodes it, flagged FromPending, when the template arrives', () => {
    const { decoder, rows, stats } = setup();
    expect(decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1), recA(2)])], SECS - 5), EXP, PORT, T0)).toBe(0);
    expect(decoder.pendingSets()).toBe(1);
    expect(stats()).toMatchObject({ missingTemplateSets: 1, records: 0 });
    // The template message also carries fresh data: both are decoded, only the held one is flagged.
    expect(decoder.decode(ipfix(1, 2, [tmpl(256, LAYOUT_A), data(256, LAYOUT_A, [recA(3)])]), EXP, PORT, T0 + 5000)).toBe(3);
    const b = rows();
    expect(bytesList(b)).toEqual([1n, 2n, 3n]);
    expect(flagsList(b)).toEqual([FlowFlag.FromPending, FlowFlag.FromPending, 0]);
    // Held records keep the export time of the message they came in.
    expect(Array.from(b.exportTime.subarray(0, 3))).toEqual([T0 - 5000, T0 - 5000, T0]);
    expect(decoder.pendingSets()).toBe(0);
    expect(stats()).toMatchObject({ missingTemplateSets: 1, pendingDecodedSets: 1, pendingDroppedSets: 0, pendingExpiredSets: 0, records: 3 });
  });

  it('decodes data that precedes its template in the same message', () => {
    const { decoder, rows, stats } = setup();
    expect(decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)]), tmpl(256, LAYOUT_A)]), EXP, PORT, T0)).toBe(1);
    const b = rows();
    expect(bytesList(b)).toEqual([1n]);
    expect(b.flags[0]).toBe(FlowFlag.FromPending);
    expect(stats()).toMatchObject({ missingTemplateSets: 1, pendingDecodedSets: 1 });
  });

  it('uses the held NetFlow v9 header for uptime-relative times', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 22, length: 4 }, { id: 21, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(v9Message({ sysUptime: 50_000, unixSecs: SECS, sequence: 1, sourceId: 0 }, [data(256, fields, [['10.0.0.1', 1, 20_000, 45_000]])]), EXP, 2055, T0);
    decoder.decode(v9Message({ sysUptime: 90_000, unixSecs: SECS + 40, sequence: 2, sourceId: 0 }, [tmpl(256, fields)]), EXP, 2055, T0 + 40_000);
    const b = rows();
    expect([b.start[0], b.end[0], b.exportTime[0]]).toEqual([T0 - 30_000, T0 - 5_000, T0]);
    expect(b.flags[0]).toBe(FlowFlag.FromPending);
  });

  it('holds options data until its options template arrives', () => {
    const scope: FieldSpec[] = [{ id: 302, length: 4 }];
    const fields: FieldSpec[] = [{ id: 305, length: 4 }];
    const sampled: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 302, length: 4 }];
    const { decoder, rows, stats } = setup();
    decoder.decode(ipfix(1, 0, [data(300, [...scope, ...fields], [[1, 64]])]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 1, [{ kind: 'options-template', templates: [{ id: 300, scopeFields: scope, fields }] }, tmpl(256, sampled), data(256, sampled, [['10.0.0.1', 1, 1]])]), EXP, PORT, T0);
    expect(rows().samplingRate[0]).toBe(64);
    expect(stats()).toMatchObject({ optionsRecords: 1, pendingDecodedSets: 1 });
  });

  it('does not release held data for a template of another domain or exporter', () => {
    const { decoder, stats } = setup();
    decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0);
    decoder.decode(ipfix(2, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT + 1, T0);
    expect(decoder.pendingSets()).toBe(1);
    expect(stats(0)).toMatchObject({ records: 0, pendingDecodedSets: 0 });
    expect(decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0)).toBe(1);
  });

  it('drops the oldest sets beyond pendingMaxSets and counts them', () => {
    const { decoder, rows, stats } = setup({ pendingMaxSets: 2 });
    decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 0, [data(257, LAYOUT_A, [recA(2)])]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 0, [data(258, LAYOUT_A, [recA(3)])]), EXP, PORT, T0);
    expect(decoder.pendingSets()).toBe(2);
    expect(stats()).toMatchObject({ missingTemplateSets: 3, pendingDroppedSets: 1 });
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A), tmpl(257, LAYOUT_A), tmpl(258, LAYOUT_A)]), EXP, PORT, T0);
    expect(bytesList(rows())).toEqual([2n, 3n]);
    expect(stats()).toMatchObject({ pendingDecodedSets: 2, pendingDroppedSets: 1, records: 2 });
  });

  it('drops the oldest sets beyond pendingMaxBytes and counts them', () => {
    // LAYOUT_A records are 24 bytes: two fit in 50 bytes, three do not.
    const { decoder, rows, stats } = setup({ pendingMaxBytes: 50 });
    decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0);
    decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(2)])]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ pendingDroppedSets: 0 });
    decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(3)])]), EXP, PORT, T0);
    expect(stats()).toMatchObject({ pendingDroppedSets: 1 });
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0);
    expect(bytesList(rows())).toEqual([2n, 3n]);
    expect(stats()).toMatchObject({ missingTemplateSets: 3, pendingDecodedSets: 2, pendingDroppedSets: 1 });
  });

  it('counts held data older than pendingMaxAgeMs as expired: on expire(), on a later hold, and when its template arrives', () => {
    const opts = { pendingMaxAgeMs: 1000 };
    const a = setup(opts);
    a.decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0);
    a.decoder.expire(T0 + 1000);
    expect(a.decoder.pendingSets()).toBe(1);
    a.decoder.expire(T0 + 1001);
    expect(a.decoder.pendingSets()).toBe(0);
    expect(a.stats()).toMatchObject({ pendingExpiredSets: 1 });

    const b = setup(opts);
    b.decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0);
    b.decoder.decode(ipfix(1, 0, [data(257, LAYOUT_A, [recA(2)])]), EXP, PORT, T0 + 1500);
    expect(b.decoder.pendingSets()).toBe(1);
    expect(b.stats()).toMatchObject({ pendingExpiredSets: 1 });

    const c = setup(opts);
    c.decoder.decode(ipfix(1, 0, [data(256, LAYOUT_A, [recA(1)])]), EXP, PORT, T0);
    expect(c.decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A)]), EXP, PORT, T0 + 1001)).toBe(0);
    expect(c.stats()).toMatchObject({ pendingExpiredSets: 1, pendingDecodedSets: 0, records: 0 });
    expect(c.decoder.pendingSets()).toBe(0);
  });
});

describe('clock', () => {
  it('uses the configured clock when decode(), expire() and exportState() are not given a time', () => {
    let clock = T0;
    const { decoder, stats } = setup({ now: () => clock, templateIdleTimeoutMs: 1000 });
    decoder.decode(ipfix(1, 0, [tmpl(256, LAYOUT_A), tmpl(257, LAYOUT_B)]), EXP, PORT);
    clock = T0 + 600;
    expect(decoder.decode(ipfix(1, 0, [data(257, LAYOUT_B, [recB(1)])]), EXP, PORT)).toBe(1);
    expect(decoder.exportState().savedAt).toBe(T0 + 600);
    clock = T0 + 1001;
    decoder.expire();
    expect(stats()).toMatchObject({ templatesExpired: 1 });
    expect(decoder.exportState().exporters[0].domains[0].templates.map((t) => [t.templateId, t.lastSeen])).toEqual([[257, T0 + 600]]);
  });
});
