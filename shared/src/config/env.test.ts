import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, envBool, envInt, parseEnv } from './env.js';
import { loadStoresConfig } from './stores.js';

describe('configuration from the environment', () => {
  it('applies defaults and parses typed values', () => {
    const schema = z.object({ PORT: envInt(1, 65535, 2055), ON: envBool(false) });
    expect(parseEnv(schema, {})).toEqual({ PORT: 2055, ON: false });
    expect(parseEnv(schema, { PORT: '4739', ON: 'yes' })).toEqual({ PORT: 4739, ON: true });
    expect(parseEnv(schema, { PORT: '' })).toEqual({ PORT: 2055, ON: false });
  });

  it('names every bad variable with its value', () => {
    const schema = z.object({ PORT: envInt(1, 65535, 2055), ON: envBool(false) });
    try {
      parseEnv(schema, { PORT: '70000', ON: 'maybe' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const msg = (e as Error).message;
      expect(msg).toContain('PORT="70000": expected an integer from 1 to 65535');
      expect(msg).toContain('ON="maybe": expected true or false');
    }
  });

  it('store URLs are checked for their scheme', () => {
    expect(loadStoresConfig({}).REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(() => loadStoresConfig({ DATABASE_URL: 'mysql://x' })).toThrow(/DATABASE_URL="mysql:\/\/x": expected a postgres: or postgresql: URL/);
    expect(() => loadStoresConfig({ REDIS_PREFIX: 'bad prefix' })).toThrow(/REDIS_PREFIX/);
  });
});
