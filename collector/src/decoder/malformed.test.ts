import { describe, expect, it } from 'vitest';
import { FlowBatch, FlowFlag, bytesOf } from './batch.js';
import { FlowDecoder, type DecoderOptions } from './decoder.js';
import { VARLEN } from './fields.js';
import type { DecodeErrorReason } from './stats.js';
import {
  collectRows,
  concatBytes,
  ipfixMessage,
  ipfixRaw,
  rawSet,
  TYPICAL_IPFIX_IPV4_FIELDS,
  TYPICAL_V9_IPV4_FIELDS,
  u16Bytes,
  u32Bytes,
  v5Message,
  v9Message,
  v9Raw,
  withU16,
  type FieldSpec,
  type FieldValue,
  type SetSpec,
} from './testing/message-builder.js';

const EXP = '192.0.2.1';
const PORT = 4739;
const SECS = 1_700_000_000;
const T0 = SECS * 1000;
const H = { exportTime: SECS, sequence: 0, observationDomain: 1 };
const H9 = { sysUptime: 100_000, unixSecs: SECS, sequence: 0, sourceId: 0 };

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

/** The set bytes of an IPFIX message built from specs (its header removed). */
const ipfixSets = (sets: SetSpec[]) => ipfixMessage(H, sets).subarray(16);
const v9Sets = (sets: SetSpec[]) => v9Message(H9, sets).subarray(20);

const F: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }];
const tmplF: SetSpec = { kind: 'template', templates: [{ id: 256, fields: F }] };
const dataF = (...bytes: number[]): SetSpec => ({ kind: 'data', templateId: 256, fields: F, records: bytes.map((b) => ['10.0.0.1', b]) });

// A template with one variable-length field in the middle.
const VF: FieldSpec[] = [{ id: 8, length: 4 }, { id: 82, length: VARLEN }, { id: 1, length: 4 }];
const tmplVF: SetSpec = { kind: 'template', templates: [{ id: 257, fields: VF }] };

interface Case {
  messages: () => Uint8Array[];
  records: number;
  errors: Partial<Record<DecodeErrorReason, number>>;
  options?: Partial<DecoderOptions>;
}

/**
 * Every reason the decoder declares, with a crafted input that produces it. The type makes
 * this table exhaustive: a new reason in stats.ts fails the type check until it gets a case.
 */
const CASES: { [R in DecodeErrorReason]: Case | { notProduced: string } } = {
  'short-message': {
    messages: () => [
      new Uint8Array([0]),
      v9Message(H9, []).subarray(0, 10),
      ipfixMessage(H, []).subarray(0, 12),
      v5Message({ sysUptime: 1, unixSecs: SECS, flowSequence: 0 }, []).subarray(0, 20),
    ],
    records: 0,
    errors: { 'short-message': 4 },
  },
  'unknown-version': {
    messages: () => [concatBytes(u16Bytes(3, 1), new Uint8Array(70)), concatBytes(u16Bytes(0x0a0b, 0), new Uint8Array(30))],
    records: 0,
    errors: { 'unknown-version': 2 },
  },
  'v5-bad-count': {
    messages: () => [v5Message({ sysUptime: 1, unixSecs: SECS, flowSequence: 0 }, [])],
    records: 0,
    errors: { 'v5-bad-count': 1 },
  },
  'v5-truncated': {
    messages: () => [v5Message({ sysUptime: 1, unixSecs: SECS, flowSequence: 0, count: 2 }, [{ src: '10.0.0.1', dst: '10.0.0.2', packets: 1, bytes: 1, first: 0, last: 0 }])],
    records: 1,
    errors: { 'v5-truncated': 1 },
  },
  'ipfix-length-mismatch': {
    messages: () => {
      const body = ipfixSets([tmplF, dataF(1)]);
      return [
        ipfixRaw(H, body, 8), // length below the header size: nothing can be trusted
        ipfixRaw(H, body, 16 + body.length + 10), // length past the datagram: what is there is decoded
      ];
    },
    records: 1,
    errors: { 'ipfix-length-mismatch': 2 },
  },
  'set-too-short': {
    // A zero-length set stops the walk (it cannot advance); the set before it is decoded.
    messages: () => [ipfixRaw(H, concatBytes(ipfixSets([tmplF, dataF(1)]), rawSet(256, new Uint8Array(0), 0), ipfixSets([dataF(2)])))],
    records: 1,
    errors: { 'set-too-short': 1 },
  },
  'set-past-end': {
    messages: () => [ipfixRaw(H, concatBytes(ipfixSets([tmplF, dataF(1), dataF(2)]), rawSet(256, new Uint8Array(8), 200)))],
    records: 2,
    errors: { 'set-past-end': 1 },
  },
  'reserved-set-id': {
    messages: () => [
      ipfixRaw(H, concatBytes(rawSet(5, new Uint8Array(4)), rawSet(0, new Uint8Array(4)), rawSet(1, new Uint8Array(4)), ipfixSets([tmplF, dataF(1)]))),
      v9Raw(H9, concatBytes(rawSet(2, new Uint8Array(4)), rawSet(255, new Uint8Array(4)), v9Sets([tmplF, dataF(2)]))),
    ],
    records: 2,
    errors: { 'reserved-set-id': 5 },
  },
  'template-truncated': {
    messages: () => [
      // Field count 5, two specifiers present.
      ipfixRaw(H, rawSet(2, u16Bytes(256, 5, 8, 4, 12, 4))),
      // Enterprise bit set, enterprise number missing.
      ipfixRaw(H, rawSet(2, u16Bytes(257, 1, 0x8000 | 1, 4))),
      // Options template header cut short.
      ipfixRaw(H, rawSet(3, u16Bytes(300, 2))),
      // v9 options template whose scope length is not a whole number of fields.
      v9Raw(H9, rawSet(1, u16Bytes(300, 6, 4, 1, 4, 34, 4, 0))),
      // Then data for 256: the template was never learnt.
      ipfixMessage(H, [dataF(1)]),
    ],
    records: 0,
    errors: { 'template-truncated': 4 },
  },
  'template-zero-fields': {
    // NetFlow v9 has no withdrawal: a template or options template of no fields is an error,
    // and the template after it in the same set is still learnt.
    messages: () => [
      v9Raw(H9, concatBytes(rawSet(0, concatBytes(u16Bytes(258, 0), u16Bytes(256, 2, 8, 4, 1, 4))), rawSet(1, u16Bytes(300, 0, 0)), v9Sets([dataF(1)]))),
    ],
    records: 1,
    errors: { 'template-zero-fields': 2 },
  },
  'template-field-length': {
    messages: () => [ipfixRaw(H, rawSet(2, u16Bytes(256, 2, 8, 0, 12, 0))), v9Raw(H9, rawSet(0, u16Bytes(256, 1, 8, 0)))],
    records: 0,
    errors: { 'template-field-length': 2 },
  },
  'template-record-too-long': {
    messages: () => [ipfixRaw(H, rawSet(2, u16Bytes(256, 2, 1, 40000, 2, 40000))), ipfixRaw(H, rawSet(2, u16Bytes(257, 2, 8, 4, 1, 65534)))],
    records: 0,
    errors: { 'template-record-too-long': 2 },
  },
  'template-scope-count': {
    messages: () => [
      ipfixRaw(H, rawSet(3, u16Bytes(300, 1, 0, 305, 4))), // scope count 0 (RFC 7011 3.4.2.2)
      ipfixRaw(H, rawSet(3, u16Bytes(301, 1, 2, 302, 4))), // more scope fields than fields
    ],
    records: 0,
    errors: { 'template-scope-count': 2 },
  },
  'template-id-invalid': {
    messages: () => [
      ipfixRaw(H, concatBytes(rawSet(2, concatBytes(u16Bytes(100, 1, 8, 4), u16Bytes(256, 2, 8, 4, 1, 4))), ipfixSets([dataF(7)]))),
      v9Raw(H9, rawSet(1, u16Bytes(5, 4, 4, 1, 4, 34, 4))),
    ],
    records: 1,
    errors: { 'template-id-invalid': 2 },
  },
  'record-truncated': {
    // The second record's variable-length field claims 50 bytes; 5 remain in the set.
    // The data set after it is still decoded.
    messages: () => {
      const good = concatBytes(new Uint8Array([10, 0, 0, 1]), new Uint8Array([3, 0x61, 0x62, 0x63]), u32Bytes(100));
      const bad = concatBytes(new Uint8Array([10, 0, 0, 2]), new Uint8Array([50]), new Uint8Array(5));
      return [ipfixRaw(H, concatBytes(ipfixSets([tmplVF, tmplF]), rawSet(257, concatBytes(good, bad)), ipfixSets([dataF(200)])))];
    },
    records: 2,
    errors: { 'record-truncated': 1 },
  },
  'options-record-truncated': {
    messages: () => {
      const scope: FieldSpec[] = [{ id: 302, length: 4 }];
      const fields: FieldSpec[] = [{ id: 84, length: VARLEN }, { id: 305, length: 4 }];
      const body = concatBytes(u32Bytes(1), new Uint8Array([100, 0x61, 0x62]), u32Bytes(64));
      return [ipfixRaw(H, concatBytes(ipfixSets([{ kind: 'options-template', templates: [{ id: 300, scopeFields: scope, fields }] }]), rawSet(300, body)))];
    },
    records: 0,
    errors: { 'options-record-truncated': 1 },
  },
  'internal-error': {
    // Only a bug can cause it; a consumer that throws is one way to see it counted, not thrown.
    // (The consumer threw while the records were being decoded, so none is counted as emitted.)
    messages: () => [ipfixMessage(H, [tmplF, dataF(1, 2, 3)])],
    records: 0,
    errors: { 'internal-error': 1 },
    options: {
      batchSize: 2,
      onBatch: () => {
        throw new Error('consumer failed');
      },
    },
  },
};

describe('malformed input: every DecodeErrorReason', () => {
  for (const [reason, c] of Object.entries(CASES) as [DecodeErrorReason, Case | { notProduced: string }][]) {
    if ('notProduced' in c) {
      it.skip(`${reason}: not produced (${c.notProduced})`, () => {});
      continue;
    }
    it(`${reason}: counted per exporter, decode() does not throw, the rest is decoded`, () => {
      const all = new FlowBatch(4096);
      const decoder = new FlowDecoder({ onBatch: collectRows(all), ...c.options });
      for (const m of c.messages()) expect(() => decoder.decode(m, EXP, PORT, T0)).not.toThrow();
      const s = decoder.stats()[0];
      expect(s.errors).toEqual(c.errors);
      expect(s.records).toBe(c.records);
      if (reason === 'internal-error') expect((decoder.lastInternalError as Error).message).toBe('consumer failed');
      else expect(decoder.lastInternalError).toBeNull();
    });
  }
});

describe('malformed input: details', () => {
  it('stops at a set whose length points past the end, after decoding the sets before it', () => {
    const { decoder, rows, stats } = setup();
    const msg = ipfixRaw(H, concatBytes(ipfixSets([tmplF, dataF(1, 2), dataF(3)]), rawSet(256, u32Bytes(0x0a000001, 99), 64), ipfixSets([dataF(4)])));
    expect(decoder.decode(msg, EXP, PORT, T0)).toBe(3);
    const b = rows();
    expect(Array.from({ length: b.length }, (_, i) => bytesOf(b, i))).toEqual([1n, 2n, 3n]);
    expect(stats().errors).toEqual({ 'set-past-end': 1 });
  });

  it('a variable-length field running past the end of the message is a truncated record, not a record', () => {
    // Two variable-length fields: the first claims 200 bytes in the last set of the message,
    // so the second one's length byte would be read beyond the datagram.
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 82, length: VARLEN }, { id: 83, length: VARLEN }, { id: 1, length: 4 }];
    const { decoder, rows, stats } = setup();
    decoder.decode(ipfixMessage(H, [{ kind: 'template', templates: [{ id: 260, fields }] }]), EXP, PORT, T0);
    const body = concatBytes(new Uint8Array([10, 0, 0, 1]), new Uint8Array([200]), new Uint8Array(5));
    const n = decoder.decode(ipfixRaw(H, rawSet(260, body)), EXP, PORT, T0);
    expect({ n, rows: rows().length, errors: stats().errors, records: stats().records }).toEqual({ n: 0, rows: 0, errors: { 'record-truncated': 1 }, records: 0 });
  });

  it('the same overrun in data held for its template is a truncated record too', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 82, length: VARLEN }, { id: 83, length: VARLEN }, { id: 1, length: 4 }];
    const { decoder, rows, stats } = setup();
    const body = concatBytes(new Uint8Array([10, 0, 0, 1]), new Uint8Array([2, 0x61, 0x62]), new Uint8Array([1, 0x63]), u32Bytes(5), new Uint8Array([10, 0, 0, 2]), new Uint8Array([9]), new Uint8Array(5));
    decoder.decode(ipfixRaw(H, concatBytes(rawSet(260, body), ipfixSets([tmplF, dataF(1)]))), EXP, PORT, T0);
    decoder.decode(ipfixMessage(H, [{ kind: 'template', templates: [{ id: 260, fields }] }]), EXP, PORT, T0);
    const b = rows();
    expect({ bytes: Array.from({ length: b.length }, (_, i) => bytesOf(b, i)), errors: stats().errors }).toEqual({ bytes: [1n, 5n], errors: { 'record-truncated': 1 } });
  });

  it('skips an IANA counter with an impossible length by its length instead of misreading it', () => {
    const fields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 16 }, { id: 2, length: 4 }];
    const { decoder, rows, stats } = setup();
    decoder.decode(ipfixMessage(H, [
      { kind: 'template', templates: [{ id: 256, fields }] },
      { kind: 'data', templateId: 256, fields, records: [['10.0.0.1', new Uint8Array(16).fill(0xff), 9]] },
    ]), EXP, PORT, T0);
    const b = rows();
    expect(bytesOf(b, 0)).toBe(0n);
    expect(b.packetsLo[0]).toBe(9);
    expect(stats().errors).toEqual({});
  });

  it('counts errors under the exporter that sent them', () => {
    const { decoder } = setup();
    decoder.decode(new Uint8Array([0, 3, 0, 0]), '192.0.2.9', 9999, T0);
    decoder.decode(ipfixMessage(H, [tmplF, dataF(1)]), EXP, PORT, T0);
    const [bad, good] = decoder.stats();
    expect(bad).toMatchObject({ exporter: '192.0.2.9:9999', messages: 1, records: 0, errors: { 'unknown-version': 1 } });
    expect(good).toMatchObject({ exporter: `${EXP}:${PORT}`, messages: 1, records: 1, errors: {} });
  });

  it('never throws on any truncation of valid messages, and never counts an internal error', () => {
    const bi: FieldSpec[] = [...TYPICAL_IPFIX_IPV4_FIELDS, { id: 1, length: 8, pen: 29305 }, { id: 82, length: VARLEN }];
    const biRec: FieldValue[] = ['10.0.0.1', '10.0.0.2', '10.0.0.3', 1, 2, 6, 0, 0, 1, 2, 100n, 1n, 1, 2, 8, 8, BigInt(T0), BigInt(T0), 5n, new Uint8Array(300)];
    const v9Rec: FieldValue[] = ['10.1.1.1', '10.2.2.2', '10.3.3.3', 1, 2, 6, 0, 0, 1, 2, 5n, 1n, 50, 60, 1, 2, 24, 24];
    const samples = [
      ipfixMessage(H, [
        { kind: 'template', templates: [{ id: 256, fields: bi }], padding: 2 },
        { kind: 'options-template', templates: [{ id: 300, scopeFields: [{ id: 302, length: 4 }], fields: [{ id: 84, length: VARLEN }, { id: 305, length: 4 }] }] },
        { kind: 'data', templateId: 300, fields: [{ id: 302, length: 4 }, { id: 84, length: VARLEN }, { id: 305, length: 4 }], records: [[1, new Uint8Array(3), 10]] },
        { kind: 'data', templateId: 256, fields: bi, records: [biRec, biRec], padding: 3 },
        { kind: 'withdraw', templateIds: [256] },
      ]),
      v9Message(H9, [
        { kind: 'template', templates: [{ id: 256, fields: TYPICAL_V9_IPV4_FIELDS }] },
        { kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records: [v9Rec, v9Rec] },
      ]),
      v5Message({ sysUptime: 1, unixSecs: SECS, flowSequence: 0 }, [{ src: '10.0.0.1', dst: '10.0.0.2', packets: 1, bytes: 1, first: 0, last: 0 }]),
    ];
    const { decoder } = setup({ batchSize: 3, pendingMaxSets: 4 });
    let messages = 0;
    for (const full of samples) {
      for (let len = 0; len <= full.length; len++) {
        // Each truncation as it is, and with its length fields claiming the full size.
        for (const m of [full.subarray(0, len), full[0] === 0 && full[1] === 10 && len >= 4 ? withU16(full.subarray(0, len), 2, full.length) : full.subarray(0, len)]) {
          expect(() => decoder.decode(m, EXP, PORT + (messages % 3), T0 + messages)).not.toThrow();
          messages++;
        }
      }
    }
    decoder.flush();
    expect(decoder.lastInternalError).toBeNull();
    for (const s of decoder.stats()) expect(s.errors['internal-error']).toBeUndefined();
  });

  it('FlowFlag values are distinct bits', () => {
    const values = Object.values(FlowFlag);
    expect(values.reduce((a, b) => a | b, 0)).toBe(63);
    expect(new Set(values).size).toBe(values.length);
  });
});
