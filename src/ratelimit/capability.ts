import type { Capability } from "../capability.js";
import { type AuthLimiters, authLimiters, registerAuthLimitControls } from "./auth-limits.js";
import { MemoryCounterStore } from "./limiter.js";

declare module "../context.js" {
  interface Services {
    /** The authentication surfaces' own limiters (AUTH-7), shared by the portal and the admin sign-in. */
    authLimits: AuthLimiters;
  }
}

/** Limits. Today the authentication limiters, in process; the shared store and API tiers come with RATE-1. */
export const rateLimitCapability: Capability = {
  name: "ratelimit",
  register(_app, ctx) {
    ctx.provide("authLimits", authLimiters(new MemoryCounterStore(), ctx.config));
    registerAuthLimitControls(ctx.posture, ctx.config);
  },
};
