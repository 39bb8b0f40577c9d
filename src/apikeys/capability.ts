import type { Capability } from "../capability.js";
import { errorCode, expectThat } from "../posture/checks.js";
import type { PersonalData } from "../privacy/personal.js";
import { ApiKeyCache } from "./cache.js";
import { apiKeyCredential } from "./credential.js";
import { newApiKey } from "./format.js";
import { apiKeyMigrations } from "./migrations.js";
import { apiKeyRoutes } from "./plugin.js";
import { ApiKeyService, LAST_USED_FLUSH_MS } from "./service.js";
import { ApiKeyStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    apiKeys: ApiKeyService;
  }
}

/**
 * Organisation API keys (KEY-1…KEY-7, CORS-2, CORS-3): one more credential kind of the guard pipeline,
 * accepted by every tenant route; management routes for members holding `apikeys:manage`.
 */
export const apiKeysCapability: Capability = {
  name: "apikeys",
  personalData: [
    { table: "api_keys", column: "created_by", omit: ["hash"], erase: "pseudonymise" },
  ] satisfies PersonalData[],
  migrations: apiKeyMigrations,
  async register(app, ctx) {
    let usable: string[] | undefined;
    const keys = new ApiKeyService(
      new ApiKeyStore(ctx.db.global),
      new ApiKeyCache(ctx.bus),
      ctx.permissions,
      // Read once every route is registered (the first key request comes after start-up).
      () =>
        (usable ??= [
          ...new Set(
            ctx.routes.flatMap((r) =>
              r.security.action && r.security.accepts.includes("api_key") ? [r.security.action] : [],
            ),
          ),
        ]),
      // AUDIT-2: key creation, rotation and revocation are recorded in their transactions.
      ctx.service("audit"),
    );
    ctx.provide("apiKeys", keys);
    // Before the session kinds in tenant routes: a request that presents a key on purpose is the key's,
    // even when the browser also sends a session cookie (so it never takes the cookie's CSRF path).
    ctx.guard.addCredential(apiKeyCredential(keys), { tenant: true, first: true });
    await app.register(apiKeyRoutes, { keys });

    const flush = () =>
      keys
        .flush()
        .catch((err: Error) => ctx.log.warn({ reason: err.message }, "api key last-used write failed"));
    const timer = setInterval(flush, LAST_USED_FLUSH_MS);
    timer.unref();
    app.addHook("onClose", async () => {
      clearInterval(timer);
      await flush();
    });

    ctx.posture.register({
      id: "KEY-1",
      title: "Organisation API keys",
      claim:
        "An API key belongs to one organisation and reaches that organisation's data only: a key on another organisation's path gets the same 404 as an unknown organisation. Scopes of the form resource:action, the actions of the routes that accept keys, are checked on every request, and a creator can grant only actions their own role holds.",
      settings: {},
      enabled: true,
    });
    ctx.posture.register({
      id: "KEY-3",
      title: "Keys stored hashed, shown once",
      claim:
        "Keys look like bwk_ + 30 random base62 characters (178 bits) + a CRC32 checksum, so secret scanners recognise them and a mistyped key is refused before any lookup. Only the SHA-256 of a key and 8 display characters are stored; the key itself is shown once, at creation or rotation, and never logged.",
      settings: { randomBits: 178, displayCharacters: 8 },
      enabled: true,
      // A key with one character changed (its checksum then fails) proves no one.
      probe: async (p) => {
        const key = newApiKey();
        const typo = key.slice(0, -1) + (key.endsWith("A") ? "B" : "A");
        const res = await p.request({
          url: "/v1/orgs/org_self_check",
          headers: { authorization: `Bearer ${typo}` },
        });
        expectThat(
          res.statusCode === 401 && errorCode(res) === "UNAUTHENTICATED",
          `a mistyped key was answered ${res.statusCode} ${errorCode(res)}`.trim(),
        );
      },
    });
    ctx.posture.register({
      id: "KEY-4",
      title: "Revocation, rotation and expiry",
      claim: `A revoked key is refused from the next request on, on every node; a rotated key's successor works at once and the old key for a chosen grace period (0 revokes it now), never past its own expiry. Expiry is checked on every request. Last use is gathered in memory and written in batches, not per request.`,
      settings: { lastUsedFlushSeconds: LAST_USED_FLUSH_MS / 1000, crossNode: ctx.redis !== undefined },
      enabled: true,
    });
    ctx.posture.register({
      id: "KEY-6",
      title: "Origin and IP pinning",
      claim:
        "A key can be pinned to origins (a browser request carrying it from another origin gets 403) and to IPv4 and IPv6 addresses and CIDR ranges (any other caller gets 403). API-key requests are open to any origin without credentials (CORS-2).",
      settings: {},
      enabled: true,
    });
  },
};
