import { afterEach, describe, expect, it } from 'vitest';
import { ExporterAllowlist } from './exporter-allowlist.js';
import { parseListenList, UdpListener } from './udp-listener.js';
import { send, until as untilWithin } from './testing-udp.js';

const listeners: UdpListener[] = [];
afterEach(async () => {
  await Promise.all(listeners.splice(0).map((l) => l.stop()));
});

const until = (check: () => boolean, ms = 2000) => untilWithin(check, ms);

describe('exporter allowlist', () => {
  it('matches addresses and prefixes of both families, including v4-mapped senders', () => {
    const a = new ExporterAllowlist(['192.0.2.0/24', '2001:db8::1']);
    expect(a.allows('192.0.2.77')).toBe(true);
    expect(a.allows('::ffff:192.0.2.77')).toBe(true);
    expect(a.allows('198.51.100.1')).toBe(false);
    expect(a.allows('2001:db8::1')).toBe(true);
    expect(a.allows('2001:db8::2')).toBe(false);
    expect(a.allows('not an address')).toBe(false);
  });

  it('rejects an invalid prefix in configuration', () => {
    expect(() => new ExporterAllowlist(['10.0.0.1/24'])).toThrow(/host bits/);
  });
});

describe('UDP listener', () => {
  it('delivers datagrams from allowed exporters and drops and counts the others', async () => {
    const got: string[] = [];
    const l = new UdpListener({
      listen: [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }],
      receiveBufferBytes: 8 * 1024 * 1024,
      allowlist: new ExporterAllowlist(['127.0.0.1/32']),
      onMessage: (msg, address) => got.push(`${address}:${msg.toString()}`),
    });
    listeners.push(l);
    const bound = await l.start();
    expect(bound).toHaveLength(2);
    expect(bound[0].receiveBufferBytes).toBeGreaterThan(0);
    await send('udp4', '127.0.0.1', bound[0].port, Buffer.from('hello'));
    await send('udp6', '::1', bound[1].port, Buffer.from('spoof'));
    await until(() => got.length === 1 && l.stats.notAllowed === 1);
    expect(got).toEqual(['127.0.0.1:hello']);
    expect(l.stats.notAllowed).toBe(1);
    expect(l.stats.notAllowedSenders.get('::1')).toBe(1);
    expect(l.stats.datagrams).toBe(1);
  });

  it('fails to start with a clear error when the port is taken', async () => {
    const a = new UdpListener({ listen: [{ host: '127.0.0.1', port: 0 }], receiveBufferBytes: 65536, allowlist: new ExporterAllowlist([]), onMessage: () => undefined });
    listeners.push(a);
    const [b] = await a.start();
    const c = new UdpListener({ listen: [{ host: '127.0.0.1', port: b.port }], receiveBufferBytes: 65536, allowlist: new ExporterAllowlist([]), onMessage: () => undefined });
    listeners.push(c);
    await expect(c.start()).rejects.toThrow(/EADDRINUSE/);
  });
});

describe('listen list', () => {
  it('parses IPv4 and bracketed IPv6 with ports', () => {
    expect(parseListenList('0.0.0.0:2055, [::]:4739')).toEqual([{ host: '0.0.0.0', port: 2055 }, { host: '::', port: 4739 }]);
    expect(() => parseListenList('::1:2055')).toThrow(/brackets/);
    expect(() => parseListenList('0.0.0.0:70000')).toThrow(/HOST:PORT/);
  });
});
