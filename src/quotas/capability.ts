import type { Capability } from "../capability.js";
import { quotaMigrations } from "./migrations.js";
import { quotaRoutes } from "./plugin.js";
import { API_REQUESTS, type Quota, QuotaService } from "./service.js";
import { QuotaStore } from "./store.js";
import { MemoryUsageStore, RedisUsageStore } from "./usage-store.js";

declare module "../context.js" {
  interface Services {
    quotas: QuotaService;
  }
}

/**
 * Monthly usage quotas per organisation (RATE-6). `api_requests`, when it has an allowance, counts every
 * validated request an organisation's API keys make; an app meters its own units through the extension API
 * (`ctx.meter`) or `POST /v1/orgs/{orgId}/usage` with an API key holding `usage:record`.
 */
export const quotasCapability: Capability = {
  name: "quotas",
  migrations: quotaMigrations,
  async register(app, ctx) {
    const { config } = ctx;
    const configured = new Map<string, Quota>(Object.entries(config.rate.quotas));
    const quotas = new QuotaService({
      configured,
      usage: ctx.redis ? new RedisUsageStore(ctx.redis, config.redisPrefix) : new MemoryUsageStore(),
      store: new QuotaStore(ctx.db),
      orgs: ctx.service("orgs"),
      mailer: ctx.service("mailer"),
      log: ctx.log,
      onStoreError: config.rate.onStoreError,
      bus: ctx.bus,
    });
    ctx.provide("quotas", quotas);
    await app.register(quotaRoutes, { quotas });
    // Programmatic use only (a credential set in a header on purpose: API keys, access tokens), and
    // validated requests only: a request refused as malformed consumes nothing, and a used-up allowance
    // never locks members out of their own console (a cookie session).
    app.addHook("preHandler", async (request) => {
      if (request.tenant && request.principal?.via === "header")
        await quotas.meter(request.tenant.orgId, API_REQUESTS, 1);
    });
    app.addHook("onClose", async () => quotas.settled());
    const list = [...configured].map(
      ([u, q]) => `${q.allowance} ${u} (${q.mode === "refuse" ? "refused past it" : "warning only"})`,
    );
    ctx.posture.register({
      id: "RATE-6",
      title: "Monthly usage quotas",
      claim: `Each organisation has a monthly allowance of ${list.join(", ")}, which a platform admin can change per organisation. Its owners and admins are mailed at 80 % and at 100 %, once each per month${ctx.redis ? " across every node" : ""}; counts start again on the 1st of each month (UTC).`,
      settings: Object.fromEntries([...configured].map(([u, q]) => [u, `${q.allowance}/month ${q.mode}`])),
      enabled: configured.size > 0,
    });
  },
};
