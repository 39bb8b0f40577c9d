import { describe, expect, it } from "vitest";
import { Limiter, MemoryCounterStore } from "./limiter.js";

describe("sliding-window limiter", () => {
  const W = 60_000;
  const at = (t: number) => () => t;

  it("AUTH-7: refused hits are not counted, so Retry-After only shrinks as time passes", async () => {
    const store = new MemoryCounterStore();
    let now = 10 * W; // the start of a window
    const limiter = new Limiter(store, "t", 3, W, () => now);
    for (let i = 0; i < 3; i++) expect((await limiter.hit("k")).allowed).toBe(true);
    const first = await limiter.hit("k");
    expect(first.allowed).toBe(false);
    now += 1000;
    for (let i = 0; i < 20; i++) await limiter.hit("k");
    const later = await limiter.hit("k");
    expect(later.retryAfterMs).toBe(first.retryAfterMs - 1000);
  });

  it("AUTH-7: Retry-After names the first moment one more hit fits, in this window or the next", async () => {
    const store = new MemoryCounterStore();
    // Three hits at the start of window 10: full until window 11 has decayed them to 2 (a third of it).
    for (let i = 0; i < 3; i++) await new Limiter(store, "t", 3, W, at(10 * W)).hit("k");
    const refused = await new Limiter(store, "t", 3, W, at(10 * W + 30_000)).hit("k");
    expect(refused.retryAfterMs).toBe(30_000 + W / 3);
    expect((await new Limiter(store, "t", 3, W, at(11 * W + W / 3 - 1)).hit("k")).allowed).toBe(false);
    expect((await new Limiter(store, "t", 3, W, at(11 * W + W / 3)).hit("k")).allowed).toBe(true);
  });
});
