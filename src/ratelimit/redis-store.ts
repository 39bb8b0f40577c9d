import type { Redis } from "ioredis";
import type { CounterStore } from "./limiter.js";

/**
 * Rolls the stored counter forward to the caller's window, exactly as MemoryCounterStore does: the
 * window just ended becomes `previous`, anything older is forgotten. Window starts are compared as the
 * strings the caller sent (JavaScript's round-trip spelling), never as Lua numbers: Lua prints numbers
 * with 14 significant digits, which would make equal windows look different on a fractional clock.
 * A counter never rolls backwards by skew: a node whose clock is behind (its window at most one window
 * older than the stored one) counts into the stored window at full weight, so clock skew between nodes
 * cannot reset a count; a stored window further ahead (a clock that jumped and was put back) is reset. (Which
 * is later is decided on the numbers, exact for these integer millisecond starts.)
 */
const ROLL = `
local h = redis.call("HMGET", KEYS[1], "start", "current", "previous")
local current, previous = tonumber(h[2]) or 0, tonumber(h[3]) or 0
local behind = h[1] ~= false and tonumber(h[1]) > tonumber(ARGV[1])
  and tonumber(h[1]) - tonumber(ARGV[1]) <= tonumber(ARGV[1]) - tonumber(ARGV[2])
local rolled = not behind and h[1] ~= ARGV[1]
if rolled then
  if h[1] == ARGV[2] then previous = current else previous = 0 end
  current = 0
end
`;

/**
 * ARGV: start, previous start, weight, by, cap ("" for none), ttl. The weight is computed by the caller
 * and sent in its round-trip spelling, so `previous * weight + current + by <= cap` is the same IEEE
 * double arithmetic, in the same order, as in memory. A refused hit writes nothing; a read (by = 0)
 * writes only the roll, so a key that never took a hit is never created. Counts come back as integers
 * (Redis truncates Lua numbers, harmless since hits are whole); the fractional count is left to the caller.
 */
const ADD = `${ROLL}
local by, cap = tonumber(ARGV[4]), tonumber(ARGV[5])
local weight = tonumber(ARGV[3])
if behind then weight = 1 end
local added = cap == nil or previous * weight + current + by <= cap
if added then current = current + by end
if (rolled and h[1]) or (added and by ~= 0) then
  redis.call("HSET", KEYS[1], "start", behind and h[1] or ARGV[1], "current", current, "previous", previous)
  redis.call("PEXPIRE", KEYS[1], ARGV[6])
end
return {previous, current, added and 1 or 0, behind and 1 or 0}
`;

/** ARGV: start, previous start, the refunded hit's window start, ttl. A missing key has nothing to give back. */
const REFUND = `${ROLL}
if not h[1] then return 0 end
if behind or ARGV[3] == ARGV[1] then current = math.max(0, current - 1)
elseif ARGV[3] == ARGV[2] then previous = math.max(0, previous - 1) end
redis.call("HSET", KEYS[1], "start", behind and h[1] or ARGV[1], "current", current, "previous", previous)
redis.call("PEXPIRE", KEYS[1], ARGV[4])
return 1
`;

type Arg = string | number;
interface Scripted {
  bulwarkRateAdd(key: string, ...args: Arg[]): Promise<[number, number, number, number]>;
  bulwarkRateRefund(key: string, ...args: Arg[]): Promise<number>;
}

/**
 * The shared counter store (RATE-1): every node counts against the same Redis hash per key, so a limit
 * holds across the cluster and not once per node. Guarantees:
 * - Same answers as MemoryCounterStore for the same calls: the caller's clock (`now`) decides the
 *   window, never Redis TIME, so a frozen test clock and the limiter's own clock behave identically.
 * - Each decision is one atomic script (one round trip): concurrent hits on several nodes cannot all
 *   pass a check made before any of them counted.
 * - Keys expire by themselves 2 windows after their last write (wall-clock TTL): by then the counts no
 *   longer weigh on any window, so nothing needs sweeping.
 * - Redis errors reject the promise: the caller applies its fail-open or fail-closed policy.
 * Each counter is a hash `${prefix}rl:${key}` with fields start, current and previous.
 */
export class RedisCounterStore implements CounterStore {
  private readonly redis: Redis & Scripted;

  constructor(
    redis: Redis,
    private readonly prefix: string,
  ) {
    // defineCommand sends EVALSHA, falling back to EVAL once per connection: one round trip per call.
    redis.defineCommand("bulwarkRateAdd", { numberOfKeys: 1, lua: ADD });
    redis.defineCommand("bulwarkRateRefund", { numberOfKeys: 1, lua: REFUND });
    this.redis = redis as Redis & Scripted;
  }

  async add(key: string, windowMs: number, now: number, by: number, cap = Number.POSITIVE_INFINITY) {
    const start = now - (now % windowMs);
    const own = 1 - (now - start) / windowMs;
    const [previous, current, added, behind] = await this.redis.bulwarkRateAdd(
      this.key(key),
      String(start),
      String(start - windowMs),
      String(own),
      String(by),
      Number.isFinite(cap) ? String(cap) : "",
      Math.ceil(2 * windowMs),
    );
    const weight = behind === 1 ? 1 : own;
    return {
      count: previous * weight + current + (added ? 0 : by),
      windowStart: start,
      previous,
      current,
      added: added === 1,
    };
  }

  async refund(key: string, windowMs: number, at: number, now: number): Promise<void> {
    const start = now - (now % windowMs);
    await this.redis.bulwarkRateRefund(
      this.key(key),
      String(start),
      String(start - windowMs),
      String(at - (at % windowMs)),
      Math.ceil(2 * windowMs),
    );
  }

  async reset(key: string): Promise<void> {
    await this.redis.del(this.key(key));
  }

  private key(key: string): string {
    return `${this.prefix}rl:${key}`;
  }
}
