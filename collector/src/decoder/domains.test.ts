import { describe, expect, it } from 'vitest';
import { FlowDecoder } from './index.js';
import { ipfixMessage, TYPICAL_IPFIX_IPV4_FIELDS } from './testing/message-builder.js';

const tmpl = (domain: number) =>
  ipfixMessage({ exportTime: 1_700_000_000, sequence: 0, observationDomain: domain }, [{ kind: 'template', templates: [{ id: 300, fields: TYPICAL_IPFIX_IPV4_FIELDS }] }]);
const bare = (domain: number) => ipfixMessage({ exportTime: 1_700_000_000, sequence: 0, observationDomain: domain }, []);

describe('observation domain state is bounded', () => {
  it('past maxDomainsPerExporter the least recently seen domain is forgotten and counted', () => {
    const d = new FlowDecoder({ onBatch: () => undefined, maxDomainsPerExporter: 3 });
    for (let k = 0; k < 3; k++) d.decode(tmpl(k), '192.0.2.1', 2055, 1000 + k);
    d.decode(bare(0), '192.0.2.1', 2055, 2000); // domain 0 is now the most recent
    d.decode(tmpl(99), '192.0.2.1', 2055, 3000); // evicts domain 1 (seen at 1001)
    const snap = d.exportState(3000);
    const domains = snap.exporters[0].domains.map((x) => x.observationDomain).sort((a, b) => a - b);
    expect(domains).toEqual([0, 2, 99]);
    expect(d.stats()[0].domainsEvicted).toBe(1);
  });

  it('expire() forgets domains that are idle and hold no templates', () => {
    const d = new FlowDecoder({ onBatch: () => undefined, templateIdleTimeoutMs: 1000 });
    d.decode(bare(5), '192.0.2.1', 2055, 0); // a domain with no templates
    d.decode(tmpl(6), '192.0.2.1', 2055, 0);
    d.expire(500);
    expect(d.exportState(500).exporters[0].domains).toHaveLength(2);
    d.expire(5000);
    // Templates expired, then both idle domains went.
    expect(d.exportState(5000).exporters).toHaveLength(0);
    expect(d.stats()[0].templatesExpired).toBe(1);
  });

  it('a flood of distinct source ids from one exporter keeps memory flat', () => {
    const d = new FlowDecoder({ onBatch: () => undefined, maxDomainsPerExporter: 64 });
    for (let k = 0; k < 5000; k++) d.decode(tmpl(k), '192.0.2.1', 2055, k);
    expect(d.exportState(5000).exporters[0].domains.length).toBeLessThanOrEqual(64);
    expect(d.stats()[0].domainsEvicted).toBe(5000 - 64);
  });
});
