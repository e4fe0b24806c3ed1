import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf, dstAddrString, nextHopString, packetsOf, srcAddrString } from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { collectRows, concatBytes, TYPICAL_V9_IPV4_FIELDS, v9Message, type FieldSpec, type FieldValue } from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 2055;
const SECS = 1_700_000_000;
const T0 = SECS * 1000;
const UP = 3_600_000;

function setup(options: Partial<DecoderOptions> = {}) {
  const all = new FlowBatch(4096);
  const sizes: number[] = [];
  const decoder = new FlowDecoder({ ...options, onBatch: collectRows(all, sizes) });
  const rows = () => {
    decoder.flush();
    return all;
  };
  const stats = () => decoder.stats()[0];
  return { decoder, all, sizes, rows, stats };
}

const typicalRecord: FieldValue[] = [
  '10.1.1.1', '10.2.2.2', '10.3.3.3', 1234, 80, 6, 0x28, 0x12, 11, 12, 5000n, 7n, UP - 100_000, UP - 10_000, 64500, 13335, 24, 16,
];

describe('NetFlow v9', () => {
  it('decodes a typical router template and its data in the same message', () => {
    const { decoder, rows, stats } = setup();
    const msg = v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
      { kind: 'template', templates: [{ id: 256, fields: TYPICAL_V9_IPV4_FIELDS }] },
      { kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records: [typicalRecord] },
    ]);
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(1);
    const b = rows();
    expect(b.length).toBe(1);
    expect(b.version[0]).toBe(9);
    expect(b.observationDomain[0]).toBe(0);
    expect(b.ipVersion[0]).toBe(4);
    expect(srcAddrString(b, 0)).toBe('10.1.1.1');
    expect(dstAddrString(b, 0)).toBe('10.2.2.2');
    expect(nextHopString(b, 0)).toBe('10.3.3.3');
    expect([b.srcPort[0], b.dstPort[0], b.protocol[0], b.tos[0], b.tcpFlags[0]]).toEqual([1234, 80, 6, 0x28, 0x12]);
    expect([b.inputIf[0], b.outputIf[0], b.srcAs[0], b.dstAs[0], b.srcMask[0], b.dstMask[0]]).toEqual([11, 12, 64500, 13335, 24, 16]);
    expect(bytesOf(b, 0)).toBe(5000n);
    expect(packetsOf(b, 0)).toBe(7n);
    expect(b.start[0]).toBe(T0 - 100_000);
    expect(b.end[0]).toBe(T0 - 10_000);
    expect(b.exportTime[0]).toBe(T0);
    expect(b.samplingRate[0]).toBe(1);
    expect(b.direction[0]).toBe(255);
    expect(b.icmpTypeCode[0]).toBe(0);
    expect(b.flags[0]).toBe(0);
    expect(stats()).toMatchObject({ messages: 1, records: 1, templates: 1, optionsTemplates: 0, missingTemplateSets: 0, errors: {} });
  });

  it('keeps the template for later messages', () => {
    const { decoder, rows, stats } = setup();
    decoder.decode(v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [{ kind: 'template', templates: [{ id: 256, fields: TYPICAL_V9_IPV4_FIELDS }] }]), EXP, PORT, T0);
    const data = (seq: number, records: FieldValue[][]) =>
      v9Message({ sysUptime: UP + seq * 1000, unixSecs: SECS + seq, sequence: seq, sourceId: 0 }, [{ kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records }]);
    expect(decoder.decode(data(2, [typicalRecord, typicalRecord]), EXP, PORT, T0 + 1000)).toBe(2);
    expect(decoder.decode(data(3, [typicalRecord]), EXP, PORT, T0 + 2000)).toBe(1);
    const b = rows();
    expect(b.length).toBe(3);
    // The data message's own header is the time reference: uptime 3 s later, export time 3 s later.
    expect(b.start[2]).toBe(T0 + 3000 - (UP + 3000 - (UP - 100_000)));
    expect(stats()).toMatchObject({ messages: 3, records: 3, templates: 1, sequenceLost: 0, errors: {} });
  });

  it('does not trust the header count', () => {
    const { decoder, stats } = setup();
    const msg = v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0, count: 99 }, [
      { kind: 'template', templates: [{ id: 256, fields: TYPICAL_V9_IPV4_FIELDS }] },
      { kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records: [typicalRecord, typicalRecord] },
    ]);
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(2);
    const zero = v9Message({ sysUptime: UP + 1, unixSecs: SECS, sequence: 2, sourceId: 0, count: 0 }, [
      { kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records: [typicalRecord] },
    ]);
    expect(decoder.decode(zero, EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ records: 3, errors: {} });
  });

  it('decodes IPv6 records with next hop and prefix lengths', () => {
    const fields: FieldSpec[] = [
      { id: 27, length: 16 }, { id: 28, length: 16 }, { id: 62, length: 16 }, { id: 29, length: 1 }, { id: 30, length: 1 },
      { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 }, { id: 1, length: 4 }, { id: 2, length: 4 },
    ];
    const { decoder, rows } = setup();
    decoder.decode(v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
      { kind: 'template', templates: [{ id: 300, fields }] },
      { kind: 'data', templateId: 300, fields, records: [['2001:db8::1', '2001:db8:0:1::2', 'fe80::1', 48, 64, 443, 51000, 6, 900, 3]] },
    ]), EXP, PORT, T0);
    const b = rows();
    expect(b.ipVersion[0]).toBe(6);
    expect(srcAddrString(b, 0)).toBe('2001:db8::1');
    expect(dstAddrString(b, 0)).toBe('2001:db8:0:1::2');
    expect(nextHopString(b, 0)).toBe('fe80::1');
    expect(b.srcAddr4[0]).toBe(0);
    expect([b.srcMask[0], b.dstMask[0], b.srcPort[0], b.dstPort[0], b.protocol[0]]).toEqual([48, 64, 443, 51000, 6]);
    expect(bytesOf(b, 0)).toBe(900n);
    expect(packetsOf(b, 0)).toBe(3n);
    // No time fields: export time, flagged.
    expect(b.start[0]).toBe(T0);
    expect(b.flags[0]).toBe(FlowFlag.TimeFromExport);
  });

  it('takes the ICMP type and code from the destination port (Cisco) when no ICMP field is present', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 4, length: 1 }, { id: 11, length: 2 }, { id: 1, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
      { kind: 'template', templates: [{ id: 256, fields }] },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.1', '10.0.0.2', 1, 0x0800, 84], ['10.0.0.1', '10.0.0.2', 17, 0x0800, 84]] },
    ]), EXP, PORT, T0);
    const b = rows();
    expect(b.icmpTypeCode[0]).toBe(0x0800);
    expect(b.icmpTypeCode[1]).toBe(0);
  });

  it('uses the BGP next hop when there is no IP next hop, and reads flowDirection', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 18, length: 4 }, { id: 61, length: 1 }, { id: 1, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
      { kind: 'template', templates: [{ id: 256, fields }] },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.1', '10.0.0.2', '198.51.100.1', 1, 10]] },
    ]), EXP, PORT, T0);
    const b = rows();
    expect(nextHopString(b, 0)).toBe('198.51.100.1');
    expect(b.direction[0]).toBe(1);
  });

  it('reads 4-byte counters', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 2, length: 4 }];
    const { decoder, rows } = setup();
    decoder.decode(v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
      { kind: 'template', templates: [{ id: 256, fields }] },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.1', 0xffffffff, 0x80000001]] },
    ]), EXP, PORT, T0);
    const b = rows();
    expect(bytesOf(b, 0)).toBe(4294967295n);
    expect(packetsOf(b, 0)).toBe(2147483649n);
    expect(b.bytesHi[0]).toBe(0);
  });

  it('ignores data set padding', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 4, length: 1 }];
    const { decoder, rows, stats } = setup();
    decoder.decode(v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
      { kind: 'template', templates: [{ id: 256, fields }] },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.1', 1, 6], ['10.0.0.2', 2, 17]], padding: 2 },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.3', 3, 6]], padding: 3 },
    ]), EXP, PORT, T0);
    const b = rows();
    expect(Array.from({ length: b.length }, (_, i) => bytesOf(b, i))).toEqual([1n, 2n, 3n]);
    expect(stats()).toMatchObject({ records: 3, trailingBytes: 0, errors: {} });
  });

  it('counts fewer than 4 bytes after the last set as trailing bytes', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }];
    const { decoder, stats } = setup();
    const msg = concatBytes(
      v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
        { kind: 'template', templates: [{ id: 256, fields }] },
        { kind: 'data', templateId: 256, fields, records: [['10.0.0.1', 1]] },
      ]),
      new Uint8Array(3),
    );
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(1);
    expect(stats()).toMatchObject({ trailingBytes: 3, errors: {} });
  });

  it('counts options templates and options records apart from flow records', () => {
    const { decoder, stats } = setup();
    const scope: FieldSpec[] = [{ id: 1, length: 4 }];
    const opt: FieldSpec[] = [{ id: 48, length: 1 }, { id: 49, length: 1 }, { id: 50, length: 4 }];
    const n = decoder.decode(v9Message({ sysUptime: UP, unixSecs: SECS, sequence: 1, sourceId: 0 }, [
      { kind: 'options-template', templates: [{ id: 257, scopeFields: scope, fields: opt }], padding: 2 },
      { kind: 'data', templateId: 257, fields: [...scope, ...opt], records: [[0, 1, 2, 100], [0, 2, 2, 1000]], padding: 0 },
    ]), EXP, PORT, T0);
    expect(n).toBe(0);
    expect(stats()).toMatchObject({ records: 0, optionsRecords: 2, optionsTemplates: 1, templates: 0, errors: {} });
  });
});
