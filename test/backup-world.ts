import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { buildApp, bulwarkMigrations } from "../src/app.js";
import { newBackupKey } from "../src/backup/archive.js";
import { runCli } from "../src/cli/main.js";
import { type Config, loadConfig } from "../src/config/load.js";
import { Database } from "../src/db/database.js";
import { PG_URL, silentLog, type TestApp } from "./harness.js";

/**
 * A Bulwark installation for backup tests (DATA-2), driven through the commands an operator runs, on the
 * engine the suite runs on: a data directory of its own and, on PostgreSQL, a database and app role of
 * its own (in its default schema, public), both dropped by `wipe` as a new cluster would lack them.
 */
export async function backupWorld(extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-backup-"));
  const suffix = randomBytes(6).toString("hex");
  const database = `bw_t_${suffix}`;
  const role = `bw_app_${suffix}`;
  const dbUrl = PG_URL ? Object.assign(new URL(PG_URL), { pathname: `/${database}` }).href : "";
  const admin = async (text: string) => {
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    try {
      return await c.query(text);
    } finally {
      await c.end();
    }
  };
  const key = await newBackupKey();
  const env: Record<string, string> = {
    NODE_ENV: "test",
    LOG_LEVEL: "silent",
    BULWARK_DATA_DIR: dir,
    BULWARK_SECRET: randomBytes(32).toString("base64url"),
    DATA_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    BACKUP_RECIPIENTS: key.recipient,
    BACKUP_IDENTITY: key.identity,
    CATALOG_EXAMPLE: "false",
    ...(PG_URL ? { DATABASE_URL: dbUrl, DATABASE_APP_ROLE: role } : {}),
    ...extra,
  };
  const config: Config = loadConfig(env);
  if (PG_URL) await admin(`CREATE DATABASE "${database}"`);
  let out = "";
  const sink = {
    write: (s: string) => {
      out += s;
    },
  };
  return {
    dir,
    dbUrl,
    env,
    config,
    /** What the last `cli` call printed (stdout and stderr). */
    out: () => out,
    async cli(...args: string[]): Promise<number> {
      out = "";
      return runCli(args, { env, stdout: sink, stderr: sink, log: silentLog });
    },
    /** The server on this configuration's database; `fn` runs against it, then everything closes. */
    async served<T>(fn: (t: TestApp) => Promise<T>): Promise<T> {
      const db = Database.open(config, silentLog);
      try {
        await db.migrate({ extra: bulwarkMigrations() });
        await db.refreshTenantTables();
        const app = await buildApp(config, { db });
        await app.ready();
        try {
          return await fn({ app, config, db, logs: [], rawLogs: [], close: async () => {} });
        } finally {
          await app.close();
        }
      } finally {
        await db.close();
      }
    },
    /** The database gone, as on a new machine (the data directory's other files stay). */
    async wipe(): Promise<void> {
      if (!PG_URL) {
        for (const f of readdirSync(dir)) if (f.startsWith("bulwark.db")) rmSync(join(dir, f));
        return;
      }
      await admin(`DROP DATABASE "${database}"`);
      await admin(`DROP ROLE "${role}"`);
      await admin(`CREATE DATABASE "${database}"`);
    },
    /** How many tables the (PostgreSQL) database has in its schema: 0 when nothing was restored. */
    async tables(): Promise<number> {
      const c = new pg.Client({ connectionString: dbUrl });
      await c.connect();
      try {
        const { rows } = await c.query(
          "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = 'public'",
        );
        return Number(rows[0].n);
      } finally {
        await c.end();
      }
    },
    async close(): Promise<void> {
      rmSync(dir, { recursive: true, force: true });
      if (PG_URL) {
        await admin(`DROP DATABASE IF EXISTS "${database}"`);
        await admin(`DROP ROLE IF EXISTS "${role}"`);
      }
    },
  };
}

export type BackupWorld = Awaited<ReturnType<typeof backupWorld>>;
