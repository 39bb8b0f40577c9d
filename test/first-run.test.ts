import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { Kysely } from "kysely";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { catalog } from "../examples/catalog/index.js";
import { runCli } from "../src/cli/main.js";
import { loadConfig } from "../src/config/load.js";
import { enableTenantRls, grantApp, type MigrationContext } from "../src/db/migrations.js";
import type { Extension } from "../src/orgs/extension.js";
import { type Running, StartError, start } from "../src/server.js";
import { ENGINE, PG_URL, silentLog } from "./harness.js";
import { needs } from "./services.js";

/**
 * The first run, as a newcomer meets it: `npm start` on a port of their choosing, the CLI's admin
 * command after a first start, a second server on a taken port, a fresh PostgreSQL without the app role.
 * Each test here failed before its fix.
 */
const tmp = () => mkdtempSync(join(tmpdir(), "bulwark-first-"));
const schemas: string[] = [];
const roles: string[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A development environment of its own: data dir, port, and on PostgreSQL a schema (and role) of its own. */
function devEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {
    NODE_ENV: "development",
    BULWARK_DATA_DIR: tmp(),
    LOG_LEVEL: "silent",
  };
  if (PG_URL) {
    const schema = `bw_t_${randomBytes(6).toString("hex")}`;
    schemas.push(schema);
    Object.assign(env, { DATABASE_URL: PG_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_MAX: "2" });
  }
  return { ...env, ...extra };
}

afterAll(async () => {
  if (!PG_URL) return;
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  for (const r of roles) {
    await client.query(`DROP OWNED BY "${r}"`).catch(() => {});
    await client.query(`DROP ROLE IF EXISTS "${r}"`).catch(() => {});
  }
  await client.end();
});

/** An app's own extension with a tenant table, as the README's library example has. */
const notes: Extension = {
  name: "notes",
  migrations: (ctx: MigrationContext) => ({
    notes_0001_notes: {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("first_run_notes")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull())
          .execute();
        await enableTenantRls(db, ctx, "first_run_notes");
        await grantApp(db, ctx, "first_run_notes", ["SELECT"]);
      },
    },
  }),
};

async function adminCreate(env: Record<string, string>, email: string, extensions?: Extension[]) {
  const out: string[] = [];
  const code = await runCli(["admin", "create", "--email", email, "--password-stdin", "--no-totp"], {
    env,
    log: silentLog,
    stdin: Readable.from([Buffer.from("a fine admin passphrase\n")]),
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => out.push(s) },
    ...(extensions ? { extensions } : {}),
  });
  return { code, out: out.join("") };
}

describe(`first run (${ENGINE})`, () => {
  it("OPS-1: `admin create` after a first start with the catalog, and with an app's extension, succeeds", async () => {
    for (const extensions of [[catalog], [notes]]) {
      const env = devEnv({ PORT: "0", CATALOG_EXAMPLE: "true" });
      const running = await start(loadConfig(env), { log: silentLog, extensions });
      await running.close();
      // The CLI is not told about the app's extension (as `npx bulwark admin create` would not be).
      const first = await adminCreate(env, "first@example.org");
      expect(first.out, first.out).toMatch(/Created platform admin/);
      expect(first.code).toBe(0);
      // Told about it (the app's own bin calling runCli with its extensions), it works too.
      const second = await adminCreate(env, "second@example.org", extensions);
      expect(second.code, second.out).toBe(0);
    }
  });

  it("CORS-1: with PORT=<n>, PUBLIC_URL follows it: a same-origin POST is served and mail links carry <n>", async () => {
    const port = await freePort();
    const env = devEnv({ PORT: String(port), SMTP_URL: "" });
    const config = loadConfig(env);
    expect(config.publicUrl).toBe(`http://localhost:${port}`);
    const running: Running = await start(config, { log: silentLog });
    try {
      for (const origin of [`http://127.0.0.1:${port}`, `http://localhost:${port}`]) {
        const host = new URL(origin).host;
        const res = await fetch(`http://127.0.0.1:${port}/v1/auth/signup`, {
          method: "POST",
          headers: { origin, host, "content-type": "application/json" },
          body: JSON.stringify({
            email: `new-${host.length}@example.org`,
            password: "a fine new passphrase",
          }),
        });
        expect(res.status, origin).toBe(202);
      }
      // Another origin is still refused: only the server's own loopback origin is same-origin.
      const foreign = await fetch(`http://127.0.0.1:${port}/v1/auth/signup`, {
        method: "POST",
        headers: { origin: "http://127.0.0.1:9", "content-type": "application/json" },
        body: JSON.stringify({ email: "x@example.org", password: "a fine new passphrase" }),
      });
      expect(foreign.status).toBe(403);
      const dir = join(env.BULWARK_DATA_DIR!, "mail");
      let mail = "";
      for (let i = 0; i < 40 && !mail; i++) {
        const files = (() => {
          try {
            return readdirSync(dir);
          } catch {
            return [];
          }
        })();
        mail = files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
        if (!mail) await new Promise((r) => setTimeout(r, 50));
      }
      expect(mail.replace(/=\r?\n/g, "")).toContain(`http://localhost:${port}/verify-email?token=`);
    } finally {
      await running.close();
    }
  });

  it("OPS-1: a second server on a port in use fails with one clear line, before migrating", async () => {
    const port = await freePort();
    const first = await start(loadConfig(devEnv({ PORT: String(port) })), { log: silentLog });
    try {
      const env = devEnv({ PORT: String(port) });
      const err = await start(loadConfig(env), { log: silentLog }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StartError);
      expect((err as Error).message).toBe(
        `Port ${port} on 127.0.0.1 is already in use (another Bulwark?); set PORT to a free port.`,
      );
      // Nothing was migrated: on SQLite not even the database file was created.
      if (!PG_URL) expect(readdirSync(env.BULWARK_DATA_DIR!)).not.toContain("bulwark.db");
      // The command line says it in exactly one line.
      const said: string[] = [];
      const cli = await runCli(["start"], {
        env,
        log: silentLog,
        stderr: { write: (s: string) => said.push(s) },
      });
      expect(cli).toBe(1);
      expect(said.join("").trim().split("\n")).toEqual([(err as Error).message]);
    } finally {
      await first.close();
    }
  });

  it.runIf(needs("postgres"))(
    "OPS-1: on a fresh PostgreSQL schema without the app role, `start` migrates first and serves",
    async () => {
      const role = `bw_r_${randomBytes(5).toString("hex")}`;
      roles.push(role);
      const env = devEnv({ PORT: "0", DATABASE_APP_ROLE: role, DATABASE_WAIT_SECONDS: "5" });
      // Without migrating, the missing role is named at once, not waited on as an outage.
      const began = Date.now();
      const err = await start(loadConfig(env), { log: silentLog, migrate: false }).catch((e: unknown) => e);
      expect((err as Error).message).toMatch(new RegExp(`role "${role}" does not exist.*bulwark migrate`));
      expect(Date.now() - began).toBeLessThan(4000);
      const running = await start(loadConfig(env), { log: silentLog });
      try {
        const res = await fetch(`${running.url}/health`);
        expect(res.status).toBe(200);
      } finally {
        await running.close();
      }
    },
  );
});
