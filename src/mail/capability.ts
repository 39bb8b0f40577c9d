import type { Capability } from "../capability.js";
import { createMailer, type Mailer } from "./mailer.js";

declare module "../context.js" {
  interface Services {
    mailer: Mailer;
  }
}

/** Mail: SMTP when SMTP_URL is set (reported by /health), `.eml` files otherwise; tests pass their own. */
export function mailCapability(mailer?: Mailer): Capability {
  return {
    name: "mail",
    register(_app, ctx) {
      const m = mailer ?? createMailer(ctx.config);
      if (m.health) ctx.health.add(m.health);
      ctx.provide("mailer", m);
    },
  };
}
