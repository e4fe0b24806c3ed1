/**
 * Reading a process's /metrics: the Prometheus text format, parsed just enough to sum a
 * metric over the series whose labels match.
 */
import { get } from 'node:http';

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export class MetricsSnapshot {
  constructor(readonly samples: readonly Sample[]) {}

  /** Sum of `name` over the series whose labels include `labels` (0 when there is none). */
  sum(name: string, labels: Readonly<Record<string, string>> = {}): number {
    let total = 0;
    for (const sample of this.samples) {
      if (sample.name !== name) continue;
      if (Object.entries(labels).every(([key, value]) => sample.labels[key] === value)) total += sample.value;
    }
    return total;
  }

  /** Every series of `name`. */
  series(name: string): Sample[] {
    return this.samples.filter((sample) => sample.name === name);
  }
}

export function parsePrometheusText(text: string): MetricsSnapshot {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2].replace(/\\(.)/g, '$1');
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return new MetricsSnapshot(samples);
}

/** GET http://host:port/metrics with an API key (no keep-alive: the process may be killed next). */
export function scrapeMetrics(host: string, port: number, apiKey: string, timeoutMs = 3_000): Promise<MetricsSnapshot> {
  return new Promise((resolve, reject) => {
    const headers = { connection: 'close', authorization: `Bearer ${apiKey}` };
    const request = get({ host, port, path: '/metrics', agent: false, timeout: timeoutMs, headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        if (response.statusCode !== 200) reject(new Error(`GET :${port}/metrics answered ${response.statusCode}: ${body.slice(0, 200)}`));
        else resolve(parsePrometheusText(body));
      });
      response.on('error', reject);
    });
    request.on('timeout', () => request.destroy(new Error(`GET :${port}/metrics timed out after ${timeoutMs} ms`)));
    request.on('error', reject);
  });
}
