/**
 * A short, bounded load run against the usage route of a running API (loopback by
 * default), with autocannon. The API test suite runs it for 2 s against a real port;
 * operators run it against the local stack:
 *
 *   pnpm --filter @flowbill/api bench --key "$API_KEY" --subscriber demo-1
 *
 * Exit status 1 when any request failed or answered non-2xx.
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import autocannon from 'autocannon';

export interface UsageLoadOptions {
  baseUrl: string;
  apiKey: string;
  subscriberId: string;
  from: string;
  to: string;
  step: '1m' | '1h' | '1d';
  durationSeconds: number;
  connections: number;
}

export interface UsageLoadSummary {
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  requestsPerSecond: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
}

/** Hard cap, so a typo cannot start an hour-long run. */
const MAX_DURATION_SECONDS = 60;

export async function runUsageLoad(options: UsageLoadOptions): Promise<UsageLoadSummary> {
  if (!(options.durationSeconds > 0 && options.durationSeconds <= MAX_DURATION_SECONDS)) {
    throw new RangeError(`duration must be 1-${MAX_DURATION_SECONDS} s`);
  }
  if (!(Number.isInteger(options.connections) && options.connections >= 1 && options.connections <= 1000)) {
    throw new RangeError('connections must be an integer from 1 to 1000');
  }
  const query = new URLSearchParams({ from: options.from, to: options.to, step: options.step });
  const url = new URL(`/v1/subscribers/${encodeURIComponent(options.subscriberId)}/usage?${query}`, options.baseUrl);
  const result = await autocannon({
    url: url.toString(),
    headers: { authorization: `Bearer ${options.apiKey}` },
    connections: options.connections,
    duration: options.durationSeconds,
    timeout: 5,
  });
  return {
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    requestsPerSecond: result.requests.average,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  };
}

async function cli(): Promise<void> {
  // `pnpm run bench -- --key …` passes the `--` through; parseArgs would stop there.
  const args = process.argv.slice(2);
  if (args[0] === '--') args.shift();
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:8080' },
      key: { type: 'string', default: process.env.API_KEY },
      subscriber: { type: 'string' },
      from: { type: 'string', default: '2026-03-01T00:00:00Z' },
      to: { type: 'string', default: '2026-03-02T00:00:00Z' },
      step: { type: 'string', default: '1h' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '10' },
    },
  });
  if (!values.key || !values.subscriber) {
    throw new Error('usage: usage-load --key <API key> (or API_KEY) --subscriber <id> [--url --from --to --step --duration --connections]');
  }
  if (values.step !== '1m' && values.step !== '1h' && values.step !== '1d') throw new Error('--step must be 1m, 1h or 1d');
  const summary = await runUsageLoad({
    baseUrl: values.url,
    apiKey: values.key,
    subscriberId: values.subscriber,
    from: values.from,
    to: values.to,
    step: values.step,
    durationSeconds: Number(values.duration),
    connections: Number(values.connections),
  });
  console.log(JSON.stringify(summary, null, 2));
  if (summary.errors > 0 || summary.non2xx > 0) process.exitCode = 1;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  cli().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
