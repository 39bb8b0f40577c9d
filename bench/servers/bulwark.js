// Bulwark with its full hook stack in the production profile: request id, security headers, HTTPS policy
// (behind a trusted proxy on loopback), CORS, rate limits, metrics and access logging at the production
// default. With BENCH_SESSION=1 it also creates a verified user, a session (its cookie goes to the
// runner), an organisation and one product; BENCH_APIKEY=1 adds an API key of that organisation holding
// products:read (the key goes to the runner, sent as X-API-Key); BENCH_APIKEY_SCOPES (comma-separated)
// grants others instead, e.g. products:read,products:write for the write cases. BENCH_TOKEN=1 mints an
// access token (AUTH-9) of that organisation for products:read (sent as Authorization: Bearer).
//
// AUDIT_LOG=off: the production profile refuses it (AUDIT_LOG cannot be off in production), so the
// configuration is loaded with the log on and then switched off, exactly what AUDIT_LOG=off sets
// (config.audit.enabled): every other production setting stays as the audit-on case has it.
//
// Rate limits run on every API request (per address, key, user, organisation and tier). A load generator
// hammers one route from one address, so the limits are raised far out of reach: every limiter still
// counts every request and writes its headers, it just never refuses. A case's env can lower them.
//
// BENCH_DATABASE_URL runs the server on PostgreSQL, in a schema of its own (dropped at exit); REDIS_URL
// (with a REDIS_PREFIX of its own starting "bench-", whose keys are deleted at exit) puts the limits' counters in Redis.
import "./cpu.js";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PasswordHasher } from "../../dist/src/identity/password.js";
import { IdentityStore } from "../../dist/src/identity/store.js";
import { loadConfig, start } from "../../dist/src/index.js";
import { cookieName } from "../../dist/src/sessions/cookies.js";
import { SessionService } from "../../dist/src/sessions/service.js";
import { SessionStore } from "../../dist/src/sessions/store.js";

const UNREACHABLE = "999999999"; // RATE_LIMIT_TIERS takes at most 9 digits
const schema = `bench_${process.pid}`;
const { AUDIT_LOG: auditLog, ...env } = process.env;
const loaded = loadConfig({
  RATE_LIMIT_IP_PER_MINUTE: UNREACHABLE,
  RATE_LIMIT_KEY_PER_MINUTE: UNREACHABLE,
  RATE_LIMIT_USER_PER_MINUTE: UNREACHABLE,
  RATE_LIMIT_ORG_PER_MINUTE: UNREACHABLE,
  RATE_LIMIT_TIERS: ["general", "sensitive", "admin", "export"]
    .map((t) => `${t}=${UNREACHABLE}/1m`)
    .join(","),
  ...env,
  NODE_ENV: "production",
  PORT: "0",
  HOST: "127.0.0.1",
  PUBLIC_URL: "https://bench.example.org",
  BULWARK_SECRET: randomBytes(32).toString("base64url"),
  DATA_KEYS: `k1:${randomBytes(32).toString("base64")}`,
  // Bench machines run as root; production refuses that unless told (OPS-2).
  BULWARK_ALLOW_ROOT: "true",
  SECURITY_CONTACT: "mailto:security@bench.example.org",
  CORS_ORIGINS: "https://console.bench.example.org",
  TRUSTED_PROXIES: "127.0.0.1",
  BULWARK_DATA_DIR: process.env.BULWARK_DATA_DIR ?? mkdtempSync(join(tmpdir(), "bulwark-bench-")),
  LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  ...(process.env.BENCH_DATABASE_URL
    ? { DATABASE_URL: process.env.BENCH_DATABASE_URL, DATABASE_SCHEMA: schema }
    : {}),
  ...(auditLog && auditLog !== "off" ? { AUDIT_LOG: auditLog } : {}),
});
const config = auditLog === "off" ? { ...loaded, audit: { ...loaded.audit, enabled: false } } : loaded;

/** Drops what this server put in PostgreSQL and Redis. */
async function cleanUp() {
  if (process.env.BENCH_DATABASE_URL) {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
  // Only a prefix the runner made up for this run: never another deployment's keys.
  if (config.redisUrl && config.redisPrefix.startsWith("bench-")) {
    const { Redis } = await import("ioredis");
    const redis = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await redis.connect();
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${config.redisPrefix}*`, "COUNT", 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== "0");
    await redis.quit();
  }
}

const seeded =
  process.env.BENCH_SESSION === "1" || process.env.BENCH_APIKEY === "1" || process.env.BENCH_TOKEN === "1";
const { catalog } = await import("../../dist/examples/catalog/index.js");
let running;
try {
  running = await start(config, { extensions: seeded ? [catalog] : [] });
} catch (err) {
  await cleanUp().catch(() => {});
  throw err;
}
const message = { port: Number(new URL(running.url).port) };
if (seeded) {
  const ctx = running.app.bulwark;
  const db = ctx.db.global;
  const now = Date.now();
  const id = `usr_bench${now}`;
  const hash = await new PasswordHasher(config.auth.argon2).hash("bench passphrase 123");
  await new IdentityStore(db).createUser({
    id,
    email: "bench@example.org",
    email_verified_at: now,
    password_hash: hash,
    created_at: now,
    updated_at: now,
  });
  const { token } = await new SessionService(new SessionStore(db), config).create(id, "portal", {
    ip: "127.0.0.1",
    userAgent: "bench",
  });
  message.cookie = `${cookieName(config, "portal")}=${token}`;
  // An organisation with one product, for the tenant-route cases.
  const { OrgStore } = await import("../../dist/src/orgs/store.js");
  const orgId = "org_01BENCH00000000000000000000".slice(0, 30);
  await new OrgStore(db, ctx.db.engine).create(
    { id: orgId, name: "Bench", slug: "bench", require_mfa: 0, created_at: now, updated_at: now },
    id,
  );
  const productId = "prd_01BENCH00000000000000000000".slice(0, 30);
  await ctx.db.withOrg(orgId, (tx) =>
    tx
      .insertInto("products")
      .values({
        id: productId,
        org_id: orgId,
        name: "Teapot",
        sku: "TEA-1",
        price_cents: 2500,
        stock: 10,
        description_html: "<p>Fine porcelain</p>",
        created_at: now,
        updated_at: now,
      })
      .execute(),
  );
  message.paths = {
    product: `/v1/orgs/${orgId}/products/${productId}`,
    products: `/v1/orgs/${orgId}/products`,
  };
  if (process.env.BENCH_APIKEY === "1") {
    // Through the service, as POST /v1/orgs/:orgId/api-keys would (the owner may grant these scopes).
    const { key } = await ctx.service("apiKeys").create(
      orgId,
      { id, can: () => true },
      {
        name: "bench",
        scopes: (process.env.BENCH_APIKEY_SCOPES ?? "products:read").split(","),
      },
      // Who created it, for the key's audit event (AUDIT-2): the bench user, as its request would say.
      (event) => ({
        ...event,
        actor: event.actor ?? { type: "USER", id, email: "bench@example.org" },
        impersonator: null,
      }),
    );
    message.apiKey = key;
  }
}
if (process.env.BENCH_TOKEN === "1") {
  // Through the service, as POST /v1/auth/token would from the owner's session: a token for products:read.
  const ctx = running.app.bulwark;
  const user = await ctx.db.global.selectFrom("users").select("id").executeTakeFirstOrThrow();
  const orgId = message.paths.product.split("/")[3];
  const { accessToken } = await ctx.service("tokens").issue(user.id, orgId, ["products:read"], (event) => ({
    ...event,
    actor: event.actor ?? { type: "USER", id: user.id, email: "bench@example.org" },
    impersonator: null,
  }));
  message.bearer = accessToken;
}
process.send?.(message);

// On SIGTERM (the runner stops each case): drain, then drop the bench schema and Redis keys.
process.once("SIGTERM", async () => {
  await running.close();
  await cleanUp().catch((err) => console.error(`bench clean-up failed: ${err.message}`));
  process.exit(0);
});
