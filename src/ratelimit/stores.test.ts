import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { needs } from "../../test/services.js";
import { type CounterStore, Limiter, MemoryCounterStore } from "./limiter.js";
import { RedisCounterStore } from "./redis-store.js";

// Every case runs against the memory store, and against Redis when there is one: the shared store must
// give the same answers (RATE-1). Each store made gets its own prefix, so the cases cannot see each other.
const W = 60_000; // long enough that the keys' wall-clock TTL (2 W) never fires during a test
const PREFIX = `t:${randomBytes(6).toString("hex")}:`;
const clients: Redis[] = [];
let made = 0;
function redisStore(prefix = `${PREFIX}${made++}:`): RedisCounterStore {
  const redis = new Redis(process.env.TEST_REDIS_URL ?? "");
  clients.push(redis);
  return new RedisCounterStore(redis, prefix);
}
afterAll(async () => {
  // The keys would expire by themselves in 2 W; a shared Redis is left as it was found.
  const keys = clients.length ? await clients[0]!.keys(`${PREFIX}*`) : [];
  if (keys.length) await clients[0]!.del(...keys);
  await Promise.all(clients.map((c) => c.quit()));
});

const stores: { name: string; make: () => CounterStore }[] = [
  { name: "memory", make: () => new MemoryCounterStore() },
  ...(needs("redis") ? [{ name: "redis", make: () => redisStore() }] : []),
];

describe.each(stores)("$name counter store", ({ make }) => {
  it("RATE-1: N allowed and N+1 refused at the boundary, under concurrent requests", async () => {
    const N = 25;
    const limiter = new Limiter(make(), "t", N, W, () => 10 * W + 1234);
    const decisions = await Promise.all(Array.from({ length: 3 * N }, () => limiter.hit("k")));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(N);
    expect(decisions.filter((d) => !d.allowed).every((d) => d.retryAfterMs > 0)).toBe(true);
    expect((await limiter.check("k")).remaining).toBe(0);
  });

  it("RATE-1: a refund comes out of the window the hit went into, never below zero", async () => {
    const store = make();
    for (let i = 0; i < 3; i++) await store.add("k", W, 10 * W + 100, 1);
    // Half-way through the next window: the three hits are `previous`, weighing half.
    await store.refund("k", W, 10 * W + 100, 11 * W + W / 2);
    expect(await store.add("k", W, 11 * W + W / 2, 0)).toMatchObject({ previous: 2, current: 0, count: 1 });
    for (let i = 0; i < 5; i++) await store.refund("k", W, 10 * W, 11 * W + W / 2);
    expect(await store.add("k", W, 11 * W + W / 2, 0)).toMatchObject({ previous: 0, current: 0, count: 0 });
    await store.add("k", W, 11 * W + W / 2, 2);
    await store.refund("k", W, 11 * W + 1, 11 * W + W / 2); // from this window
    await store.refund("k", W, 8 * W, 11 * W + W / 2); // aged out: nothing to give back
    expect(await store.add("k", W, 11 * W + W / 2, 0)).toMatchObject({ previous: 0, current: 1, count: 1 });
  });

  it("RATE-1, OPS-4: a node whose clock is a second behind cannot reset a shared count at a window boundary", async () => {
    const store = make();
    // Node A is just past a minute boundary; node B's clock still reads the previous minute.
    const t = 20 * W + 200;
    const a = new Limiter(store, "skew", 5, W, () => t);
    const b = new Limiter(store, "skew", 5, W, () => t - 1000);
    let allowed = 0;
    for (let i = 0; i < 20; i++) if ((await (i % 2 ? b : a).hit("k")).allowed) allowed++;
    expect(allowed).toBe(5);
  });

  it("RATE-1: a clock that jumped a day ahead and was put back does not hold a counter closed", async () => {
    const store = make();
    const t = 40 * W + 1000;
    await new Limiter(store, "jump", 5, W, () => t + 86_400_000).hit("k");
    const back = new Limiter(store, "jump", 5, W, () => t + 5 * W);
    const allowed: boolean[] = [];
    for (let i = 0; i < 6; i++) allowed.push((await back.hit("k")).allowed);
    expect(allowed).toEqual([true, true, true, true, true, false]);
  });

  it("RATE-1: a refund on an unknown key is a no-op, and reset forgets the key", async () => {
    const store = make();
    await store.refund("none", W, 10 * W, 10 * W);
    expect(await store.add("none", W, 10 * W, 0)).toMatchObject({ count: 0, current: 0, added: true });
    for (let i = 0; i < 3; i++) await store.add("k", W, 10 * W, 1, 3);
    expect((await store.add("k", W, 10 * W, 1, 3)).added).toBe(false);
    await store.reset("k");
    expect(await store.add("k", W, 10 * W, 1, 3)).toMatchObject({ count: 1, current: 1, added: true });
  });
});

describe.runIf(needs("redis"))("Redis counter store (RATE-1)", () => {
  it("RATE-1: both stores agree on a scripted sequence", async () => {
    type Op = ["add", number, number, number?] | ["refund", number, number];
    const script: Op[] = [
      ["add", 10 * W + 12_345, 1, 5],
      ["add", 10 * W + 20_000, 1, 5],
      ["add", 10 * W + 59_999, 3, 5], // refused: 2 + 3 > 5, not recorded
      ["add", 10 * W + 59_999, 3, 5],
      ["add", 11 * W + 7, 1, 5], // previous 5 at weight 0.99988…: refused
      ["add", 11 * W + 12_345, 0],
      ["add", 11 * W + 12_001, 1, 5.1], // 5·0.79998… + 0 + 1 ≤ 5.1
      ["refund", 10 * W + 1, 11 * W + 30_000],
      ["refund", 11 * W + 9, 11 * W + 40_000],
      ["refund", 11 * W + 9, 11 * W + 40_000], // never below zero
      ["add", 11 * W + 59_000, 1, 4],
      ["add", 10 * W + 5, 0], // a node whose clock is behind: back to window 10, as the memory store does
      ["add", 11 * W + 1, 1, 4],
      ["add", 14 * W + 333, 1, 4], // a gap of windows: nothing carried over
      ["refund", 13 * W + 1, 14 * W + 500], // aged out
      ["add", 15 * W + 40_000.5, 2, 4], // a fractional clock
      ["add", 15 * W + 40_000.75, 0],
    ];
    // And a seeded random walk over a few windows, with caps that make refusals common.
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 48_271) % 2_147_483_647; // MINSTD: exact in doubles
      return seed % n;
    };
    let t = 20 * W;
    for (let i = 0; i < 400; i++) {
      t += rnd(9000) - 1000;
      if (rnd(5) === 0) script.push(["refund", t - rnd(2 * W), t]);
      else script.push(["add", t, rnd(3), rnd(8) + 0.5]);
    }
    const run = async (store: CounterStore) => {
      const out: unknown[] = [];
      for (const op of script) {
        if (op[0] === "add") out.push(await store.add("k", W, op[1], op[2], op[3]));
        else out.push(await store.refund("k", W, op[1], op[2]), await store.add("k", W, op[2], 0));
      }
      return out;
    };
    const memory = await run(new MemoryCounterStore());
    const redis = await run(redisStore());
    expect(redis).toEqual(memory);
    const refused = memory.filter((r) => (r as { added?: boolean } | undefined)?.added === false);
    expect(refused.length).toBeGreaterThan(50); // the sequence does exercise refusals…
    const fractional = memory.filter(
      (r) => !Number.isInteger((r as { count?: number } | undefined)?.count ?? 0),
    );
    expect(fractional.length).toBeGreaterThan(50); // …and fractional weights
  });

  it("RATE-1: two nodes share one limit", async () => {
    const prefix = `${PREFIX}nodes:`;
    const nodes = [redisStore(prefix), redisStore(prefix)].map(
      (s) => new Limiter(s, "t", 10, W, () => 10 * W + 5),
    );
    const decisions = await Promise.all(Array.from({ length: 40 }, (_, i) => nodes[i % 2]!.hit("k")));
    expect(decisions.filter((d) => d.allowed)).toHaveLength(10);
  });
});

it("RATE-1: a Redis error rejects, so the caller applies its fail-open or fail-closed policy", async () => {
  const redis = new Redis("redis://127.0.0.1:1", {
    lazyConnect: true,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  redis.on("error", () => {});
  const store = new RedisCounterStore(redis, "t:");
  await expect(store.add("k", W, 10 * W, 1, 3)).rejects.toThrow();
  await expect(store.refund("k", W, 10 * W, 10 * W)).rejects.toThrow();
  await expect(store.reset("k")).rejects.toThrow();
  redis.disconnect();
});

describe("in-process counter store bounds", () => {
  it("AUTH-7: a flood of one limiter's keys never evicts another limiter's counts, and stays bounded", async () => {
    const store = new MemoryCounterStore(1000);
    const t = 30 * W;
    const login = new Limiter(store, "login-ip", 3, 15 * W, () => t);
    for (let i = 0; i < 3; i++) await login.hit("198.51.100.1");
    expect((await login.hit("198.51.100.1")).allowed).toBe(false);
    // 20,000 fresh addresses on another limiter, a few minutes later.
    const api = new Limiter(store, "ip", 100, W, () => t + 3 * W);
    for (let i = 0; i < 20_000; i++) await api.hit(`10.0.${i >> 8}.${i & 255}`);
    const later = new Limiter(store, "login-ip", 3, 15 * W, () => t + 3 * W);
    expect((await later.hit("198.51.100.1")).allowed).toBe(false);
    expect(
      (store as unknown as { maps: Map<string, Map<string, unknown>> }).maps.get("ip:")!.size,
    ).toBeLessThanOrEqual(1000);
  });
});
