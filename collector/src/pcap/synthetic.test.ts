import { createHash } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import { buildIpPacket, TcpFlag, type PacketSpec, type TcpPacketSpec } from './packet-builder.js';
import { mulberry32, SeededRandom } from './prng.js';
import { parsePcap } from './reader.js';
import { generateSyntheticTraffic, type SyntheticTrafficOptions } from './synthetic.js';
import { encodePacketsPcap } from './writer.js';

/** Compare megabyte captures by digest: element-wise deep equality on them takes seconds. */
function pcapDigest(packets: readonly PacketSpec[]): string {
  return createHash('sha256').update(encodePacketsPcap(packets)).digest('hex');
}

const OPTIONS: SyntheticTrafficOptions = {
  seed: 20240301,
  subscribers: ['100.64.0.10', '100.64.0.11', '2001:db8:100::10', '2001:DB8:100::11'],
  remotes: ['198.51.100.7', '203.0.113.9', '2001:db8:ffff::1', '2001:db8:ffff::2'],
  startMs: Date.UTC(2024, 2, 1),
  durationMs: 300_000,
  conversations: 30,
};

describe('mulberry32', () => {
  it('repeats its sequence for a seed and differs between seeds', () => {
    const a = mulberry32(1);
    const b = mulberry32(1);
    const c = mulberry32(2);
    const fromA = Array.from({ length: 5 }, a);
    expect(Array.from({ length: 5 }, b)).toEqual(fromA);
    expect(Array.from({ length: 5 }, c)).not.toEqual(fromA);
    expect(fromA.every((value) => value >= 0 && value < 1)).toBe(true);
  });

  it('draws integers over the whole inclusive range', () => {
    const rng = new SeededRandom(7);
    const seen = new Set(Array.from({ length: 200 }, () => rng.int(1, 4)));
    expect([...seen].sort()).toEqual([1, 2, 3, 4]);
  });
});

describe('generateSyntheticTraffic', () => {
  const traffic = generateSyntheticTraffic(OPTIONS);

  it('is deterministic per seed, down to the pcap bytes', () => {
    const again = generateSyntheticTraffic(OPTIONS);
    expect(pcapDigest(again.packets)).toBe(pcapDigest(traffic.packets));
    expect(again.totals).toEqual(traffic.totals);
    const other = generateSyntheticTraffic({ ...OPTIONS, seed: OPTIONS.seed + 1 });
    expect(pcapDigest(other.packets)).not.toBe(pcapDigest(traffic.packets));
  });

  it('reports totals equal to the sum over the packets as built on the wire', () => {
    const byDirection = new Map<string, { packets: number; bytes: number }>();
    const byAddress = new Map<string, { sent: number; received: number }>();
    for (const spec of traffic.packets) {
      const packet = buildIpPacket(spec);
      const view = new DataView(packet.buffer);
      const isIpv4 = packet[0] >> 4 === 4;
      // Read size and protocol from the built headers, independently of the generator's arithmetic.
      const length = isIpv4 ? view.getUint16(2) : 40 + view.getUint16(4);
      expect(length).toBe(packet.length);
      const protocol = isIpv4 ? packet[9] : packet[6];
      const key = `${spec.srcAddress}|${spec.dstAddress}|${protocol}`;
      const direction = byDirection.get(key) ?? { packets: 0, bytes: 0 };
      byDirection.set(key, { packets: direction.packets + 1, bytes: direction.bytes + length });
      const sender = byAddress.get(spec.srcAddress) ?? { sent: 0, received: 0 };
      byAddress.set(spec.srcAddress, { ...sender, sent: sender.sent + length });
      const receiver = byAddress.get(spec.dstAddress) ?? { sent: 0, received: 0 };
      byAddress.set(spec.dstAddress, { ...receiver, received: receiver.received + length });
    }
    expect(new Map(traffic.totals.byDirection.map((d) => [`${d.srcAddress}|${d.dstAddress}|${d.protocol}`, { packets: d.packets, bytes: d.bytes }]))).toEqual(
      byDirection,
    );
    expect(new Map(traffic.totals.byAddress.map((a) => [a.address, { sent: a.bytesSent, received: a.bytesReceived }]))).toEqual(byAddress);
    expect(traffic.totals.packets).toBe(traffic.packets.length);
    expect(traffic.totals.bytes).toBe([...byDirection.values()].reduce((sum, d) => sum + d.bytes, 0));
    expect(traffic.conversations.reduce((sum, c) => sum + c.bytes, 0)).toBe(traffic.totals.bytes);
  });

  it('keeps every packet inside the window, in time order, with canonical addresses', () => {
    const end = OPTIONS.startMs + OPTIONS.durationMs;
    traffic.packets.forEach((packet, index) => {
      expect(packet.timestampMs).toBeGreaterThanOrEqual(OPTIONS.startMs);
      expect(packet.timestampMs).toBeLessThan(end);
      if (index > 0) expect(packet.timestampMs).toBeGreaterThanOrEqual(traffic.packets[index - 1].timestampMs);
    });
    const addresses = new Set(traffic.packets.flatMap((p) => [p.srcAddress, p.dstAddress]));
    expect(addresses.has('2001:db8:100::11')).toBe(true);
    expect(addresses.has('2001:DB8:100::11')).toBe(false);
  });

  it('covers every kind and subscriber, ICMPv6 included', () => {
    expect(new Set(traffic.conversations.map((c) => c.kind))).toEqual(new Set(['tcp', 'udp', 'icmp']));
    const protocols = new Set(traffic.totals.byDirection.map((d) => d.protocol));
    for (const protocol of [6, 17]) expect(protocols.has(protocol)).toBe(true);
    expect(protocols.has(1) || protocols.has(58)).toBe(true);
    const talking = new Set(traffic.totals.byAddress.map((a) => a.address));
    for (const subscriber of ['100.64.0.10', '100.64.0.11', '2001:db8:100::10', '2001:db8:100::11']) {
      expect(talking.has(subscriber)).toBe(true);
    }
  });

  it('opens every TCP connection with a handshake and closes it with FINs', () => {
    const connections = new Map<string, TcpPacketSpec[]>();
    for (const packet of traffic.packets) {
      if (packet.protocol !== 'tcp') continue;
      const ends = [`${packet.srcAddress}/${packet.srcPort}`, `${packet.dstAddress}/${packet.dstPort}`].sort().join('-');
      connections.set(ends, [...(connections.get(ends) ?? []), packet]);
    }
    expect(connections.size).toBe(traffic.conversations.filter((c) => c.kind === 'tcp').length);
    for (const segments of connections.values()) {
      expect(segments[0].flags).toBe(TcpFlag.Syn);
      expect(segments[1].flags).toBe(TcpFlag.Syn | TcpFlag.Ack);
      expect(segments[1].ack).toBe((segments[0].seq + 1) >>> 0);
      const fins = segments.filter((s) => (s.flags & TcpFlag.Fin) !== 0);
      expect(fins).toHaveLength(2);
      expect(segments.at(-1)?.flags).toBe(TcpFlag.Ack);
      expect(segments.at(-1)?.ack).toBe((fins[1].seq + 1) >>> 0);
    }
  });

  it('writes a pcap whose UDP datagrams the reader finds, and skips the rest as not-udp', () => {
    const { datagrams, stats } = parsePcap(encodePacketsPcap(traffic.packets));
    const udp = traffic.packets.filter((p): p is Extract<PacketSpec, { protocol: 'udp' }> => p.protocol === 'udp');
    expect(datagrams.map((d) => [d.srcAddress, d.srcPort, d.dstAddress, d.dstPort, d.payload.length])).toEqual(
      udp.map((p) => [p.srcAddress, p.srcPort, p.dstAddress, p.dstPort, p.payload.length]),
    );
    expect(stats.skipped['not-udp']).toBe(traffic.packets.length - udp.length);
  });

  it('leaves out subscribers with no remote of their IP version, and refuses when none is left', () => {
    const v4Only = generateSyntheticTraffic({ ...OPTIONS, remotes: ['198.51.100.7'], conversations: 10 });
    expect(v4Only.packets.every((p) => !p.srcAddress.includes(':'))).toBe(true);
    expect(() => generateSyntheticTraffic({ ...OPTIONS, subscribers: ['2001:db8::1'], remotes: ['198.51.100.7'] })).toThrow(
      /no subscriber has a remote/,
    );
  });

  it('squeezes conversations into a short window', () => {
    const short = generateSyntheticTraffic({ ...OPTIONS, durationMs: 50, conversations: 8 });
    for (const packet of short.packets) {
      expect(packet.timestampMs - OPTIONS.startMs).toBeGreaterThanOrEqual(0);
      expect(packet.timestampMs - OPTIONS.startMs).toBeLessThan(50);
    }
  });
});
