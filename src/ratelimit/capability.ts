import type { Capability } from "../capability.js";
import { type AuthLimiters, authLimiters, registerAuthLimitControls } from "./auth-limits.js";
import { registerRateControls } from "./controls.js";
import { type CounterStore, MemoryCounterStore } from "./limiter.js";
import { MonitoredStore } from "./monitored-store.js";
import { RedisCounterStore } from "./redis-store.js";
import { ApiLimits } from "./request-limits.js";

declare module "../context.js" {
  interface Services {
    /** The authentication surfaces' own limiters (AUTH-7), shared by the portal and the admin sign-in. */
    authLimits: AuthLimiters;
    /** The counter store every limiter uses: Redis when configured (shared by every node), else in process. */
    counters: CounterStore;
  }
}

/**
 * Limits (RATE-1…RATE-5, AUTH-7). One sliding-window engine over one counter store: Redis when REDIS_URL
 * is set, so every node counts together (one Lua script per decision), in process otherwise. The API's
 * limits run as the guard pipeline's first and last steps; the authentication limiters are services.
 */
export const rateLimitCapability: Capability = {
  name: "ratelimit",
  register(_app, ctx) {
    const { config } = ctx;
    const backend = ctx.redis ? "redis" : "memory";
    const counters = new MonitoredStore(
      ctx.redis ? new RedisCounterStore(ctx.redis, config.redisPrefix) : new MemoryCounterStore(),
      ctx.log,
      backend,
    );
    ctx.provide("counters", counters);
    ctx.provide("authLimits", authLimiters(counters, config));
    ctx.guard.setLimits(new ApiLimits(counters, config));

    // RATE-5: an outage is visible where operators look, and its end is noticed without a restart (the
    // probe is a real read of the store).
    ctx.health.add({
      name: "ratelimit",
      required: false,
      probe: async () => {
        await counters.add("health:probe", 60_000, Date.now(), 0).catch(() => {
          throw new Error(counters.problem ?? "rate-limit store unreachable");
        });
      },
    });
    ctx.metrics.gauge("bulwark_ratelimit_store_up", "1 while the rate-limit counter store answers.", () =>
      counters.up ? 1 : 0,
    );
    ctx.metrics.gauge(
      "bulwark_ratelimit_store_errors",
      "Commands the rate-limit counter store failed since start.",
      () => counters.errors,
    );
    registerAuthLimitControls(ctx.posture, config, backend);
    registerRateControls(ctx.posture, config, backend);
  },
};
