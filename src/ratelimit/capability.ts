import type { Capability } from "../capability.js";
import { type AuthLimiters, authLimiters, registerAuthLimitControls } from "./auth-limits.js";
import { type CounterStore, MemoryCounterStore } from "./limiter.js";

declare module "../context.js" {
  interface Services {
    /** The authentication surfaces' own limiters (AUTH-7), shared by the portal and the admin sign-in. */
    authLimits: AuthLimiters;
    /**
     * The counter store every limiter uses. In process today: with several nodes each counts on its own
     * (the security page says so); the shared Redis store plugs in here with RATE-1.
     */
    counters: CounterStore;
  }
}

/** Limits. Today the authentication limiters, in process; the shared store and API tiers come with RATE-1. */
export const rateLimitCapability: Capability = {
  name: "ratelimit",
  register(_app, ctx) {
    const counters = new MemoryCounterStore();
    ctx.provide("counters", counters);
    ctx.provide("authLimits", authLimiters(counters, ctx.config));
    registerAuthLimitControls(ctx.posture, ctx.config);
  },
};
