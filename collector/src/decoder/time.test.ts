import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag } from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { collectRows, ipfixMessage, ntpTimestamp, v9Message, type FieldSpec, type FieldValue, type SetSpec } from './testing/message-builder.js';

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
  return { decoder, rows };
}

const BASE: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }];
const base: FieldValue[] = ['10.0.0.1', 100];

function sets(timeFields: FieldSpec[], times: FieldValue[][]): SetSpec[] {
  const fields = [...BASE, ...timeFields];
  return [
    { kind: 'template', templates: [{ id: 256, fields }] },
    { kind: 'data', templateId: 256, fields, records: times.map((t) => [...base, ...t]) },
  ];
}

/** Decode one IPFIX message (export time SECS) and return [start, end, flags] per record. */
function ipfixTimes(timeFields: FieldSpec[], times: FieldValue[][], extra: SetSpec[] = []): [number, number, number][] {
  const { decoder, rows } = setup();
  decoder.decode(ipfixMessage({ exportTime: SECS, sequence: 0, observationDomain: 1 }, [...extra, ...sets(timeFields, times)]), EXP, PORT, T0 + 777);
  const b = rows();
  return Array.from({ length: b.length }, (_, i) => [b.start[i], b.end[i], b.flags[i]]);
}

/** Decode one NetFlow v9 message and return [start, end, flags] per record. */
function v9Times(sysUptime: number, timeFields: FieldSpec[], times: FieldValue[][]): [number, number, number][] {
  const { decoder, rows } = setup();
  decoder.decode(v9Message({ sysUptime, unixSecs: SECS, sequence: 0, sourceId: 0 }, sets(timeFields, times)), EXP, 2055, T0 + 777);
  const b = rows();
  return Array.from({ length: b.length }, (_, i) => [b.start[i], b.end[i], b.flags[i]]);
}

const UPTIME: FieldSpec[] = [{ id: 22, length: 4 }, { id: 21, length: 4 }];

describe('time: sysUptime-relative fields 21/22 (NetFlow v9)', () => {
  it('are export time minus (header sysUptime - field)', () => {
    expect(v9Times(3_600_000, UPTIME, [[3_500_000, 3_590_000]])).toEqual([[T0 - 100_000, T0 - 10_000, 0]]);
  });

  it('survive the 32-bit uptime wrap: header just after the wrap, first switched before it', () => {
    expect(v9Times(1000, UPTIME, [[0xfffff000, 500], [0xffffffff, 1000]])).toEqual([
      [T0 - 5096, T0 - 500, 0],
      [T0 - 1001, T0, 0],
    ]);
  });

  it('handle a record stamped slightly after the header uptime', () => {
    expect(v9Times(50_000, UPTIME, [[49_000, 50_250]])).toEqual([[T0 - 1000, T0 + 250, 0]]);
  });

  it('take the start from the end and a duration (161) when only the end is there', () => {
    expect(v9Times(50_000, [{ id: 21, length: 4 }, { id: 161, length: 4 }], [[45_000, 3000]])).toEqual([[T0 - 8000, T0 - 5000, 0]]);
  });
});

describe('time: IPFIX', () => {
  it('21/22 are relative to systemInitTimeMilliseconds (160) from options', () => {
    const scope: FieldSpec[] = [{ id: 143, length: 4 }];
    const opt: FieldSpec[] = [{ id: 160, length: 8 }];
    const init = T0 - 3_600_000;
    const options: SetSpec[] = [
      { kind: 'options-template', templates: [{ id: 300, scopeFields: scope, fields: opt }] },
      { kind: 'data', templateId: 300, fields: [...scope, ...opt], records: [[1, BigInt(init)]] },
    ];
    expect(ipfixTimes(UPTIME, [[1_000_000, 1_500_000]], options)).toEqual([[init + 1_000_000, init + 1_500_000, 0]]);
  });

  it('21/22 without a known system init time fall back to the export time', () => {
    expect(ipfixTimes(UPTIME, [[1_000_000, 1_500_000]])).toEqual([[T0, T0, FlowFlag.TimeFromExport]]);
  });

  it('150/151: seconds', () => {
    expect(ipfixTimes([{ id: 150, length: 4 }, { id: 151, length: 4 }], [[SECS - 60, SECS - 1]])).toEqual([[T0 - 60_000, T0 - 1000, 0]]);
  });

  it('152/153: milliseconds', () => {
    expect(ipfixTimes([{ id: 152, length: 8 }, { id: 153, length: 8 }], [[BigInt(T0 - 61_234), BigInt(T0 - 5)]])).toEqual([[T0 - 61_234, T0 - 5, 0]]);
  });

  it('154/155: microseconds in NTP format', () => {
    const f = [{ id: 154, length: 8 }, { id: 155, length: 8 }];
    expect(ipfixTimes(f, [[ntpTimestamp(SECS - 10, 0x40000000), ntpTimestamp(SECS - 1, 0x80000000)]])).toEqual([[T0 - 10_000 + 250, T0 - 1000 + 500, 0]]);
  });

  it('156/157: nanoseconds in NTP format', () => {
    const f = [{ id: 156, length: 8 }, { id: 157, length: 8 }];
    expect(ipfixTimes(f, [[ntpTimestamp(SECS - 2, 0xc0000000), ntpTimestamp(SECS, 0)]])).toEqual([[T0 - 2000 + 750, T0, 0]]);
  });

  it('158/159: microseconds before the export time', () => {
    const f = [{ id: 158, length: 4 }, { id: 159, length: 4 }];
    expect(ipfixTimes(f, [[5_000_000, 1500]])).toEqual([[T0 - 5000, T0 - 1.5, 0]]);
  });

  it('161 (ms) and 162 (us) durations complete a start or an end', () => {
    expect(ipfixTimes([{ id: 152, length: 8 }, { id: 161, length: 4 }], [[BigInt(T0 - 9000), 4000]])).toEqual([[T0 - 9000, T0 - 5000, 0]]);
    expect(ipfixTimes([{ id: 153, length: 8 }, { id: 161, length: 4 }], [[BigInt(T0 - 1000), 4000]])).toEqual([[T0 - 5000, T0 - 1000, 0]]);
    expect(ipfixTimes([{ id: 150, length: 4 }, { id: 162, length: 4 }], [[SECS - 3, 2500]])).toEqual([[T0 - 3000, T0 - 3000 + 2.5, 0]]);
  });

  it('a start alone is also the end', () => {
    expect(ipfixTimes([{ id: 152, length: 8 }], [[BigInt(T0 - 42)]])).toEqual([[T0 - 42, T0 - 42, 0]]);
  });

  it('prefers the more precise field when several are present', () => {
    const f = [{ id: 150, length: 4 }, { id: 151, length: 4 }, { id: 152, length: 8 }, { id: 153, length: 8 }];
    expect(ipfixTimes(f, [[SECS - 60, SECS - 1, BigInt(T0 - 59_999), BigInt(T0 - 999)]])).toEqual([[T0 - 59_999, T0 - 999, 0]]);
  });
});

describe('time: fallback to the export time', () => {
  it('flags records without any time field, in NetFlow v9 and IPFIX', () => {
    expect(v9Times(50_000, [], [[]])).toEqual([[T0, T0, FlowFlag.TimeFromExport]]);
    expect(ipfixTimes([], [[]])).toEqual([[T0, T0, FlowFlag.TimeFromExport]]);
  });

  it('uses the header export time, not the receive time', () => {
    const { decoder, rows } = setup();
    decoder.decode(ipfixMessage({ exportTime: SECS - 30, sequence: 0, observationDomain: 1 }, sets([], [[]])), EXP, PORT, T0);
    const b = rows();
    expect([b.start[0], b.end[0], b.exportTime[0]]).toEqual([T0 - 30_000, T0 - 30_000, T0 - 30_000]);
  });
});
