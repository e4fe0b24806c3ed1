import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidIpError } from './invalid-ip-error.js';
import { formatIpv6, ipv6BytesFromWords, ipv6NetworkOf, ipv6SharePrefix, isIpv6Text, parseIpv6, readIpv6Words } from './ipv6.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('parseIpv6', () => {
  it.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::', '20010db8000000000000000000000000'],
    ['2001:DB8:0:0:1:0:0:1', '20010db8000000000001000000000001'],
    ['2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff', '20010db8aaaabbbbccccddddeeeeffff'],
    ['fe80::1:2', 'fe800000000000000000000000010002'],
    ['::ffff:192.0.2.1', '00000000000000000000ffffc0000201'],
    ['64:ff9b::198.51.100.7', '0064ff9b0000000000000000c6336407'],
    // The deprecated IPv4-compatible form means ::c000:201, not the IPv4-mapped address.
    ['::192.0.2.1', '000000000000000000000000c0000201'],
  ])('parses %s', (text, expected) => {
    expect(hex(parseIpv6(text))).toBe(expected);
  });

  it.each([
    ['fe80::1%eth0', 'zone ids'],
    ['2001:db8::1::2', 'at most one "::"'],
    ['1:2:3:4:5:6:7:8:9', 'at most eight groups'],
    ['12345::', '1-4 hex digits'],
    ['2001:db8::g', 'hex'],
    ['::ffff:192.0.2.01', 'strict dotted quad'],
    ['::ffff:0x1.2.3.4', 'strict dotted quad'],
    ['1.2.3.4::', 'strict dotted quad'],
    ['192.0.2.1', 'colon-separated'],
    ['[::1]', 'hex'],
    [' ::1', 'hex'],
    ['', 'colon-separated'],
  ])('rejects %j (%s)', (text, reason) => {
    expect(isIpv6Text(text)).toBe(false);
    expect(() => parseIpv6(text)).toThrow(InvalidIpError);
    expect(() => parseIpv6(text)).toThrow(`invalid IPv6 address "${text}"`);
    expect(() => parseIpv6(text)).toThrow(reason);
  });
});

describe('formatIpv6', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:DB8::ABCD', '2001:db8::abcd'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['::ffff:c000:0201', '::ffff:192.0.2.1'],
  ])('formats %s as %s (RFC 5952)', (text, expected) => {
    expect(formatIpv6(parseIpv6(text))).toBe(expected);
  });

  it('reads at an offset inside a larger buffer', () => {
    const column = new Uint8Array(48);
    column.set(parseIpv6('2001:db8::7'), 16);
    expect(formatIpv6(column, 16)).toBe('2001:db8::7');
  });

  it('round-trips any 16 bytes through parseIpv6', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => hex(parseIpv6(formatIpv6(bytes))) === hex(bytes)),
    );
  });

  it('round-trips addresses with long zero runs', () => {
    const sparseBytes = fc.array(fc.constantFrom(0, 0, 0, 1, 0xff), { minLength: 16, maxLength: 16 }).map((b) => Uint8Array.from(b));
    fc.assert(fc.property(sparseBytes, (bytes) => hex(parseIpv6(formatIpv6(bytes))) === hex(bytes)));
  });
});

describe('word and prefix helpers', () => {
  it('converts between bytes and big-endian words', () => {
    const bytes = parseIpv6('2001:db8:1:2:3:4:5:6');
    const words = new Uint32Array(4);
    readIpv6Words(bytes, 0, words);
    expect(Array.from(words)).toEqual([0x20010db8, 0x00010002, 0x00030004, 0x00050006]);
    expect(hex(ipv6BytesFromWords(words))).toBe(hex(bytes));
  });

  it('compares leading bits', () => {
    const a = parseIpv6('2001:db8:0:ff00::');
    const b = parseIpv6('2001:db8:0:ffff::1');
    expect(ipv6SharePrefix(a, 0, b, 0, 56)).toBe(true);
    expect(ipv6SharePrefix(a, 0, b, 0, 57)).toBe(false);
    expect(ipv6SharePrefix(a, 0, b, 0, 0)).toBe(true);
    expect(() => ipv6SharePrefix(a, 0, b, 0, 129)).toThrow(RangeError);
  });

  it('clears host bits', () => {
    expect(formatIpv6(ipv6NetworkOf(parseIpv6('2001:db8:1:2ff::1'), 0, 56))).toBe('2001:db8:1:200::');
    expect(formatIpv6(ipv6NetworkOf(parseIpv6('2001:db8:1:2ff::1'), 0, 128))).toBe('2001:db8:1:2ff::1');
  });
});
