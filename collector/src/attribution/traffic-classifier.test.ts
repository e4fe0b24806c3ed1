import { describe, expect, it } from 'vitest';
import { parseIpv4, parseIpv6 } from '@flowbill/shared/ip/index';
import { AttributionTableError } from './attribution-table-error.js';
import { TrafficClassifier } from './traffic-classifier.js';

describe('TrafficClassifier', () => {
  const classifier = TrafficClassifier.build({
    classes: {
      local: ['80.81.192.0/21', '2001:7f8::/32'],
      'national-peering': ['80.81.194.0/24', '185.1.0.0/16'],
      cdn: ['2001:7f8:1::/48', '192.0.2.10'],
    },
  });

  it('classifies by longest prefix across all lists', () => {
    expect(classifier.classOf4(parseIpv4('80.81.192.1'))).toBe('local');
    expect(classifier.classOf4(parseIpv4('80.81.194.1'))).toBe('national-peering');
    expect(classifier.classOf4(parseIpv4('185.1.77.1'))).toBe('national-peering');
    expect(classifier.classOf4(parseIpv4('192.0.2.10'))).toBe('cdn');
    expect(classifier.classOf6(parseIpv6('2001:7f8:1::5'), 0)).toBe('cdn');
    expect(classifier.classOf6(parseIpv6('2001:7f8:2::5'), 0)).toBe('local');
  });

  it('puts everything else in "internet"', () => {
    expect(classifier.classOf4(parseIpv4('8.8.8.8'))).toBe('internet');
    expect(classifier.classOf4(parseIpv4('192.0.2.11'))).toBe('internet');
    expect(classifier.classOf6(parseIpv6('2a00::1'), 0)).toBe('internet');
    expect(classifier.defaultClass).toBe('internet');
  });

  it('lists the class names with the default last', () => {
    expect(classifier.classNames).toEqual(['local', 'national-peering', 'cdn', 'internet']);
  });

  it('takes a configured default class name', () => {
    const custom = TrafficClassifier.build({ classes: { local: ['10.0.0.0/8'] }, defaultClass: 'transit' });
    expect(custom.classOf4(parseIpv4('11.0.0.1'))).toBe('transit');
    expect(custom.classOf4(parseIpv4('10.0.0.1'))).toBe('local');
    expect(TrafficClassifier.allDefault('upstream').classOf4(0)).toBe('upstream');
  });

  it('rejects invalid prefixes, duplicates across classes and an empty default, listing all', () => {
    let caught: unknown;
    try {
      TrafficClassifier.build({
        classes: { local: ['80.81.192.1/21', '10.0.0.0/8'], cdn: ['10.0.0.0/8', 'fe80::1%eth0'] },
        defaultClass: '',
      });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(AttributionTableError);
    expect((caught as AttributionTableError).problems).toEqual([
      'the default class name must be a non-empty string, got ""',
      'class "local": invalid prefix "80.81.192.1/21": host bits are set after the first 21 bits (the network is 80.81.192.0/21)',
      '10.0.0.0/8 is listed in both class "local" and class "cdn"',
      'class "cdn": invalid IPv6 address "fe80::1%eth0": zone ids (%...) are not allowed',
    ]);
    expect((caught as Error).message).toMatch(/^4 problems in traffic classes:\n- /);
  });
});
