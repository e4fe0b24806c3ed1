import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf, scaledBytesOf, scaledPacketsOf } from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { REVERSE_PEN } from './fields.js';
import { collectRows, ipfixMessage, v5Message, v9Message, type FieldSpec, type FieldValue, type SetSpec } from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 2055;
const SECS = 1_700_000_000;
const T0 = SECS * 1000;
const UP = 1_000_000;

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

// Flags other than TimeFromExport (these templates carry no time fields).
const col = (b: FlowBatch, name: 'samplingRate' | 'flags' | 'samplerId') =>
  Array.from(b[name].subarray(0, b.length)).map((v) => (name === 'flags' ? v & ~FlowFlag.TimeFromExport : v));

// NetFlow v9 sampler options as Cisco sends them: scope System, then 48/49/50.
const V9_SCOPE: FieldSpec[] = [{ id: 1, length: 4 }];
const V9_SAMPLER: FieldSpec[] = [{ id: 48, length: 1 }, { id: 49, length: 1 }, { id: 50, length: 4 }];
function v9SamplerOptions(samplers: [id: number, rate: number][], templateId = 257): SetSpec[] {
  return [
    { kind: 'options-template', templates: [{ id: templateId, scopeFields: V9_SCOPE, fields: V9_SAMPLER }] },
    { kind: 'data', templateId, fields: [...V9_SCOPE, ...V9_SAMPLER], records: samplers.map(([id, rate]) => [0, id, 2, rate]) },
  ];
}
// A data template that names its sampler (48).
const WITH_SAMPLER: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 8 }, { id: 2, length: 8 }, { id: 48, length: 1 }];
const NO_SAMPLER: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1, length: 8 }, { id: 2, length: 8 }];
const recS = (sid: number, bytes = 1000n): FieldValue[] => ['10.0.0.1', '10.0.0.2', bytes, 2n, sid];
const rec = (bytes = 1000n): FieldValue[] => ['10.0.0.1', '10.0.0.2', bytes, 2n];

function v9(sourceId: number, sequence: number, sets: SetSpec[], sysUptime = UP + sequence * 1000): Uint8Array {
  return v9Message({ sysUptime, unixSecs: SECS, sequence, sourceId }, sets);
}
function dataSets(fields: FieldSpec[], records: FieldValue[][], templateId = 256): SetSpec[] {
  return [
    { kind: 'template', templates: [{ id: templateId, fields }] },
    { kind: 'data', templateId, fields, records },
  ];
}
function ipfix(sequence: number, sets: SetSpec[], observationDomain = 1): Uint8Array {
  return ipfixMessage({ exportTime: SECS, sequence, observationDomain }, sets);
}

describe('sampling: NetFlow v5 header', () => {
  it('masks the mode bits: 0x4000|1000 is rate 1000, scaled = raw x rate', () => {
    const { decoder, rows } = setup();
    decoder.decode(v5Message({ sysUptime: 5000, unixSecs: SECS, flowSequence: 0, samplingInterval: 0x4000 | 1000 }, [{ src: '10.0.0.1', dst: '10.0.0.2', packets: 2, bytes: 300, first: 1, last: 2 }]), EXP, PORT, T0);
    const b = rows();
    expect(b.samplingRate[0]).toBe(1000);
    expect(bytesOf(b, 0)).toBe(300n);
    expect(scaledBytesOf(b, 0)).toBe(300_000n);
    expect(scaledPacketsOf(b, 0)).toBe(2000n);
  });
});

describe('sampling: options keyed by sampler id (48/49/50)', () => {
  it('applies each sampler its own rate when one exporter runs several; unknown ids keep raw counters', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9(0, 1, v9SamplerOptions([[1, 100], [2, 1000]])), EXP, PORT, T0);
    decoder.decode(v9(0, 2, dataSets(WITH_SAMPLER, [recS(1), recS(2), recS(9), recS(0)])), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplerId')).toEqual([1, 2, 9, 0]);
    expect(col(b, 'samplingRate')).toEqual([100, 1000, 1, 1]);
    // Sampler 9 is unknown; a record naming no sampler is ambiguous since the samplers disagree.
    expect(col(b, 'flags')).toEqual([0, 0, FlowFlag.RateUnknown, FlowFlag.RateUnknown]);
    expect([scaledBytesOf(b, 0), scaledBytesOf(b, 1), scaledBytesOf(b, 2)]).toEqual([100_000n, 1_000_000n, 1000n]);
    expect(bytesOf(b, 2)).toBe(1000n);
    expect(stats()).toMatchObject({ records: 4, optionsRecords: 2, rateUnknownRecords: 2, errors: {} });
  });

  it('gives records that name no sampler the samplers\' rate when they all agree', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9(0, 1, [...v9SamplerOptions([[1, 64], [2, 64]]), ...dataSets(NO_SAMPLER, [rec()])]), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([64]);
    expect(col(b, 'flags')).toEqual([0]);
    expect(stats().rateUnknownRecords).toBe(0);
  });

  it('uses options that arrive in the same message before the data, and follows later changes', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9(0, 1, dataSets(WITH_SAMPLER, [recS(1)])), EXP, PORT, T0); // no options yet
    decoder.decode(v9(0, 2, [...v9SamplerOptions([[1, 100]]), { kind: 'data', templateId: 256, fields: WITH_SAMPLER, records: [recS(1)] }]), EXP, PORT, T0);
    decoder.decode(v9(0, 3, [...v9SamplerOptions([[1, 250]]), { kind: 'data', templateId: 256, fields: WITH_SAMPLER, records: [recS(1)] }]), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([1, 100, 250]);
    expect(col(b, 'flags')).toEqual([FlowFlag.RateUnknown, 0, 0]);
    expect(stats().rateUnknownRecords).toBe(1);
  });

  it('counts both rows of a biflow whose sampler is unknown, and scales both when it is known', () => {
    const bi: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 8 }, { id: 1, length: 8, pen: REVERSE_PEN }, { id: 302, length: 4 }];
    const { decoder, rows, stats } = setup();
    decoder.decode(ipfix(0, [
      { kind: 'options-template', templates: [{ id: 300, scopeFields: [{ id: 302, length: 4 }], fields: [{ id: 305, length: 4 }] }] },
      { kind: 'data', templateId: 300, fields: [{ id: 302, length: 4 }, { id: 305, length: 4 }], records: [[1, 10]] },
      ...dataSets(bi, [['10.0.0.1', 5n, 6n, 1], ['10.0.0.1', 7n, 8n, 3]]),
    ]), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([10, 10, 1, 1]);
    expect(col(b, 'flags')).toEqual([0, FlowFlag.Reverse, FlowFlag.RateUnknown, FlowFlag.RateUnknown | FlowFlag.Reverse]);
    expect([scaledBytesOf(b, 0), scaledBytesOf(b, 1), scaledBytesOf(b, 2), scaledBytesOf(b, 3)]).toEqual([50n, 60n, 7n, 8n]);
    expect(stats()).toMatchObject({ records: 4, rateUnknownRecords: 2 });
  });

  it('a sampler rate in an IPFIX data set applies to the reverse row too', () => {
    const bi: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 8 }, { id: 1, length: 8, pen: REVERSE_PEN }, { id: 302, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(ipfix(0, [
      { kind: 'options-template', templates: [{ id: 300, scopeFields: [{ id: 302, length: 4 }], fields: [{ id: 305, length: 4 }] }] },
      { kind: 'data', templateId: 300, fields: [{ id: 302, length: 4 }, { id: 305, length: 4 }], records: [[4, 50]] },
      ...dataSets(bi, [['10.0.0.1', 3n, 4n, 4]]),
    ]), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([50, 50]);
    expect(col(b, 'samplerId')).toEqual([4, 4]);
    expect([scaledBytesOf(b, 0), scaledBytesOf(b, 1)]).toEqual([150n, 200n]);
  });
});

describe('sampling: 34/35 (SAMPLING_INTERVAL / ALGORITHM)', () => {
  it('from options that name no sampler: the domain rate for every record', () => {
    const scope: FieldSpec[] = [{ id: 1, length: 4 }];
    const opt: FieldSpec[] = [{ id: 34, length: 4 }, { id: 35, length: 1 }];
    const { decoder, rows } = setup();
    decoder.decode(v9(0, 1, [
      { kind: 'options-template', templates: [{ id: 257, scopeFields: scope, fields: opt }] },
      { kind: 'data', templateId: 257, fields: [...scope, ...opt], records: [[0, 512, 2]] },
      ...dataSets(NO_SAMPLER, [rec(3n)]),
    ]), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([512]);
    expect(scaledBytesOf(b, 0)).toBe(1536n);
  });

  it('from the data record itself', () => {
    const fields: FieldSpec[] = [...NO_SAMPLER, { id: 34, length: 4 }, { id: 35, length: 1 }];
    const { decoder, rows } = setup();
    decoder.decode(v9(0, 1, dataSets(fields, [[...rec(), 512, 1], [...rec(), 0, 1]])), EXP, PORT, T0);
    expect(col(rows(), 'samplingRate')).toEqual([512, 1]);
  });

  it('a rate carried in the record wins over its sampler id', () => {
    const fields: FieldSpec[] = [...WITH_SAMPLER, { id: 34, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(v9(0, 1, [...v9SamplerOptions([[1, 100]]), ...dataSets(fields, [[...recS(1), 10], [...recS(1), 0]])]), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([10, 100]);
    expect(col(b, 'flags')).toEqual([0, 0]);
  });

  it('50 (random interval) in the data record', () => {
    const fields: FieldSpec[] = [...NO_SAMPLER, { id: 50, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(v9(0, 1, dataSets(fields, [[...rec(), 4000]])), EXP, PORT, T0);
    expect(col(rows(), 'samplingRate')).toEqual([4000]);
  });
});

describe('sampling: PSAMP elements (IPFIX)', () => {
  const SCOPE: FieldSpec[] = [{ id: 302, length: 4 }];
  const DATA: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 8 }, { id: 302, length: 4 }];
  function options(fields: FieldSpec[], records: FieldValue[][]): SetSpec[] {
    return [
      { kind: 'options-template', templates: [{ id: 300, scopeFields: SCOPE, fields }] },
      { kind: 'data', templateId: 300, fields: [...SCOPE, ...fields], records },
    ];
  }

  it('305 alone is the rate (Juniper, IOS XR), keyed by selectorId 302', () => {
    const { decoder, rows } = setup();
    decoder.decode(ipfix(0, [...options([{ id: 305, length: 4 }], [[7, 100], [8, 2000]]), ...dataSets(DATA, [['10.0.0.1', 5n, 7], ['10.0.0.1', 5n, 8]])]), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([100, 2000]);
    expect(col(b, 'samplerId')).toEqual([7, 8]);
  });

  it('305 with 306: (interval + space) / interval', () => {
    const { decoder, rows } = setup();
    decoder.decode(ipfix(0, [...options([{ id: 305, length: 4 }, { id: 306, length: 4 }], [[3, 2, 198]]), ...dataSets(DATA, [['10.0.0.1', 5n, 3]])]), EXP, PORT, T0);
    expect(col(rows(), 'samplingRate')).toEqual([100]);
  });

  it('309/310: population / size', () => {
    const { decoder, rows } = setup();
    decoder.decode(ipfix(0, [...options([{ id: 309, length: 4 }, { id: 310, length: 4 }], [[5, 4, 4096]]), ...dataSets(DATA, [['10.0.0.1', 5n, 5]])]), EXP, PORT, T0);
    expect(col(rows(), 'samplingRate')).toEqual([1024]);
  });

  it('options scoped to the metering process (softflowd: interval 1, space 99) set the domain rate', () => {
    const scope: FieldSpec[] = [{ id: 143, length: 4 }];
    const fields: FieldSpec[] = [{ id: 160, length: 8 }, { id: 305, length: 4 }, { id: 306, length: 4 }, { id: 304, length: 2 }];
    const { decoder, rows } = setup();
    decoder.decode(ipfix(0, [
      { kind: 'options-template', templates: [{ id: 256, scopeFields: scope, fields }] },
      { kind: 'data', templateId: 256, fields: [...scope, ...fields], records: [[1, BigInt(T0 - 3_600_000), 1, 99, 3]] },
      ...dataSets([{ id: 8, length: 4 }, { id: 1, length: 4 }], [['10.0.0.1', 5]], 1024),
    ]), EXP, PORT, T0);
    expect(col(rows(), 'samplingRate')).toEqual([100]);
  });

  it('rates carried in the data record: 309/310, 305/306 and 305 alone', () => {
    const { decoder, rows } = setup();
    decoder.decode(ipfix(0, [
      ...dataSets([{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 309, length: 4 }, { id: 310, length: 4 }], [['10.0.0.1', 1, 10, 1000]], 256),
      ...dataSets([{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 305, length: 4 }, { id: 306, length: 4 }], [['10.0.0.1', 1, 1, 9]], 257),
      ...dataSets([{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 305, length: 4 }], [['10.0.0.1', 1, 30]], 258),
    ]), EXP, PORT, T0);
    expect(col(rows(), 'samplingRate')).toEqual([100, 10, 30]);
  });
});

describe('sampling: options under another observation domain (Cisco IOS XE)', () => {
  it('uses the sampler table of a domain that only ever sent options', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9(1, 1, v9SamplerOptions([[1, 100]])), EXP, PORT, T0);
    decoder.decode(v9(0, 1, dataSets(WITH_SAMPLER, [recS(1)])), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([100]);
    expect(col(b, 'flags')).toEqual([0]);
    expect(b.observationDomain[0]).toBe(0);
    expect(stats().rateUnknownRecords).toBe(0);
  });

  it('is ambiguous when two options-only domains give the same sampler different rates', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9(1, 1, v9SamplerOptions([[1, 100]])), EXP, PORT, T0);
    decoder.decode(v9(2, 1, v9SamplerOptions([[1, 200]])), EXP, PORT, T0);
    decoder.decode(v9(0, 1, dataSets(WITH_SAMPLER, [recS(1, 40n)])), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([1]);
    expect(col(b, 'flags')).toEqual([FlowFlag.RateUnknown]);
    expect(bytesOf(b, 0)).toBe(40n);
    expect(stats().rateUnknownRecords).toBe(1);
  });

  it('is not ambiguous when they agree, and ignores domains that also sent data', () => {
    const agree = setup();
    agree.decoder.decode(v9(1, 1, v9SamplerOptions([[1, 100]])), EXP, PORT, T0);
    agree.decoder.decode(v9(2, 1, v9SamplerOptions([[1, 100]])), EXP, PORT, T0);
    agree.decoder.decode(v9(0, 1, dataSets(WITH_SAMPLER, [recS(1)])), EXP, PORT, T0);
    expect(col(agree.rows(), 'samplingRate')).toEqual([100]);

    const mixed = setup();
    mixed.decoder.decode(v9(1, 1, v9SamplerOptions([[1, 100]])), EXP, PORT, T0);
    // Domain 2 has its own flows and its own sampler 1: its table is its own, not a fallback.
    mixed.decoder.decode(v9(2, 1, [...v9SamplerOptions([[1, 300]]), ...dataSets(WITH_SAMPLER, [recS(1)])]), EXP, PORT, T0);
    mixed.decoder.decode(v9(0, 1, dataSets(WITH_SAMPLER, [recS(1)])), EXP, PORT, T0);
    expect(col(mixed.rows(), 'samplingRate')).toEqual([300, 100]);
  });

  it('never borrows another exporter\'s sampler table', () => {
    const { decoder, rows } = setup();
    decoder.decode(v9(1, 1, v9SamplerOptions([[1, 100]])), EXP, 2056, T0);
    decoder.decode(v9(0, 1, dataSets(WITH_SAMPLER, [recS(1)])), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([1]);
    expect(col(b, 'flags')).toEqual([FlowFlag.RateUnknown]);
  });
});

describe('sampling: configured override', () => {
  it('wins over sampler ids, record rates and domain rates, and sets RateOverride', () => {
    const fields: FieldSpec[] = [...WITH_SAMPLER, { id: 34, length: 4 }];
    const { decoder, rows, stats } = setup({ samplingOverrides: { [EXP]: 7 } });
    decoder.decode(v9(0, 1, [...v9SamplerOptions([[1, 100]]), ...dataSets(fields, [[...recS(1), 10], [...recS(1), 0], [...recS(9), 0], [...recS(0), 0]])]), EXP, PORT, T0);
    decoder.decode(ipfix(0, dataSets(NO_SAMPLER, [rec()])), EXP, PORT, T0);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([7, 7, 7, 7, 7]);
    expect(col(b, 'flags')).toEqual(Array(5).fill(FlowFlag.RateOverride));
    expect(scaledBytesOf(b, 0)).toBe(7000n);
    expect(stats().rateUnknownRecords).toBe(0);
  });

  it('the most specific key wins: "address:port" over "address"; IPv6 as "[v6]:port"', () => {
    const { decoder, rows } = setup({ samplingOverrides: { [EXP]: 7, [`${EXP}:2056`]: 9, '[2001:db8::1]:4739': 11, '2001:db8::1': 12 } });
    const msg = v9(0, 1, dataSets(NO_SAMPLER, [rec()]));
    decoder.decode(msg, EXP, 2055, T0);
    decoder.decode(msg, EXP, 2056, T0);
    decoder.decode(msg, '2001:db8::1', 4739, T0);
    decoder.decode(msg, '2001:db8::1', 4740, T0);
    decoder.decode(msg, '192.0.2.2', 2055, T0);
    expect(col(rows(), 'samplingRate')).toEqual([7, 9, 11, 12, 1]);
    expect(decoder.exporterInfos().map((e) => e.key)).toEqual(['192.0.2.1:2055', '192.0.2.1:2056', '[2001:db8::1]:4739', '[2001:db8::1]:4740', '192.0.2.2:2055']);
  });

  it.each([[0], [1.5], [-3], [2 ** 32]])('rejects an override of %s', (rate) => {
    expect(() => new FlowDecoder({ onBatch: () => {}, samplingOverrides: { [EXP]: rate } })).toThrow(RangeError);
  });
});

describe('sampling: exporter restart', () => {
  it('forgets the sampler table of the restarted domain', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9(0, 5000, [...v9SamplerOptions([[1, 100]]), ...dataSets(WITH_SAMPLER, [recS(1)])], 50_000_000), EXP, PORT, T0);
    decoder.decode(v9(0, 0, dataSets(WITH_SAMPLER, [recS(1)]), 10_000), EXP, PORT, T0 + 1000);
    const b = rows();
    expect(col(b, 'samplingRate')).toEqual([100, 1]);
    expect(col(b, 'flags')).toEqual([0, FlowFlag.RateUnknown]);
    expect(stats()).toMatchObject({ restarts: 1, rateUnknownRecords: 1 });
  });
});
