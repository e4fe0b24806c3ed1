import { describe, expect, it } from 'vitest';
import { InvalidIpError } from './invalid-ip-error.js';
import { parseIpv6 } from './ipv6.js';
import {
  formatPrefix,
  parseAddressOrPrefix,
  parsePrefix,
  prefixContains,
  prefixContainsIpv4,
  prefixContainsIpv6,
  prefixesOverlap,
  samePrefix,
} from './prefix.js';

describe('parsePrefix', () => {
  it('parses IPv4 prefixes', () => {
    expect(parsePrefix('10.0.0.0/7')).toEqual({ version: 4, network: 0x0a000000, length: 7 });
    expect(parsePrefix('10.0.0.0/8')).toEqual({ version: 4, network: 0x0a000000, length: 8 });
    expect(parsePrefix('0.0.0.0/0')).toEqual({ version: 4, network: 0, length: 0 });
    expect(parsePrefix('192.0.2.7/32')).toEqual({ version: 4, network: 0xc0000207, length: 32 });
  });

  it.each(['2001:db8::/32', '2001:db8:1::/48', '2001:db8:1:100::/56', '2001:db8:1:1::/64', '2001:db8::1/128', '::/0'])(
    'parses and canonically formats %s',
    (text) => {
      const prefix = parsePrefix(text);
      expect(prefix.version).toBe(6);
      expect(formatPrefix(prefix)).toBe(text);
    },
  );

  it('formats IPv6 networks in RFC 5952 form', () => {
    expect(formatPrefix(parsePrefix('2001:0DB8:0000:0100:0000:0000:0000:0000/56'))).toBe('2001:db8:0:100::/56');
  });

  it.each([
    ['10.0.0.1/24', 'host bits are set after the first 24 bits (the network is 10.0.0.0/24)'],
    ['192.0.2.128/24', 'the network is 192.0.2.0/24'],
    ['10.0.0.0/6', 'the network is 8.0.0.0/6'],
    ['11.0.0.0/7', 'the network is 10.0.0.0/7'],
    ['2001:db8:1:1::/56', 'host bits are set after the first 56 bits (the network is 2001:db8:1::/56)'],
    ['2001:db8::1/64', 'the network is 2001:db8::/64'],
  ])('rejects %s because host bits are set', (text, reason) => {
    expect(() => parsePrefix(text)).toThrow(InvalidIpError);
    expect(() => parsePrefix(text)).toThrow(`invalid prefix "${text}": `);
    expect(() => parsePrefix(text)).toThrow(reason);
  });

  it.each([
    ['10.0.0.0/33', 'length must be a decimal 0..32, got "33"'],
    ['2001:db8::/129', 'length must be a decimal 0..128, got "129"'],
    ['10.0.0.0/024', 'got "024"'],
    ['10.0.0.0/-1', 'got "-1"'],
    ['10.0.0.0/', 'got ""'],
    ['10.0.0.0/8/8', 'got "8/8"'],
    ['10.0.0.0/ 8', 'got " 8"'],
    ['10.0.0.0', 'expected address/length'],
    ['10.0.0.256/32', 'invalid IPv4 address "10.0.0.256"'],
    ['010.0.0.0/8', 'invalid IPv4 address "010.0.0.0"'],
    ['fe80::%eth0/64', 'zone ids'],
    ['/24', 'invalid IPv4 address ""'],
  ])('rejects %j: %s', (text, reason) => {
    expect(() => parsePrefix(text)).toThrow(InvalidIpError);
    expect(() => parsePrefix(text)).toThrow(`invalid prefix "${text}"`);
    expect(() => parsePrefix(text)).toThrow(reason);
  });

  it('keeps the rejected text on the error', () => {
    try {
      parsePrefix('10.0.0.1/24');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidIpError);
      expect((error as InvalidIpError).input).toBe('10.0.0.1/24');
    }
  });
});

describe('parseAddressOrPrefix', () => {
  it('treats a bare address as a host prefix', () => {
    expect(parseAddressOrPrefix('10.1.2.3')).toEqual({ version: 4, network: 0x0a010203, length: 32 });
    expect(formatPrefix(parseAddressOrPrefix('2001:db8::5'))).toBe('2001:db8::5/128');
  });

  it('parses prefixes strictly', () => {
    expect(formatPrefix(parseAddressOrPrefix('2001:db8:0:100::/56'))).toBe('2001:db8:0:100::/56');
    expect(() => parseAddressOrPrefix('10.0.0.1/24')).toThrow('host bits are set');
    expect(() => parseAddressOrPrefix('10.0.0.300')).toThrow('invalid IPv4 address "10.0.0.300"');
  });
});

describe('containment and overlap', () => {
  const p = parsePrefix;

  it('contains itself and more specific prefixes of the same version', () => {
    expect(prefixContains(p('10.0.0.0/8'), p('10.0.0.0/8'))).toBe(true);
    expect(prefixContains(p('10.0.0.0/8'), p('10.200.0.0/16'))).toBe(true);
    expect(prefixContains(p('10.200.0.0/16'), p('10.0.0.0/8'))).toBe(false);
    expect(prefixContains(p('10.0.0.0/8'), p('11.0.0.0/16'))).toBe(false);
    expect(prefixContains(p('2001:db8::/32'), p('2001:db8:ff:ff00::/56'))).toBe(true);
    expect(prefixContains(p('2001:db8:ff:ff00::/56'), p('2001:db8:ff:ff01::/64'))).toBe(true);
    expect(prefixContains(p('2001:db8:ff:ff00::/56'), p('2001:db8:ff:fe00::/64'))).toBe(false);
  });

  it('never mixes IPv4 and IPv6', () => {
    expect(prefixContains(p('0.0.0.0/0'), p('::/0'))).toBe(false);
    expect(prefixContains(p('::/0'), p('10.0.0.0/8'))).toBe(false);
    expect(prefixContainsIpv4(p('::/0'), 0)).toBe(false);
    expect(prefixContainsIpv6(p('0.0.0.0/0'), new Uint8Array(16))).toBe(false);
  });

  it('tests single addresses', () => {
    expect(prefixContainsIpv4(p('192.0.2.0/24'), 0xc00002ff)).toBe(true);
    expect(prefixContainsIpv4(p('192.0.2.0/24'), 0xc0000300)).toBe(false);
    const column = new Uint8Array(32);
    column.set(parseIpv6('2001:db8:0:1::9'), 16);
    expect(prefixContainsIpv6(p('2001:db8::/48'), column, 16)).toBe(true);
    expect(prefixContainsIpv6(p('2001:db8:0:2::/64'), column, 16)).toBe(false);
  });

  it('overlaps exactly when one contains the other', () => {
    expect(prefixesOverlap(p('10.0.0.0/8'), p('10.1.0.0/16'))).toBe(true);
    expect(prefixesOverlap(p('10.1.0.0/16'), p('10.0.0.0/8'))).toBe(true);
    expect(prefixesOverlap(p('10.0.0.0/16'), p('10.1.0.0/16'))).toBe(false);
    expect(prefixesOverlap(p('2001:db8::/56'), p('2001:db8:0:100::/56'))).toBe(false);
  });

  it('compares prefixes for equality', () => {
    expect(samePrefix(p('10.0.0.0/8'), p('10.0.0.0/8'))).toBe(true);
    expect(samePrefix(p('10.0.0.0/8'), p('10.0.0.0/9'))).toBe(false);
    expect(samePrefix(p('2001:db8::/32'), p('2001:db8::/32'))).toBe(true);
  });
});
