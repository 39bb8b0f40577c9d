import type { Config } from "../config/load.js";
import { expectThat, header } from "../posture/checks.js";
import type { PostureRegistry } from "../posture/registry.js";

const per = (ms: number): string =>
  ms % 3_600_000 === 0
    ? `${ms / 3_600_000 === 1 ? "" : `${ms / 3_600_000} `}hour${ms === 3_600_000 ? "" : "s"}`
    : `${ms / 60_000 === 1 ? "" : `${ms / 60_000} `}minute${ms === 60_000 ? "" : "s"}`;

/** The API limits' claims on the security page, with the configured numbers (RATE-1…RATE-5). */
export function registerRateControls(
  posture: PostureRegistry,
  config: Config,
  backend: "redis" | "memory",
): void {
  const r = config.rate;
  const t = r.tiers;
  posture.register({
    id: "RATE-1",
    title: "Sliding-window limits",
    claim:
      backend === "redis"
        ? "Limits use a sliding-window counter (the current and the previous window, weighted) kept in Redis and decided by one atomic script, so every node counts together."
        : "Limits use a sliding-window counter (the current and the previous window, weighted), kept in the server process (a single node; with Redis configured every node counts together).",
    settings: { algorithm: "two-bucket sliding window", store: backend },
    enabled: true,
  });
  posture.register({
    id: "RATE-2",
    title: "Per key, per address, per user and per organisation",
    claim: `Each API key may make ${r.keyPerMinute} requests a minute and each client address ${r.ipPerMinute} (IPv6 counted per /64), whichever is reached first (a request refused by the key, user, organisation or tier limit is not counted by the others; it still counts against its address); each signed-in user ${r.userPerMinute} a minute and each organisation ${r.orgPerMinute} a minute across all its users and keys.`,
    settings: {
      perKeyPerMinute: r.keyPerMinute,
      perIpPerMinute: r.ipPerMinute,
      perUserPerMinute: r.userPerMinute,
      perOrgPerMinute: r.orgPerMinute,
    },
    enabled: true,
  });
  posture.register({
    id: "RATE-3",
    title: "Tiers declared per route",
    claim: `Every route declares its tier in the route table: general (anonymous callers, ${t.general.limit} per ${per(t.general.windowMs)} per address), sensitive operations (${t.sensitive.limit} per ${per(t.sensitive.windowMs)}), admin (${t.admin.limit} per ${per(t.admin.windowMs)}) and exports (${t.export.limit} per ${per(t.export.windowMs)}), each per principal and operation; authentication surfaces have their own limits (AUTH-7).`,
    settings: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, `${v.limit}/${v.windowMs / 1000}s`])),
    enabled: true,
  });
  posture.register({
    id: "RATE-4",
    title: "Limits stated on every answer",
    claim:
      "Limited routes answer with X-RateLimit-Limit, X-RateLimit-Remaining and X-RateLimit-Reset and the IETF RateLimit and RateLimit-Policy fields; a refusal is 429 with Retry-After and the standard error body.",
    settings: { draft: "draft-ietf-httpapi-ratelimit-headers-11" },
    enabled: true,
    // An anonymous read is limited per address (general tier): its answer states the limit.
    probe: async (p) => {
      const res = await p.request({ url: "/security.json" });
      const missing = [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "ratelimit",
        "ratelimit-policy",
      ].filter((name) => header(res, name) === "");
      expectThat(missing.length === 0, `an answer to a limited route lacked ${missing.join(", ")}`);
      expectThat(
        /^\d+$/.test(header(res, "x-ratelimit-limit")),
        `X-RateLimit-Limit was "${header(res, "x-ratelimit-limit")}"`,
      );
    },
  });
  posture.register({
    id: "RATE-5",
    title: "When the counter store is down",
    claim: `If the counter store cannot be reached, general traffic is ${r.onStoreError === "open" ? "let through uncounted" : "refused with 503"} and authentication surfaces are ${r.authOnStoreError === "closed" ? "refused with 503" : "let through uncounted"}; the outage is logged once, shown in /health and /metrics, and ends without a restart.`,
    settings: { general: r.onStoreError, auth: r.authOnStoreError, store: backend },
    enabled: true,
  });
}
