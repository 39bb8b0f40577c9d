// Bulwark with its full hook stack in the production profile: request id, security headers, HTTPS policy
// (behind a trusted proxy on loopback), CORS, metrics and access logging at the production default.
// With BENCH_SESSION=1 it also creates a verified user and a session, and hands the cookie to the runner.
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

const config = loadConfig({
  ...process.env,
  NODE_ENV: "production",
  PORT: "0",
  HOST: "127.0.0.1",
  PUBLIC_URL: "https://bench.example.org",
  BULWARK_SECRET: randomBytes(32).toString("base64url"),
  SECURITY_CONTACT: "mailto:security@bench.example.org",
  CORS_ORIGINS: "https://console.bench.example.org",
  TRUSTED_PROXIES: "127.0.0.1",
  BULWARK_DATA_DIR: process.env.BULWARK_DATA_DIR ?? mkdtempSync(join(tmpdir(), "bulwark-bench-")),
  LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
  // BENCH_DATABASE_URL runs the case on PostgreSQL, in a schema of its own.
  ...(process.env.BENCH_DATABASE_URL
    ? { DATABASE_URL: process.env.BENCH_DATABASE_URL, DATABASE_SCHEMA: `bench_${process.pid}` }
    : {}),
});
const { catalog } = await import("../../dist/examples/catalog/index.js");
const running = await start(config, { extensions: process.env.BENCH_SESSION === "1" ? [catalog] : [] });
const message = { port: Number(new URL(running.url).port) };
if (process.env.BENCH_SESSION === "1") {
  const db = running.app.bulwark.db.global;
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
  // An organisation with one product, for the tenant-route case.
  const { OrgStore } = await import("../../dist/src/orgs/store.js");
  const orgId = "org_01BENCH00000000000000000000".slice(0, 30);
  await new OrgStore(db, running.app.bulwark.db.engine).create(
    { id: orgId, name: "Bench", slug: "bench", require_mfa: 0, created_at: now, updated_at: now },
    id,
  );
  const productId = "prd_01BENCH00000000000000000000".slice(0, 30);
  await running.app.bulwark.db.withOrg(orgId, (tx) =>
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
  message.paths = { product: `/v1/orgs/${orgId}/products/${productId}` };
}
process.send?.(message);

// On SIGTERM (the runner stops each case), drain and, on PostgreSQL, drop the bench schema.
process.once("SIGTERM", async () => {
  await running.close();
  if (process.env.BENCH_DATABASE_URL) {
    const { default: pg } = await import("pg");
    const client = new pg.Client({ connectionString: process.env.BENCH_DATABASE_URL });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "bench_${process.pid}" CASCADE`);
    await client.end();
  }
  process.exit(0);
});
