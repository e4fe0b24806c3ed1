/**
 * The shared conformance corpus (real router captures kept by other collectors' test
 * suites): every file decodes without a crash, and every value its README lists matches.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPcapFile } from '../pcap/index.js';
import { announceSkip, findSharedDirectory } from '../pcap/test-environment.js';
import { FlowDecoder, FlowFlag, bytesOf, dstAddrString, ipv4ToString, nextHopString, packetsOf, srcAddrString, totalStats, type FlowBatch } from './index.js';

const shared = findSharedDirectory();
const corpus = shared ? join(shared, 'conformance') : '';
const skipNote = shared ? '' : announceSkip('conformance corpus', 'shared/conformance not found beside the repository');

interface Flow {
  exporter: string;
  version: number;
  domain: number;
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  protocol: number;
  bytes: bigint;
  packets: bigint;
  rate: number;
  inIf: number;
  outIf: number;
  nextHop: string;
  srcMask: number;
  dstMask: number;
  srcAs: number;
  dstAs: number;
  icmpTypeCode: number;
  start: number;
  end: number;
  flags: number;
  postNatSrc: string;
  postNatSrcPort: number;
}

/** Decode files in order, pcap or hex, with template state carried across them. */
function decodeFiles(files: string[]) {
  const flows: Flow[] = [];
  const decoder: FlowDecoder = new FlowDecoder({
    batchSize: 64,
    onBatch: (b: FlowBatch) => {
      for (let i = 0; i < b.length; i++) {
        flows.push({
          exporter: decoder.exporter(b.exporterId[i]).key,
          version: b.version[i],
          domain: b.observationDomain[i],
          src: srcAddrString(b, i),
          dst: dstAddrString(b, i),
          srcPort: b.srcPort[i],
          dstPort: b.dstPort[i],
          protocol: b.protocol[i],
          bytes: bytesOf(b, i),
          packets: packetsOf(b, i),
          rate: b.samplingRate[i],
          inIf: b.inputIf[i],
          outIf: b.outputIf[i],
          nextHop: nextHopString(b, i),
          srcMask: b.srcMask[i],
          dstMask: b.dstMask[i],
          srcAs: b.srcAs[i],
          dstAs: b.dstAs[i],
          icmpTypeCode: b.icmpTypeCode[i],
          start: b.start[i],
          end: b.end[i],
          flags: b.flags[i],
          postNatSrc: ipv4ToString(b.postNatSrcAddr4[i]),
          postNatSrcPort: b.postNatSrcPort[i],
        });
      }
    },
  });
  const perFile: number[] = [];
  for (const f of files) {
    const path = join(corpus, f);
    let n = 0;
    if (f.endsWith('.hex')) {
      for (const line of readFileSync(path, 'utf8').split('\n')) {
        if (line.trim() === '') continue;
        n += decoder.decode(new Uint8Array(Buffer.from(line.trim(), 'hex')), '192.0.2.10', 2055, 1_700_000_000_000);
      }
    } else {
      for (const d of readPcapFile(path).datagrams) n += decoder.decode(d.payload, d.srcAddress, d.srcPort, d.timestampMs);
    }
    perFile.push(n);
  }
  decoder.flush();
  const total = totalStats(decoder.stats());
  expect(total.errors['internal-error'] ?? 0, String(decoder.lastInternalError)).toBe(0);
  return { flows, perFile, total, decoder };
}

const akvorado = (...names: string[]) => names.map((n) => `akvorado/${n}.pcap`);

describe.skipIf(!shared)(`conformance corpus${skipNote}`, () => {
  it('every capture and hex message decodes without an internal error', () => {
    for (const dir of readdirSync(corpus, { withFileTypes: true })) {
      if (!dir.isDirectory()) continue;
      const files: string[] = [];
      const walk = (rel: string) => {
        for (const e of readdirSync(join(corpus, rel), { withFileTypes: true })) {
          const r = join(rel, e.name);
          if (e.isDirectory()) walk(r);
          else if (r.endsWith('.pcap') || r.endsWith('.hex')) files.push(r);
        }
      };
      walk(dir.name);
      for (const f of files) decodeFiles([f]);
    }
  });

  describe('akvorado', () => {
    it('NFv9 options then data: 4 flows at rate 30000 with the listed fields', () => {
      const { flows, perFile } = decodeFiles(akvorado('options-template', 'options-data', 'template', 'data'));
      expect(perFile).toEqual([0, 0, 0, 4]);
      expect(flows).toHaveLength(4);
      for (const f of flows) expect(f.rate).toBe(30000);
      expect(flows[0]).toMatchObject({
        version: 9, domain: 0, src: '198.38.121.178', dst: '91.170.143.87', srcPort: 443, dstPort: 19624, protocol: 6,
        bytes: 1500n, packets: 1n, inIf: 335, outIf: 450, nextHop: '194.149.174.63', srcMask: 24, dstMask: 14,
      });
      expect(flows[3]).toMatchObject({ src: '74.125.100.234', dst: '88.120.219.117', dstPort: 52300, bytes: 1448n, inIf: 461, outIf: 451 });
    });

    it('data before its template in the same message is decoded once the template arrives', () => {
      const { flows, total } = decodeFiles(akvorado('data+templates'));
      expect(total.templates).toBe(1);
      expect(total.optionsTemplates).toBe(1);
      expect(total.pendingDecodedSets).toBe(1);
      expect(flows.length).toBeGreaterThan(0);
      expect(flows.every((f) => f.domain === 17170432)).toBe(true);
      // The data set placed before its template came back out of the pending buffer.
      expect(flows.some((f) => (f.flags & FlowFlag.FromPending) !== 0)).toBe(true);
      // Options data (SAMPLING_INTERVAL 34 in an options record) arrived before the template
      // released the held data, so even the held records carry the announced rate.
      expect(new Set(flows.map((f) => f.rate))).toEqual(new Set([100]));
    });

    it('sampling fields 34/35 inside the data template', () => {
      const { flows } = decodeFiles(akvorado('samplingrate-template', 'samplingrate-data'));
      expect(flows[0]).toMatchObject({ domain: 369099009, rate: 2048, src: '232.131.215.65', srcPort: 13245, dst: '142.183.180.65', dstPort: 10907, bytes: 160n, packets: 1n, inIf: 13 });
    });

    it('two samplers on one exporter, keyed by sampler id (NCS55xx)', () => {
      const { flows } = decodeFiles(akvorado('multiplesamplingrates-options-template', 'multiplesamplingrates-options-data', 'multiplesamplingrates-template', 'multiplesamplingrates-data'));
      expect(flows[0]).toMatchObject({ rate: 4000, src: 'ffff::68', srcPort: 443, dst: 'ffff::1a', dstPort: 52616, bytes: 1348n, packets: 18n });
      expect(flows[1]).toMatchObject({ rate: 2000, src: 'ffff::5a', dst: 'ffff::f', protocol: 17, dstPort: 2121, bytes: 579n, packets: 4n });
      expect(flows.every((f) => (f.flags & FlowFlag.RateUnknown) === 0)).toBe(true);
    });

    it('ICMP type/code carried in the port field, IPv4 and IPv6', () => {
      const { flows } = decodeFiles(akvorado('icmp-template', 'icmp-data'));
      const v6 = flows.find((f) => f.src === '2001:db8::' && f.dst === '2001:db8::1');
      expect(v6).toMatchObject({ protocol: 58, bytes: 104n });
      expect(v6!.icmpTypeCode >>> 8).toBe(128);
      const v4 = flows.find((f) => f.src === '203.0.113.4' && f.dst === '203.0.113.5');
      expect(v4).toMatchObject({ protocol: 1, bytes: 84n });
      expect(v4!.icmpTypeCode >>> 8).toBe(8);
    });

    it('NFv5: 29 records, unsampled, start from unix secs and sysUptime', () => {
      const { flows } = decodeFiles(akvorado('nfv5'));
      expect(flows).toHaveLength(29);
      expect(flows.every((f) => f.rate === 1)).toBe(true);
      expect(flows[0]).toMatchObject({ version: 5, src: '161.202.212.212', srcPort: 30104, dst: '202.152.70.24', dstPort: 11963, bytes: 133n, packets: 1n, inIf: 117, outIf: 86, srcAs: 36351, dstAs: 10101 });
      expect(Math.floor(flows[0].start / 1000)).toBe(1680626664);
    });

    it('IPFIX variable-length IE 315 is stepped over', () => {
      const { flows, total } = decodeFiles(akvorado('datalink-template', 'datalink-data'));
      expect(flows).toHaveLength(1);
      expect(total.errors).toEqual({});
    });

    it('RFC 5103 biflows with enterprise fields give forward and reverse records', () => {
      const { flows, total } = decodeFiles(akvorado('ipfixprobe-templates', 'ipfixprobe-data'));
      expect(flows).toHaveLength(6);
      expect(total.errors).toEqual({});
      const fwd = flows.find((f) => f.src === '10.10.1.4' && f.srcPort === 56166);
      expect(fwd).toMatchObject({ dst: '10.10.1.1', dstPort: 53, bytes: 62n });
      const rev = flows.find((f) => f.src === '10.10.1.1' && f.dst === '10.10.1.4' && (f.flags & FlowFlag.Reverse) !== 0);
      expect(rev).toMatchObject({ srcPort: 53, dstPort: 56166, bytes: 128n });
    });

    it('Juniper, SRv6 and Ethernet-over-MPLS enterprise fields are skipped by length', () => {
      for (const kind of ['juniper-cpid', 'ipfix-srv6', 'ethernet-over-mpls-with-control-word']) {
        const { flows, total } = decodeFiles(akvorado(`${kind}-template`, `${kind}-data`));
        expect(total.errors, kind).toEqual({});
        expect(flows.length, kind).toBeGreaterThan(0);
      }
    });

    it('IPFIX template, options (samplingPacketInterval 305) and data in one message', () => {
      const { flows } = decodeFiles(akvorado('mpls'));
      expect(flows).toHaveLength(2);
      expect(flows[0]).toMatchObject({ rate: 10, src: 'fd00::1:0:1:7:1', dst: 'fd00::1:0:1:5:1', bytes: 89n });
      expect(flows[1].rate).toBe(10);
    });

    it('physical interfaces 252/253, sampling from options', () => {
      const { flows } = decodeFiles(akvorado('physicalinterfaces'));
      expect(flows[0]).toMatchObject({ rate: 1000, bytes: 4506n, packets: 3n });
    });

    it('NAT event records carry no counters and are flagged so they are never billed', () => {
      const { flows } = decodeFiles(akvorado('nat'));
      const f = flows.find((x) => x.src === '172.16.100.198' && x.srcPort === 35303);
      expect(f).toMatchObject({ domain: 200, dst: '10.89.87.1', dstPort: 53, protocol: 17, postNatSrc: '10.143.52.29', postNatSrcPort: 35303, bytes: 0n, packets: 0n });
      expect(flows.every((x) => (x.flags & FlowFlag.NoCounters) !== 0 && x.bytes === 0n)).toBe(true);
    });
  });

  describe('goflow2', () => {
    it('NFv9 source id 256, template 260: 21 records', () => {
      const { flows } = decodeFiles(['goflow2/nfv9_template.hex', 'goflow2/nfv9_data.hex']);
      expect(flows).toHaveLength(21);
      expect(flows[0]).toMatchObject({ domain: 256, src: '198.38.120.222', srcPort: 443, dst: '88.121.217.208', dstPort: 15184, protocol: 6, bytes: 1500n, packets: 1n, inIf: 354, outIf: 304 });
    });

    it('NFv5: 6 records', () => {
      const { flows } = decodeFiles(['goflow2/nfv5_data.hex']);
      expect(flows).toHaveLength(6);
      expect(flows[0]).toMatchObject({ src: '10.128.2.121', srcPort: 8080, dst: '10.128.2.1', dstPort: 47384, packets: 5n, bytes: 590n, inIf: 9 });
    });
  });

  describe('vflow', () => {
    it('NFv5 with sampling interval 1000 and 6 stray bytes after the last record', () => {
      const { flows, total } = decodeFiles(['vflow/nfv5_TestV5FlowPacket.hex']);
      expect(flows).toHaveLength(29);
      expect(total.trailingBytes).toBe(6);
      expect(flows[0]).toMatchObject({ src: '125.238.46.48', srcPort: 49233, dst: '114.23.236.96', dstPort: 443, packets: 4n, bytes: 1708n, rate: 1000 });
    });

    it('IPFIX templates, options templates and a multi-set message decode without a crash', () => {
      const { total } = decodeFiles(['vflow/ipfix_tpl.hex', 'vflow/ipfix_optsTpl.hex', 'vflow/ipfix_multiMessage.hex']);
      expect(total.templates).toBeGreaterThan(0);
      expect(total.optionsTemplates).toBeGreaterThan(0);
    });

    it('data sets with no known template are counted, not decoded', () => {
      const { flows, total } = decodeFiles(['vflow/ipfix_unknownDatasetMessage.hex']);
      expect(flows).toHaveLength(0);
      expect(total.missingTemplateSets).toBeGreaterThan(0);
    });
  });

  describe('python-netflow (softflowd)', () => {
    const pn = (n: string) => `python-netflow/${n}.hex`;
    it('v1 and v5: the ICMP ping pair', () => {
      const v5 = decodeFiles([pn('PACKET_V5')]).flows;
      expect(v5).toHaveLength(3);
      expect(v5.some((f) => f.src === '172.17.0.1' && f.dst === '172.17.0.2' && f.protocol === 1)).toBe(true);
      expect(v5.some((f) => f.src === '172.17.0.2' && f.dst === '172.17.0.1' && f.protocol === 1)).toBe(true);
      expect(decodeFiles([pn('PACKET_V1')]).flows.length).toBeGreaterThan(0);
    });

    it('v9: templates and 8 flows; templates after the data in the mixed message', () => {
      expect(decodeFiles([pn('PACKET_V9_TEMPLATE')]).flows).toHaveLength(8);
      const mixed = decodeFiles([pn('PACKET_V9_TEMPLATE_MIXED')]);
      expect(mixed.flows).toHaveLength(8);
    });

    it('v9 messages without templates decode after a template message: 12 flows each', () => {
      const { perFile } = decodeFiles([pn('PACKET_V9_TEMPLATE'), pn('PACKETS_V9_0'), pn('PACKETS_V9_1'), pn('PACKETS_V9_2')]);
      expect(perFile).toEqual([8, 12, 12, 12]);
    });

    it('an invalid v9 message with zeros is rejected cleanly', () => {
      const { flows, total } = decodeFiles([pn('PACKET_V9_WITH_ZEROS')]);
      expect(flows).toHaveLength(0);
      expect(Object.keys(total.errors).length).toBeGreaterThan(0);
    });

    it('IPFIX: 19 flow records plus 1 options record; record 17 is IPv6 UDP', () => {
      const { flows, total } = decodeFiles([pn('PACKET_IPFIX_TEMPLATE')]);
      expect(total.optionsRecords).toBe(1);
      expect(flows).toHaveLength(19);
      // The README counts the options record as record 0, so its record 17 is our 16th flow.
      expect(flows[16]).toMatchObject({ src: 'fde6:6f14:e0f1:9609:0:affe:affe:affe', protocol: 17 });
    });

    it('IPFIX data after the template, with padding between data sets', () => {
      const { perFile, total } = decodeFiles([pn('PACKET_IPFIX_TEMPLATE'), pn('PACKET_IPFIX'), pn('PACKET_IPFIX_PADDING')]);
      expect(perFile[1]).toBeGreaterThan(0);
      expect(perFile[2]).toBeGreaterThan(0);
      expect(total.errors).toEqual({});
    });

    it('IPFIX with MAC address fields', () => {
      const { perFile, total } = decodeFiles([pn('PACKET_IPFIX_TEMPLATE_ETHER'), pn('PACKET_IPFIX_ETHER')]);
      expect(perFile[1]).toBeGreaterThan(0);
      expect(total.errors).toEqual({});
    });

    it('21 bytes of 0xFF: rejected with a counted error', () => {
      const { flows, total } = decodeFiles([pn('PACKET_INVALID')]);
      expect(flows).toHaveLength(0);
      expect(total.errors['unknown-version']).toBe(1);
    });
  });

  describe('pmacct captures', () => {
    it('IOS XR IPFIX: two observation domains on two source ports stay separate', () => {
      const { flows, total } = decodeFiles(['pmacct/100-IPFIXv10-CISCO/traffic-00.pcap']);
      expect(new Set(flows.map((f) => f.exporter)).size).toBe(2);
      expect(total.errors).toEqual({});
    });

    it('IPv6 exporter with sampling from options 309/310', () => {
      const { flows } = decodeFiles(['pmacct/104-IPFIXv10-IPv6-CISCO-sampling_option/traffic-00.pcap']);
      expect(flows.length).toBeGreaterThan(0);
      expect(flows.every((f) => f.rate > 1 && (f.flags & FlowFlag.RateUnknown) === 0)).toBe(true);
    });

    it('unknown sampler id (102): raw counters kept, rate marked unknown and counted', () => {
      const { flows, total } = decodeFiles(['pmacct/102-NFv9-CISCO-f2rd-pretag-sampling-reload/traffic-00.pcap']);
      expect(flows.length).toBeGreaterThan(0);
      const unknown = flows.filter((f) => (f.flags & FlowFlag.RateUnknown) !== 0);
      expect(unknown.length).toBe(total.rateUnknownRecords);
      expect(unknown.every((f) => f.rate === 1 && f.bytes > 0n)).toBe(true);
    });

    it('several exporters at once keep separate template state', () => {
      for (const c of ['110-IPFIXv10-NFv9-multiple-sources', '111-IPFIXv10-NFv9-IPv6-IPv4-mix_sources']) {
        const files = readdirSync(join(corpus, 'pmacct', c)).filter((f) => f.endsWith('.pcap')).sort().map((f) => `pmacct/${c}/${f}`);
        const { flows, total } = decodeFiles(files);
        expect(new Set(flows.map((f) => f.exporter)).size, c).toBeGreaterThan(1);
        expect(total.errors, c).toEqual({});
      }
    });

    it('Huawei IPFIX with PEN 2011 and variable-length fields decodes cleanly', () => {
      const { flows, total } = decodeFiles(['pmacct/106-IPFIXv10-HUAWEI-vrf_name/traffic-00.pcap']);
      expect(flows.length).toBeGreaterThan(0);
      expect(total.errors).toEqual({});
    });

    it('options and templates reassigned to a new source port: data without a template there is held and counted', () => {
      const { total, decoder } = decodeFiles(['pmacct/112-IPFIXv10-CISCO-options-map-reassignment/traffic-00.pcap']);
      expect(total.optionsRecords).toBeGreaterThan(0);
      expect(total.missingTemplateSets).toBe(decoder.pendingSets());
    });
  });
});
