import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidIpError } from './invalid-ip-error.js';
import { formatIpv4, ipv4Mask, isIpv4Text, parseIpv4 } from './ipv4.js';

describe('parseIpv4', () => {
  it('parses dotted quads into uint32', () => {
    expect(parseIpv4('0.0.0.0')).toBe(0);
    expect(parseIpv4('10.1.2.3')).toBe(0x0a010203);
    expect(parseIpv4('255.255.255.255')).toBe(0xffffffff);
    expect(parseIpv4('192.168.0.1')).toBe(0xc0a80001);
  });

  it.each([
    ['10.0.0.256'],
    ['10.0.0'],
    ['10'],
    ['167772161'],
    ['010.0.0.1'],
    ['0x0a.0.0.1'],
    ['10.0.0.01'],
    [' 10.0.0.1'],
    ['10.0.0.1 '],
    ['10.0.0.1/32'],
    ['::1'],
    [''],
  ])('rejects %j with a message naming the input', (text) => {
    expect(isIpv4Text(text)).toBe(false);
    expect(() => parseIpv4(text)).toThrow(InvalidIpError);
    expect(() => parseIpv4(text)).toThrow(`invalid IPv4 address "${text}"`);
  });
});

describe('formatIpv4', () => {
  it('formats uint32 as a dotted quad', () => {
    expect(formatIpv4(0x0a010203)).toBe('10.1.2.3');
    expect(formatIpv4(0xffffffff)).toBe('255.255.255.255');
  });

  it('round-trips through parseIpv4', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (address) => parseIpv4(formatIpv4(address)) === address));
  });
});

describe('ipv4Mask', () => {
  it('gives the network mask of each length', () => {
    expect(ipv4Mask(0)).toBe(0);
    expect(ipv4Mask(8)).toBe(0xff000000);
    expect(ipv4Mask(24)).toBe(0xffffff00);
    expect(ipv4Mask(31)).toBe(0xfffffffe);
    expect(ipv4Mask(32)).toBe(0xffffffff);
  });

  it('rejects lengths outside 0..32', () => {
    expect(() => ipv4Mask(33)).toThrow(RangeError);
    expect(() => ipv4Mask(-1)).toThrow(RangeError);
    expect(() => ipv4Mask(1.5)).toThrow(RangeError);
  });
});
