/**
 * Decoder fuzzing, shared by the in-suite test (decoder/fuzz.test.ts, a few seconds) and the
 * long run (bench/src/fuzz-decoder.ts, millions of messages):
 *
 * - seed corpora: builder-made messages (v5, v9, IPFIX with options, var-len, biflow,
 *   enterprise fields, withdrawals...) and the real captures under /work/shared/conformance;
 * - structure-aware mutations: bit flips, boundary values, truncation, extension, splicing,
 *   and corruption of exactly the fields decoders trip on (set ids and lengths, header
 *   lengths and counts, template ids, field counts, field ids and lengths);
 * - a driver that feeds one FlowDecoder from several fake exporters (templates are learned
 *   from clean messages and garbage is decoded with them), with a fake clock and periodic
 *   expiry, and reports every exception that escapes and every 'internal-error', with the
 *   offending message and a minimised reproduction.
 *
 * Test code: it reads files (the conformance loader) and must not be imported by the decoder.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import { readPcapFile } from '../../pcap/index.js';
import type { FlowBatch } from '../batch.js';
import { FlowDecoder, type DecoderOptions } from '../decoder.js';
import { totalStats, type ExporterStats } from '../stats.js';
import {
  ipfixMessage,
  randomV9Records,
  seededRandom,
  TYPICAL_IPFIX_IPV4_FIELDS,
  TYPICAL_V9_IPV4_FIELDS,
  v5Message,
  v9Message,
  type FieldSpec,
  type FieldValue,
  type V5Record,
} from './message-builder.js';

export type Rand = () => number;

/** Where the shared conformance corpus lives (override with FLOWBILL_CONFORMANCE_DIR). */
export const DEFAULT_CONFORMANCE_DIR = process.env.FLOWBILL_CONFORMANCE_DIR ?? '/work/shared/conformance';

// ---------------------------------------------------------------------------------
// Small helpers

function int(rand: Rand, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

function pick<T>(rand: Rand, xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)];
}

function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

function put16(b: Uint8Array, p: number, v: number): void {
  if (p + 1 >= b.length || p < 0) return;
  b[p] = (v >>> 8) & 255;
  b[p + 1] = v & 255;
}

function put32(b: Uint8Array, p: number, v: number): void {
  if (p + 3 >= b.length || p < 0) return;
  b[p] = (v >>> 24) & 255;
  b[p + 1] = (v >>> 16) & 255;
  b[p + 2] = (v >>> 8) & 255;
  b[p + 3] = v & 255;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/[^0-9a-fA-F]/g, '');
  return Uint8Array.from(Buffer.from(clean.length % 2 ? clean.slice(0, -1) : clean, 'hex'));
}

// ---------------------------------------------------------------------------------
// Message structure (best effort: the input may already be garbage)

export interface SetRef {
  /** Offset of the set header. */
  offset: number;
  id: number;
  /** Length as written in the header. */
  length: number;
}

export interface TemplateRefs {
  /** Offsets of template ids. */
  templateIds: number[];
  /** Offsets of field counts (IPFIX / v9 data templates) and v9 options scope/option lengths. */
  counts: number[];
  /** Offsets of field specifier ids and lengths. */
  fieldIds: number[];
  fieldLengths: number[];
}

function headerLength(version: number): number {
  return version === 9 ? 20 : version === 10 ? 16 : version === 5 || version === 7 ? 24 : version === 1 ? 16 : 0;
}

/** The sets of a v9 / IPFIX message, walked by their lengths; stops at the first bad length. */
export function walkSets(msg: Uint8Array): SetRef[] {
  const version = msg.length >= 2 ? u16(msg, 0) : 0;
  if (version !== 9 && version !== 10) return [];
  const sets: SetRef[] = [];
  let p = headerLength(version);
  while (p + 4 <= msg.length) {
    const id = u16(msg, p);
    const length = u16(msg, p + 2);
    sets.push({ offset: p, id, length });
    if (length < 4) break;
    p += length;
  }
  return sets;
}

/** Offsets of template ids, counts and field specifiers in the template sets of a message. */
export function templateRefs(msg: Uint8Array): TemplateRefs {
  const refs: TemplateRefs = { templateIds: [], counts: [], fieldIds: [], fieldLengths: [] };
  const version = msg.length >= 2 ? u16(msg, 0) : 0;
  const ipfix = version === 10;
  for (const s of walkSets(msg)) {
    const end = Math.min(msg.length, s.offset + Math.max(s.length, 4));
    let p = s.offset + 4;
    const isTemplate = ipfix ? s.id === 2 : s.id === 0;
    const isOptions = ipfix ? s.id === 3 : s.id === 1;
    if (!isTemplate && !isOptions) continue;
    while (p + 4 <= end) {
      refs.templateIds.push(p);
      let fields: number;
      if (isOptions && !ipfix) {
        if (p + 6 > end) break;
        refs.counts.push(p + 2, p + 4);
        fields = Math.floor((u16(msg, p + 2) + u16(msg, p + 4)) / 4);
        p += 6;
      } else if (isOptions) {
        if (p + 6 > end) break;
        refs.counts.push(p + 2, p + 4);
        fields = u16(msg, p + 2);
        p += 6;
      } else {
        refs.counts.push(p + 2);
        fields = u16(msg, p + 2);
        p += 4;
      }
      for (let k = 0; k < fields && p + 4 <= end; k++) {
        refs.fieldIds.push(p);
        refs.fieldLengths.push(p + 2);
        const enterprise = ipfix && (msg[p] & 0x80) !== 0;
        p += enterprise ? 8 : 4;
      }
    }
  }
  return refs;
}

// ---------------------------------------------------------------------------------
// Mutations

export const MUTATIONS = [
  'bit-flip',
  'boundary-byte',
  'boundary-u16',
  'boundary-u32',
  'random-bytes',
  'truncate',
  'extend',
  'splice',
  'splice-set',
  'duplicate-set',
  'header-length-count',
  'header-version',
  'header-time-sequence',
  'set-length',
  'set-id',
  'template-id',
  'template-field-count',
  'template-field-id',
  'template-field-length',
] as const;
export type MutationName = (typeof MUTATIONS)[number];

const BYTE_VALUES = [0, 1, 0x7f, 0x80, 0xfe, 0xff];
const U32_VALUES = [0, 1, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
/** Field lengths that break decoders: zero, odd, beyond a counter, var-len, huge. */
const FIELD_LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 255, 256, 0x7fff, 0x8000, 0xfff0, 0xfffb, 0xfffe, 0xffff];
/** Field ids the decoder gives meaning to (and neighbours), plus the enterprise bit. */
const FIELD_IDS = [
  0, 1, 2, 4, 7, 8, 11, 12, 15, 21, 22, 23, 24, 27, 28, 32, 34, 48, 50, 61, 62, 85, 86, 139, 150, 151, 152, 153, 154, 155, 156, 157, 158, 159,
  160, 161, 162, 176, 177, 225, 226, 227, 228, 231, 232, 252, 253, 298, 299, 302, 305, 306, 309, 310, 315, 0x7fff, 0x8001, 0x8002, 0x80e7, 0xffff,
];

function u16Values(msg: Uint8Array, at: number): number[] {
  const n = msg.length;
  return [0, 1, 2, 3, 4, 5, 0x7fff, 0x8000, 0xfffe, 0xffff, n, n - 1, n + 1, n - at, n - at + 1, n - at - 1, u16(msg, at) + 1, u16(msg, at) - 1];
}

/** Positions near the start are where headers live: bias towards them half of the time. */
function position(rand: Rand, len: number): number {
  if (len === 0) return 0;
  return rand() < 0.5 ? Math.floor(rand() * Math.min(len, 64)) : Math.floor(rand() * len);
}

/**
 * Apply one named mutation. Never modifies `msg` or the donors; returns a new array.
 * `donors` are other messages to splice from.
 */
export function applyMutation(name: MutationName, rand: Rand, msg: Uint8Array, donors: readonly Uint8Array[]): Uint8Array {
  const out = msg.slice();
  const len = out.length;
  const donor = () => (donors.length > 0 ? pick(rand, donors) : msg);
  switch (name) {
    case 'bit-flip': {
      if (len === 0) return out;
      const n = int(rand, 1, 8);
      for (let k = 0; k < n; k++) {
        const p = position(rand, len);
        out[p] ^= 1 << int(rand, 0, 7);
      }
      return out;
    }
    case 'boundary-byte': {
      if (len === 0) return out;
      out[position(rand, len)] = pick(rand, BYTE_VALUES);
      return out;
    }
    case 'boundary-u16': {
      if (len < 2) return out;
      const p = position(rand, len - 1);
      put16(out, p, pick(rand, u16Values(out, p)) & 0xffff);
      return out;
    }
    case 'boundary-u32': {
      if (len < 4) return out;
      put32(out, position(rand, len - 3), pick(rand, U32_VALUES));
      return out;
    }
    case 'random-bytes': {
      if (len === 0) return out;
      const p = position(rand, len);
      const n = int(rand, 1, 16);
      for (let k = p; k < Math.min(len, p + n); k++) out[k] = int(rand, 0, 255);
      return out;
    }
    case 'truncate': {
      const cuts = [0, 1, 2, 3, 4, 15, 16, 17, 19, 20, 21, 23, 24, 25, len - 1, len - 2, len - 3, len - 4];
      for (const s of walkSets(out)) cuts.push(s.offset, s.offset + 1, s.offset + 3, s.offset + 4, s.offset + 5, s.offset + s.length - 1);
      const cut = rand() < 0.5 ? pick(rand, cuts) : int(rand, 0, len);
      return out.subarray(0, Math.max(0, Math.min(len, cut))).slice();
    }
    case 'extend': {
      const kind = int(rand, 0, 4);
      if (kind === 0) return concat(out, new Uint8Array(int(rand, 1, 64))); // zero padding
      if (kind === 1) return concat(out, new Uint8Array(int(rand, 1, 64)).fill(0xff));
      if (kind === 2) return concat(out, Uint8Array.from({ length: int(rand, 1, 64) }, () => int(rand, 0, 255)));
      if (kind === 3) return concat(out, out.subarray(Math.min(len, headerLength(u16(out, 0)) || 0))); // the body again
      // Past the 16-bit length fields: up to 65535 bytes.
      const target = Math.min(65535, len + int(rand, 1, 65535));
      const big = new Uint8Array(target);
      for (let at = 0; at < target; at += Math.max(1, len)) big.set(out.subarray(0, Math.min(len, target - at)), at);
      return big;
    }
    case 'splice': {
      const other = donor();
      const a = int(rand, 0, len);
      const b = int(rand, 0, other.length);
      return concat(out.subarray(0, a), other.subarray(b));
    }
    case 'splice-set': {
      // Insert a whole set of another message at a set boundary of this one (templates of
      // one exporter's version inside another's message, v9 sets in IPFIX, ...).
      const other = donor();
      const theirs = walkSets(other).filter((s) => s.length >= 4 && s.offset + s.length <= other.length);
      if (theirs.length === 0) return out;
      const s = pick(rand, theirs);
      const mine = walkSets(out);
      const at = mine.length > 0 ? pick(rand, [...mine.map((m) => m.offset), len]) : Math.min(len, headerLength(u16(out, 0)) || len);
      const spliced = concat(out.subarray(0, at), other.subarray(s.offset, s.offset + s.length), out.subarray(at));
      if (u16(spliced, 0) === 10 && rand() < 0.7) put16(spliced, 2, Math.min(0xffff, spliced.length));
      return spliced;
    }
    case 'duplicate-set': {
      const sets = walkSets(out).filter((s) => s.length >= 4 && s.offset + s.length <= len);
      if (sets.length === 0) return out;
      const s = pick(rand, sets);
      const copies = int(rand, 1, 4);
      const parts = [out.subarray(0, s.offset + s.length)];
      for (let k = 0; k < copies; k++) parts.push(out.subarray(s.offset, s.offset + s.length));
      parts.push(out.subarray(s.offset + s.length));
      const d = concat(...parts);
      if (u16(d, 0) === 10) put16(d, 2, Math.min(0xffff, d.length));
      return d;
    }
    case 'header-length-count': {
      // IPFIX: message length; v9: count; v5/v1/v7: record count.
      if (len < 4) return out;
      const values = [...u16Values(out, 0), 29, 30, 31, 24, 16, 20];
      put16(out, 2, pick(rand, values) & 0xffff);
      return out;
    }
    case 'header-version': {
      if (len < 2) return out;
      put16(out, 0, pick(rand, [0, 1, 5, 7, 8, 9, 10, 11, 0xffff]));
      return out;
    }
    case 'header-time-sequence': {
      // Uptime / export time / sequence / source id: restarts, wraps, NaN-producing times.
      const version = len >= 2 ? u16(out, 0) : 0;
      const offsets = version === 9 ? [4, 8, 12, 16] : version === 10 ? [4, 8, 12] : [4, 8, 12, 16];
      const v = rand() < 0.7 ? pick(rand, U32_VALUES) : int(rand, 0, 0xffffffff);
      put32(out, pick(rand, offsets), v);
      return out;
    }
    case 'set-length': {
      const sets = walkSets(out);
      if (sets.length === 0) return out;
      const s = pick(rand, sets);
      const remaining = len - s.offset;
      put16(out, s.offset + 2, pick(rand, [0, 1, 2, 3, 4, 5, 6, 7, s.length - 1, s.length + 1, s.length + 4, remaining, remaining + 1, remaining - 1, 0xffff, int(rand, 0, 0xffff)]) & 0xffff);
      return out;
    }
    case 'set-id': {
      const sets = walkSets(out);
      if (sets.length === 0) return out;
      const s = pick(rand, sets);
      const others = sets.map((x) => x.id);
      put16(out, s.offset, pick(rand, [0, 1, 2, 3, 4, 255, 256, 257, 258, 0xffff, pick(rand, others), int(rand, 0, 0xffff)]));
      return out;
    }
    case 'template-id': {
      const refs = templateRefs(out);
      if (refs.templateIds.length === 0) return applyMutation('set-id', rand, msg, donors);
      const p = pick(rand, refs.templateIds);
      put16(out, p, pick(rand, [0, 1, 2, 3, 255, 256, 257, 0xffff, u16(out, pick(rand, refs.templateIds))]));
      return out;
    }
    case 'template-field-count': {
      const refs = templateRefs(out);
      if (refs.counts.length === 0) return applyMutation('set-length', rand, msg, donors);
      const p = pick(rand, refs.counts);
      const c = u16(out, p);
      put16(out, p, pick(rand, [0, 1, 2, 3, 4, 5, c - 1, c + 1, c * 2, c - 4, c + 4, 0x7fff, 0xfffc, 0xffff]) & 0xffff);
      return out;
    }
    case 'template-field-id': {
      const refs = templateRefs(out);
      if (refs.fieldIds.length === 0) return applyMutation('boundary-u16', rand, msg, donors);
      const p = pick(rand, refs.fieldIds);
      put16(out, p, rand() < 0.2 ? u16(out, p) ^ 0x8000 : pick(rand, FIELD_IDS));
      return out;
    }
    case 'template-field-length': {
      const refs = templateRefs(out);
      if (refs.fieldLengths.length === 0) return applyMutation('boundary-u16', rand, msg, donors);
      const n = rand() < 0.8 ? 1 : int(rand, 2, 6);
      for (let k = 0; k < n; k++) put16(out, pick(rand, refs.fieldLengths), pick(rand, FIELD_LENGTHS));
      return out;
    }
  }
}

export interface Mutated {
  bytes: Uint8Array;
  ops: MutationName[];
}

/** Mutation weights: structure-aware ones are where the bugs are, so they get more draws. */
const WEIGHTED: MutationName[] = [
  ...MUTATIONS,
  'bit-flip',
  'boundary-u16',
  'truncate',
  'set-length',
  'set-id',
  'template-field-length',
  'template-field-length',
  'template-field-count',
  'template-field-id',
  'splice-set',
];

/** 1 to 4 stacked mutations of `msg`. */
export function mutate(rand: Rand, msg: Uint8Array, donors: readonly Uint8Array[]): Mutated {
  const n = rand() < 0.6 ? 1 : int(rand, 2, 4);
  let bytes = msg;
  const ops: MutationName[] = [];
  for (let k = 0; k < n; k++) {
    const op = pick(rand, WEIGHTED);
    bytes = applyMutation(op, rand, bytes, donors);
    ops.push(op);
  }
  return { bytes: bytes === msg ? msg.slice() : bytes, ops };
}

// ---------------------------------------------------------------------------------
// Seed corpora

export interface CorpusEntry {
  /** Where it came from: file (and frame), or builder case. */
  source: string;
  bytes: Uint8Array;
}

const T0 = 1_700_000_000;

/** Builder-made messages covering what the decoder understands; deterministic for a seed. */
export function builderCorpus(seed = 1): CorpusEntry[] {
  const rand = seededRandom(seed);
  const out: CorpusEntry[] = [];
  const add = (source: string, bytes: Uint8Array) => out.push({ source: `builder:${source}`, bytes });
  const up = 400_000_000;

  // NetFlow v5: one record, full message, sampled header.
  const v5rec = (): V5Record => ({
    src: `10.${int(rand, 0, 255)}.${int(rand, 0, 255)}.${int(rand, 1, 254)}`,
    dst: `192.0.2.${int(rand, 1, 254)}`,
    packets: int(rand, 1, 100),
    bytes: int(rand, 40, 150000),
    first: up - 20000,
    last: up - 1000,
    srcPort: int(rand, 0, 65535),
    dstPort: 443,
    protocol: pick(rand, [1, 6, 17]),
  });
  add('v5-1', v5Message({ sysUptime: up, unixSecs: T0, flowSequence: 0 }, [v5rec()]));
  add('v5-30-sampled', v5Message({ sysUptime: up, unixSecs: T0, flowSequence: 1, samplingInterval: 0x4000 | 100 }, Array.from({ length: 30 }, v5rec)));

  // NetFlow v9: typical template, data, both in one message, options with sampler rates.
  const v9h = (sequence: number, sourceId = 0) => ({ sysUptime: up + sequence * 1000, unixSecs: T0 + sequence, sequence, sourceId });
  const typical = { id: 256, fields: TYPICAL_V9_IPV4_FIELDS };
  add('v9-template', v9Message(v9h(0), [{ kind: 'template', templates: [typical] }]));
  add('v9-data', v9Message(v9h(1), [{ kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records: randomV9Records(rand, 20, up) }]));
  add('v9-data-padded', v9Message(v9h(2), [{ kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records: randomV9Records(rand, 3, up), padding: 3 }]));
  add('v9-data-before-template', v9Message(v9h(3), [
    { kind: 'data', templateId: 256, fields: TYPICAL_V9_IPV4_FIELDS, records: randomV9Records(rand, 2, up) },
    { kind: 'template', templates: [typical] },
  ]));
  const v6fields: FieldSpec[] = [
    { id: 27, length: 16 }, { id: 28, length: 16 }, { id: 62, length: 16 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
    { id: 1, length: 4 }, { id: 2, length: 4 }, { id: 22, length: 4 }, { id: 21, length: 4 }, { id: 48, length: 1 }, { id: 61, length: 1 },
  ];
  const v6rec = (): FieldValue[] => [`2001:db8::${int(rand, 1, 0xffff).toString(16)}`, `2001:db8:1::${int(rand, 1, 0xffff).toString(16)}`, 'fe80::1',
    int(rand, 0, 65535), int(rand, 0, 65535), pick(rand, [6, 17, 58]), int(rand, 40, 1e6), int(rand, 1, 1000), up - 9000, up - 100, int(rand, 1, 3), int(rand, 0, 1)];
  const samplerOpts: FieldSpec[] = [{ id: 48, length: 1 }, { id: 49, length: 1 }, { id: 50, length: 4 }];
  add('v9-ipv6-options-template', v9Message(v9h(4, 7), [
    { kind: 'options-template', templates: [{ id: 300, scopeFields: [{ id: 1, length: 4 }], fields: samplerOpts }] },
    { kind: 'template', templates: [{ id: 301, fields: v6fields }] },
  ]));
  add('v9-options-data', v9Message(v9h(5, 7), [{ kind: 'data', templateId: 300, fields: [{ id: 1, length: 4 }, ...samplerOpts], records: [[0, 1, 2, 1000], [0, 2, 2, 4000]] }]));
  add('v9-ipv6-data', v9Message(v9h(6, 7), [{ kind: 'data', templateId: 301, fields: v6fields, records: Array.from({ length: 8 }, v6rec) }]));
  // v9 options with a zero-length "System" scope (legal) and samplingInterval 34.
  const zeroScope: FieldSpec[] = [{ id: 34, length: 4 }, { id: 35, length: 1 }];
  add('v9-options-zero-scope', v9Message(v9h(7, 8), [
    { kind: 'options-template', templates: [{ id: 310, scopeFields: [{ id: 1, length: 0 }], fields: zeroScope }] },
    { kind: 'data', templateId: 310, fields: [{ id: 1, length: 0 }, ...zeroScope], records: [[new Uint8Array(0), 512, 2]] },
  ]));
  // NAT events: no counters.
  const natFields: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
    { id: 225, length: 4 }, { id: 226, length: 4 }, { id: 227, length: 2 }, { id: 228, length: 2 }, { id: 230, length: 1 }];
  add('v9-nat', v9Message(v9h(8, 200), [
    { kind: 'template', templates: [{ id: 260, fields: natFields }] },
    { kind: 'data', templateId: 260, fields: natFields, records: [['172.16.0.1', '10.0.0.1', 1234, 53, 17, '100.64.0.1', '10.0.0.1', 4321, 53, 1]] },
  ]));

  // IPFIX: typical, var-len, biflow, enterprise fields, options, withdrawals, all the time encodings.
  const ih = (sequence: number, observationDomain = 1) => ({ exportTime: T0 + sequence, sequence, observationDomain });
  const ipfixRec = (): FieldValue[] => {
    const r = randomV9Records(rand, 1, up)[0];
    return [...r.slice(0, 12), ...r.slice(14), BigInt(T0 * 1000 - 5000), BigInt(T0 * 1000 - 10)];
  };
  add('ipfix-template', ipfixMessage(ih(0), [{ kind: 'template', templates: [{ id: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS }] }]));
  add('ipfix-data', ipfixMessage(ih(1), [{ kind: 'data', templateId: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS, records: Array.from({ length: 20 }, ipfixRec) }]));
  add('ipfix-template-and-data', ipfixMessage(ih(2, 2), [
    { kind: 'template', templates: [{ id: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS }] },
    { kind: 'data', templateId: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS, records: Array.from({ length: 5 }, ipfixRec), padding: 2 },
  ]));
  const varlen: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 82, length: 65535 }, { id: 1, length: 8 }, { id: 315, length: 65535 }, { id: 2, length: 4 }];
  add('ipfix-varlen', ipfixMessage(ih(3, 3), [
    { kind: 'template', templates: [{ id: 400, fields: varlen }] },
    { kind: 'data', templateId: 400, fields: varlen, records: [
      ['10.1.1.1', '10.2.2.2', new TextEncoder().encode('Gi0/0/0'), 1500n, new Uint8Array(64).fill(0xab), 3],
      ['10.1.1.2', '10.2.2.3', new Uint8Array(0), 99n, new Uint8Array(300).fill(0xcd), 1],
    ] },
  ]));
  const REV = 29305;
  const biflow: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 7, length: 2 }, { id: 11, length: 2 }, { id: 4, length: 1 },
    { id: 1, length: 8 }, { id: 2, length: 8 }, { id: 1, length: 8, pen: REV }, { id: 2, length: 8, pen: REV }, { id: 152, length: 8 }, { id: 153, length: 8 }];
  add('ipfix-biflow', ipfixMessage(ih(4, 4), [
    { kind: 'template', templates: [{ id: 500, fields: biflow }] },
    { kind: 'data', templateId: 500, fields: biflow, records: [['10.10.1.4', '10.10.1.1', 56166, 53, 17, 62n, 1n, 128n, 1n, BigInt(T0 * 1000 - 10), BigInt(T0 * 1000)]] },
  ]));
  const enterprise: FieldSpec[] = [{ id: 8, length: 4 }, { id: 12, length: 4 }, { id: 1234, length: 4, pen: 2636 }, { id: 99, length: 65535, pen: 2011 }, { id: 1, length: 4 }, { id: 2, length: 4 }];
  add('ipfix-enterprise', ipfixMessage(ih(5, 5), [
    { kind: 'template', templates: [{ id: 501, fields: enterprise }] },
    { kind: 'data', templateId: 501, fields: enterprise, records: [['10.0.0.1', '10.0.0.2', 7, new TextEncoder().encode('vrf-red'), 1000, 2]] },
  ]));
  const sampOpts: FieldSpec[] = [{ id: 305, length: 4 }, { id: 306, length: 4 }, { id: 160, length: 8 }, { id: 309, length: 4 }, { id: 310, length: 4 }, { id: 302, length: 4 }];
  add('ipfix-options', ipfixMessage(ih(6, 6), [
    { kind: 'options-template', templates: [{ id: 600, scopeFields: [{ id: 149, length: 4 }], fields: sampOpts }] },
    { kind: 'data', templateId: 600, fields: [{ id: 149, length: 4 }, ...sampOpts], records: [[6, 1, 9, BigInt(T0 * 1000 - 86_400_000), 1, 100, 5], [6, 1, 0, 0n, 0, 0, 0]] },
  ]));
  const uptimeSel: FieldSpec[] = [{ id: 27, length: 16 }, { id: 28, length: 16 }, { id: 85, length: 8 }, { id: 86, length: 8 }, { id: 22, length: 4 }, { id: 21, length: 4 }, { id: 302, length: 4 }];
  add('ipfix-uptime-selector', ipfixMessage(ih(7, 6), [
    { kind: 'template', templates: [{ id: 601, fields: uptimeSel }] },
    { kind: 'data', templateId: 601, fields: uptimeSel, records: [['fd00::1', 'fd00::2', 89n, 1n, 1000, 2000, 5], ['fd00::3', 'fd00::4', 1n, 1n, 5, 6, 77]] },
  ]));
  const times: FieldSpec[] = [{ id: 8, length: 4 }, { id: 1, length: 4 }, { id: 150, length: 4 }, { id: 151, length: 4 }, { id: 154, length: 8 }, { id: 155, length: 8 },
    { id: 156, length: 8 }, { id: 157, length: 8 }, { id: 158, length: 4 }, { id: 159, length: 4 }, { id: 161, length: 4 }, { id: 162, length: 4 },
    { id: 32, length: 2 }, { id: 176, length: 1 }, { id: 177, length: 1 }, { id: 231, length: 4 }, { id: 232, length: 4 }, { id: 298, length: 4 }, { id: 299, length: 4 }];
  const ntp = (BigInt(T0 + 2208988800) << 32n) | 0x80000000n;
  add('ipfix-times', ipfixMessage(ih(8, 8), [
    { kind: 'template', templates: [{ id: 700, fields: times }] },
    { kind: 'data', templateId: 700, fields: times, records: [['10.9.9.9', 100, T0 - 5, T0, ntp, ntp, ntp, ntp, 5000, 10, 100, 1000, 0x0800, 8, 0, 60, 70, 1, 1]] },
  ]));
  add('ipfix-withdraw-one', ipfixMessage(ih(9), [{ kind: 'withdraw', templateIds: [256] }]));
  add('ipfix-withdraw-all', ipfixMessage(ih(10, 6), [{ kind: 'withdraw', templateIds: [2] }, { kind: 'withdraw', templateIds: [3], options: true }]));
  add('ipfix-data-again', ipfixMessage(ih(11), [{ kind: 'data', templateId: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS, records: Array.from({ length: 7 }, ipfixRec) }]));
  add('ipfix-two-templates-one-set', ipfixMessage(ih(12, 9), [
    { kind: 'template', templates: [{ id: 256, fields: TYPICAL_IPFIX_IPV4_FIELDS }, { id: 257, fields: varlen }] },
    { kind: 'raw', setId: 1, body: new Uint8Array([0, 0, 0, 0]) },
  ]));
  return out;
}

export interface ConformanceCorpus {
  dir: string;
  entries: CorpusEntry[];
  files: number;
  /** Files that could not be read (reported, not fatal). */
  problems: string[];
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(path);
  }
  return out;
}

/**
 * Every .hex file (each non-empty line is one message) and the UDP payload of every frame
 * of every .pcap file under `dir`. Null when the directory does not exist.
 */
export function loadConformanceCorpus(dir: string = DEFAULT_CONFORMANCE_DIR): ConformanceCorpus | null {
  if (!existsSync(dir)) return null;
  const entries: CorpusEntry[] = [];
  const problems: string[] = [];
  let files = 0;
  for (const path of filesUnder(dir)) {
    const name = relative(dir, path);
    try {
      if (path.endsWith('.hex')) {
        files++;
        const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
        lines.forEach((line, k) => entries.push({ source: lines.length > 1 ? `${name}#${k + 1}` : name, bytes: fromHex(line) }));
      } else if (path.endsWith('.pcap')) {
        files++;
        for (const d of readPcapFile(path).datagrams) entries.push({ source: `${name}#${d.frameNumber}`, bytes: d.payload.slice() });
      }
    } catch (err) {
      problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return { dir, entries, files, problems };
}

// ---------------------------------------------------------------------------------
// Driver

export interface FakeExporter {
  address: string;
  port: number;
}

/** Several exporters, IPv4 and IPv6, two sharing an address on different ports, one with an override. */
export const FAKE_EXPORTERS: readonly FakeExporter[] = [
  { address: '192.0.2.1', port: 2055 },
  { address: '192.0.2.1', port: 2056 },
  { address: '198.51.100.7', port: 9995 },
  { address: '2001:db8::1', port: 4739 },
  { address: '203.0.113.9', port: 2055 },
  { address: '10.255.0.1', port: 9996 },
];

export interface FuzzFailure {
  kind: 'exception' | 'internal-error';
  /** 0-based index of the message in the run. */
  index: number;
  exporter: FakeExporter;
  error: unknown;
  /** The message that triggered it, and how it was made. */
  message: Uint8Array;
  source: string;
  ops: MutationName[];
  /**
   * The shortest sequence found that reproduces it on a fresh decoder (the last message is
   * the trigger), or null if it only happens with the run's accumulated state.
   */
  reproduction: Uint8Array[] | null;
}

export interface FuzzProgress {
  messages: number;
  elapsedMs: number;
  records: number;
  heapUsedBytes: number;
  pendingSets: number;
}

export interface FuzzOptions {
  seed: number;
  messages: number;
  corpus: readonly CorpusEntry[];
  /** Share of messages sent unmutated, so templates get learned. Default 0.2. */
  cleanShare?: number;
  exporters?: readonly FakeExporter[];
  /** Stop at the first failure (default true). */
  stopOnFailure?: boolean;
  /** Progress callback every `progressEvery` messages. */
  onProgress?: (p: FuzzProgress) => void;
  progressEvery?: number;
  /** Try to minimise the reproduction of a failure (default true). */
  minimize?: boolean;
  /** Extra decoder options (small pending limits make eviction paths run). */
  decoder?: Partial<Omit<DecoderOptions, 'onBatch'>>;
  /** Called every `checkpointEvery` messages with the decoder and the fake clock (extra checks). */
  onCheckpoint?: (decoder: FlowDecoder, now: number, messages: number) => void;
  checkpointEvery?: number;
}

export interface FuzzResult {
  messages: number;
  mutated: number;
  records: number;
  elapsedMs: number;
  failures: FuzzFailure[];
  /** Counters over all exporters at the end (errors by reason included). */
  totals: ExporterStats;
  mutations: Record<MutationName, number>;
  peakHeapUsedBytes: number;
  batches: number;
}

/** Fake receive clock: starts here, advances a few ms per message, sometimes jumps hours. */
const CLOCK_START = T0 * 1000;

function newDecoder(opts: FuzzOptions, onBatch: (b: FlowBatch) => void): FlowDecoder {
  return new FlowDecoder({
    onBatch,
    batchSize: 1024,
    samplingOverrides: { '203.0.113.9': 100 },
    ...opts.decoder,
  });
}

/** Does this sequence, fed to a fresh decoder from one exporter, end in the same failure? */
function reproduces(opts: FuzzOptions, exporter: FakeExporter, messages: readonly Uint8Array[], kind: FuzzFailure['kind'], expected: string): boolean {
  const decoder = newDecoder(opts, () => {});
  let now = CLOCK_START;
  for (let k = 0; k < messages.length; k++) {
    const last = k === messages.length - 1;
    try {
      decoder.decode(messages[k], exporter.address, exporter.port, (now += 5));
    } catch (err) {
      return last && kind === 'exception' && errorText(err) === expected;
    }
    if (decoder.lastInternalError !== null) return last && kind === 'internal-error' && errorText(decoder.lastInternalError) === expected;
  }
  return false;
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/**
 * Shrink a failing sequence: drop earlier messages that are not needed, then cut the
 * trigger's tail and zero its bytes while the failure persists. Bounded effort.
 */
function minimise(opts: FuzzOptions, exporter: FakeExporter, history: Uint8Array[], trigger: Uint8Array, kind: FuzzFailure['kind'], error: unknown): Uint8Array[] | null {
  const text = errorText(error);
  let seq = [trigger];
  if (!reproduces(opts, exporter, seq, kind, text)) {
    seq = [...history, trigger];
    if (!reproduces(opts, exporter, seq, kind, text)) return null;
    for (let k = seq.length - 2; k >= 0; k--) {
      const without = [...seq.slice(0, k), ...seq.slice(k + 1)];
      if (reproduces(opts, exporter, without, kind, text)) seq = without;
    }
  }
  let msg = seq[seq.length - 1];
  const prefix = seq.slice(0, -1);
  const ok = (m: Uint8Array) => reproduces(opts, exporter, [...prefix, m], kind, text);
  // Shorter: binary-search the shortest prefix, then try to drop each set-sized chunk.
  let lo = 0;
  let hi = msg.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ok(msg.subarray(0, mid).slice())) hi = mid;
    else lo = mid + 1;
  }
  msg = msg.subarray(0, hi).slice();
  // Simpler: zero bytes that do not matter (keeps offsets, shows what does).
  for (let p = 0; p < msg.length && p < 4096; p++) {
    if (msg[p] === 0) continue;
    const z = msg.slice();
    z[p] = 0;
    if (ok(z)) msg = z;
  }
  return [...prefix, msg];
}

const HISTORY = 32;

/** Feed `messages` clean and mutated corpus messages to one decoder; report what escaped. */
export function runFuzz(opts: FuzzOptions): FuzzResult {
  if (opts.corpus.length === 0) throw new Error('runFuzz: empty corpus');
  const rand = seededRandom(opts.seed);
  const exporters = opts.exporters ?? FAKE_EXPORTERS;
  const cleanShare = opts.cleanShare ?? 0.2;
  const stopOnFailure = opts.stopOnFailure ?? true;
  const progressEvery = opts.progressEvery ?? 100_000;
  const donors = opts.corpus.map((e) => e.bytes);
  const mutations = Object.fromEntries(MUTATIONS.map((m) => [m, 0])) as Record<MutationName, number>;
  const failures: FuzzFailure[] = [];
  const history = exporters.map(() => [] as Uint8Array[]);

  let batches = 0;
  let batchProblem: string | null = null;
  const decoder = newDecoder(opts, (b) => {
    batches++;
    if (b.length < 1 || b.length > b.capacity) batchProblem = `onBatch got a batch of ${b.length} rows (capacity ${b.capacity})`;
  });

  let now = CLOCK_START;
  let records = 0;
  let mutated = 0;
  let peakHeap = 0;
  let exporterIndex = 0;
  const started = Date.now();
  for (let i = 0; i < opts.messages; i++) {
    // Routers send bursts: stay on an exporter for a while.
    if (rand() < 0.3) exporterIndex = Math.floor(rand() * exporters.length);
    const exporter = exporters[exporterIndex];
    const entry = opts.corpus[Math.floor(rand() * opts.corpus.length)];
    let msg = entry.bytes;
    let ops: MutationName[] = [];
    if (rand() >= cleanShare) {
      const m = mutate(rand, msg, donors);
      msg = m.bytes;
      ops = m.ops;
      mutated++;
      for (const op of ops) mutations[op]++;
    }
    now += rand() < 0.0001 ? 2 * 3600_000 : int(rand, 0, 10);
    let failure: FuzzFailure | null = null;
    try {
      records += decoder.decode(msg, exporter.address, exporter.port, now);
    } catch (err) {
      failure = { kind: 'exception', index: i, exporter, error: err, message: msg, source: entry.source, ops, reproduction: null };
    }
    if (failure === null && decoder.lastInternalError !== null) {
      failure = { kind: 'internal-error', index: i, exporter, error: decoder.lastInternalError, message: msg, source: entry.source, ops, reproduction: null };
      decoder.lastInternalError = null;
    }
    if (failure === null && batchProblem !== null) {
      failure = { kind: 'exception', index: i, exporter, error: new Error(batchProblem), message: msg, source: entry.source, ops, reproduction: null };
      batchProblem = null;
    }
    if (failure !== null) {
      if (opts.minimize ?? true) failure.reproduction = minimise(opts, exporter, history[exporterIndex], msg, failure.kind, failure.error);
      failures.push(failure);
      if (stopOnFailure) break;
    }
    const h = history[exporterIndex];
    h.push(msg);
    if (h.length > HISTORY) h.shift();

    if ((i + 1) % 10_000 === 0) {
      decoder.flush();
      decoder.expire(now);
    }
    if (opts.onCheckpoint && opts.checkpointEvery && (i + 1) % opts.checkpointEvery === 0) opts.onCheckpoint(decoder, now, i + 1);
    if ((i + 1) % progressEvery === 0) {
      const heap = process.memoryUsage().heapUsed;
      if (heap > peakHeap) peakHeap = heap;
      opts.onProgress?.({ messages: i + 1, elapsedMs: Date.now() - started, records, heapUsedBytes: heap, pendingSets: decoder.pendingSets() });
    }
  }
  decoder.flush();
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  const totals = totalStats(decoder.stats());
  return {
    messages: failures.length > 0 && stopOnFailure ? failures[0].index + 1 : opts.messages,
    mutated,
    records,
    elapsedMs: Date.now() - started,
    failures,
    totals,
    mutations,
    peakHeapUsedBytes: peakHeap,
    batches,
  };
}

/** Human-readable report of one failure: what, where, the message, the reproduction. */
export function formatFailure(f: FuzzFailure): string {
  const lines = [
    `${f.kind} at message ${f.index} from ${f.exporter.address}:${f.exporter.port} (seed message ${f.source}, mutations: ${f.ops.join(', ') || 'none'})`,
    `error: ${f.error instanceof Error ? (f.error.stack ?? errorText(f.error)) : String(f.error)}`,
    `message (${f.message.length} bytes): ${toHex(f.message)}`,
  ];
  if (f.reproduction === null) lines.push('reproduction: not reproducible on a fresh decoder from the last messages of this exporter');
  else {
    lines.push(`reproduction on a fresh decoder (${f.reproduction.length} message(s), in order, from one exporter):`);
    for (const m of f.reproduction) lines.push(`  ${toHex(m)}`);
  }
  return lines.join('\n');
}
