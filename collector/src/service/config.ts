/**
 * Configuration of the collector and flusher processes, from the environment (zod).
 * Every variable has a default that works for a local install; a wrong value stops start-up
 * with a message naming the variable.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { envBool, envInt, envString, parseEnv } from '@flowbill/shared/config/index';
import { parseAddressOrPrefix } from '@flowbill/shared/ip/index';
import { parseListenList, type ListenAddress } from './udp-listener.js';

const idPattern = /^[A-Za-z0-9_.-]{1,64}$/;
const defaultId = hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64) || 'collector';

const listenList = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx): ListenAddress[] => {
      try {
        return parseListenList(v ?? fallback);
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

const hostPort = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx): ListenAddress => {
      try {
        const [one] = parseListenList(v ?? fallback);
        return one;
      } catch (e) {
        ctx.addIssue({ code: 'custom', message: (e as Error).message });
        return z.NEVER;
      }
    });

/** A byte count: plain digits, or with a KiB/MiB/GiB suffix ("64MiB"); checked against min..max. */
const byteSize = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx): number => {
      if (v === undefined) return fallback;
      const human = (n: number) => (n % (1 << 30) === 0 ? `${n / (1 << 30)} GiB` : `${n / (1 << 20)} MiB`);
      const m = /^\s*(\d+)\s*(KiB|MiB|GiB)?\s*$/i.exec(v);
      const unit = m?.[2]?.toLowerCase();
      const n = m ? Number(m[1]) * (unit === 'gib' ? 1 << 30 : unit === 'mib' ? 1 << 20 : unit === 'kib' ? 1024 : 1) : NaN;
      if (!Number.isSafeInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: 'custom', message: `expected a size in bytes from ${min} (${human(min)}) to ${max} (${human(max)}), digits with an optional KiB/MiB/GiB suffix` });
        return z.NEVER;
      }
      return n;
    });

/** "a/8, b/16" -> validated prefix texts. */
const prefixList = (fallback: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx): string[] => {
      const items = (v ?? fallback).split(',').map((s) => s.trim()).filter(Boolean);
      for (const item of items) {
        try {
          parseAddressOrPrefix(item);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: (e as Error).message });
          return z.NEVER;
        }
      }
      return items;
    });

/** "local=192.0.2.0/24,2001:db8::/32; ix=198.51.100.0/24" -> { local: [...], ix: [...] }. */
const classList = z
  .string()
  .optional()
  .transform((v, ctx): Record<string, string[]> => {
    const out: Record<string, string[]> = {};
    for (const part of (v ?? '').split(';').map((s) => s.trim()).filter(Boolean)) {
      const eq = part.indexOf('=');
      const name = eq > 0 ? part.slice(0, eq).trim() : '';
      if (!/^[a-z][a-z0-9_-]{0,31}$/.test(name)) {
        ctx.addIssue({ code: 'custom', message: `"${part}": expected NAME=PREFIX,PREFIX (name: lowercase letters, digits, _ -)` });
        return z.NEVER;
      }
      const prefixes = part.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean);
      for (const p of prefixes) {
        try {
          parseAddressOrPrefix(p);
        } catch (e) {
          ctx.addIssue({ code: 'custom', message: `class ${name}: ${(e as Error).message}` });
          return z.NEVER;
        }
      }
      out[name] = prefixes;
    }
    return out;
  });

/** "192.0.2.1=1000, [2001:db8::1]:2055=512" -> overrides for the decoder. */
const overrides = z
  .string()
  .optional()
  .transform((v, ctx): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const part of (v ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
      const eq = part.lastIndexOf('=');
      const rate = Number(part.slice(eq + 1));
      if (eq <= 0 || !Number.isInteger(rate) || rate < 1) {
        ctx.addIssue({ code: 'custom', message: `"${part}": expected EXPORTER=RATE with an integer rate >= 1` });
        return z.NEVER;
      }
      out[part.slice(0, eq)] = rate;
    }
    return out;
  });

export const collectorConfigSchema = z.object({
  COLLECTOR_ID: envString(defaultId, idPattern, 'letters, digits, _ . - (at most 64)'),
  COLLECTOR_LISTEN: listenList('0.0.0.0:2055,[::]:2055,0.0.0.0:4739,[::]:4739'),
  /** Routers allowed to send flows. Default: only this machine (an operator must name the routers). */
  COLLECTOR_EXPORTERS: prefixList('127.0.0.0/8,::1/128'),
  COLLECTOR_RECEIVE_BUFFER_BYTES: envInt(65536, 1 << 30, 32 * 1024 * 1024),
  /** Receive UDP in a thread of its own, through a ring the main thread drains (receiver/). */
  COLLECTOR_RECEIVE_THREAD: envBool(true),
  /**
   * How the receive thread reads its sockets: "native" (collector/native, recvmmsg batches;
   * built by pnpm install where a C compiler is present), "node" (node:dgram), or "auto"
   * (native where it loads, else node:dgram with a line in the log).
   */
  COLLECTOR_RECEIVER: z
    .enum(['auto', 'native', 'node'], { error: 'expected auto, native or node' })
    .optional()
    .transform((v) => v ?? 'auto'),
  /**
   * With the receive thread: decode and attribute in a thread of their own too (between two
   * rings; receiver/pipeline-worker.ts), leaving aggregation and Redis to the main thread.
   * Off by default: on two cores shared with other work it costs more than it gains
   * (bench/RESULTS.md, "Ingestion"); it lets one process use a third core where there is one.
   */
  COLLECTOR_PIPELINE_THREAD: envBool(false),
  /** Size of that ring: how much a main-thread pause may queue before datagrams are dropped. */
  COLLECTOR_RING_BYTES: byteSize(1 << 20, 1 << 30, 64 * 1024 * 1024),
  COLLECTOR_CLASSES: classList,
  COLLECTOR_DEFAULT_CLASS: envString('internet', /^[a-z][a-z0-9_-]{0,31}$/, 'a class name (lowercase letters, digits, _ -)'),
  COLLECTOR_SAMPLING_OVERRIDES: overrides,
  COLLECTOR_TEMPLATE_TIMEOUT_SECONDS: envInt(60, 7 * 86400, 3600),
  /** Where template state is saved for a fast restart; empty = not saved. */
  COLLECTOR_STATE_FILE: envString('', /^[^\0]*$/, 'a file path'),
  /**
   * How often aggregates go to Redis: the most a kill -9 loses. Every push appends its own
   * line per key to the minute strings, so Redis memory grows with pushes (src/redis/README.md).
   */
  COLLECTOR_PUSH_INTERVAL_MS: envInt(20, 60_000, 1_000),
  COLLECTOR_ASSIGNMENT_RELOAD_SECONDS: envInt(1, 86400, 60),
  COLLECTOR_METRICS_LISTEN: hostPort('127.0.0.1:9102'),
});
export type CollectorConfig = z.infer<typeof collectorConfigSchema>;

export const flusherConfigSchema = z.object({
  FLUSHER_ID: envString(`${defaultId}-flusher`, idPattern, 'letters, digits, _ . - (at most 64)'),
  FLUSHER_CLOSE_DELAY_MS: envInt(0, 3_600_000, 90_000),
  FLUSHER_CLAIM_INTERVAL_MS: envInt(100, 600_000, 5_000),
  FLUSHER_MAX_INSERT_ROWS: envInt(1, 1_000_000, 50_000),
  /** Lease on a claimed batch: how long a dead flusher's batches wait before another takes them. */
  FLUSHER_LEASE_MS: envInt(40_000, 3_600_000, 120_000),
  FLUSHER_METRICS_LISTEN: hostPort('127.0.0.1:9103'),
});
export type FlusherConfig = z.infer<typeof flusherConfigSchema>;

export function loadCollectorConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): CollectorConfig {
  return parseEnv(collectorConfigSchema, env);
}

export function loadFlusherConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): FlusherConfig {
  return parseEnv(flusherConfigSchema, env);
}
