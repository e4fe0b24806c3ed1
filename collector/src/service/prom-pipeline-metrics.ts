/** Connects the pipeline's metric hooks (redis/pipeline-metrics.ts) to prom-client as `flowbill_<name>`. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { PipelineCounter, PipelineGauge, PipelineHistogram, PipelineMetrics } from '../redis/index.js';

export class PromPipelineMetrics implements PipelineMetrics {
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();
  private readonly histograms = new Map<string, Histogram>();

  constructor(private readonly registry: Registry) {}

  increment(name: PipelineCounter, value = 1): void {
    let c = this.counters.get(name);
    if (!c) {
      c = new Counter({ name: `flowbill_${name}`, help: `Pipeline counter ${name} (see collector/src/redis/pipeline-metrics.ts)`, registers: [this.registry] });
      this.counters.set(name, c);
    }
    c.inc(value);
  }

  observe(name: PipelineHistogram, value: number): void {
    let h = this.histograms.get(name);
    if (!h) {
      h = new Histogram({
        name: `flowbill_${name}`,
        help: `Pipeline latency ${name} (see collector/src/redis/pipeline-metrics.ts)`,
        buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
        registers: [this.registry],
      });
      this.histograms.set(name, h);
    }
    h.observe(value);
  }

  set(name: PipelineGauge, value: number): void {
    let g = this.gauges.get(name);
    if (!g) {
      g = new Gauge({ name: `flowbill_${name}`, help: `Pipeline gauge ${name} (see collector/src/redis/pipeline-metrics.ts)`, registers: [this.registry] });
      this.gauges.set(name, g);
    }
    g.set(value);
  }
}
