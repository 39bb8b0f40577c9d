import type { Redis } from "ioredis";

/**
 * Usage counters per organisation, unit and month (RATE-6): one atomic increment per metered action,
 * in Redis when configured (every node adds to the same count), in process otherwise. Keys expire a few
 * days after their month, so nothing needs sweeping.
 */
export interface UsageStore {
  /** Adds `by` (may be negative, to give back a refused unit) and returns the new total. */
  add(key: string, by: number, ttlMs: number): Promise<number>;
  get(key: string): Promise<number>;
}

export class MemoryUsageStore implements UsageStore {
  private readonly map = new Map<string, { n: number; until: number }>();

  async add(key: string, by: number, ttlMs: number): Promise<number> {
    const now = Date.now();
    const e = this.map.get(key);
    const n = (e && e.until > now ? e.n : 0) + by;
    this.map.set(key, { n, until: now + ttlMs });
    return n;
  }

  async get(key: string): Promise<number> {
    const e = this.map.get(key);
    return e && e.until > Date.now() ? e.n : 0;
  }
}

const INCR = `local v = redis.call("INCRBY", KEYS[1], ARGV[1])
redis.call("PEXPIRE", KEYS[1], ARGV[2])
return v`;

export class RedisUsageStore implements UsageStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {
    if (!("bulwarkUsageAdd" in redis)) redis.defineCommand("bulwarkUsageAdd", { numberOfKeys: 1, lua: INCR });
  }

  async add(key: string, by: number, ttlMs: number): Promise<number> {
    const r = this.redis as unknown as {
      bulwarkUsageAdd(k: string, by: number, ttl: number): Promise<number>;
    };
    return Number(await r.bulwarkUsageAdd(`${this.prefix}usage:${key}`, by, ttlMs));
  }

  async get(key: string): Promise<number> {
    return Number((await this.redis.get(`${this.prefix}usage:${key}`)) ?? 0);
  }
}
