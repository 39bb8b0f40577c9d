import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import { type AddressInfo, createServer as createNetServer } from "node:net";
import { fileURLToPath } from "node:url";
import type { FastifyInstance } from "fastify";
import pg from "pg";
import { type BuildOptions, buildApp, bulwarkMigrations } from "../src/app.js";
import { loadConfig } from "../src/config/load.js";
import { Database } from "../src/db/database.js";
import { PG_URL, silentLog } from "./harness.js";

/**
 * What the tests of several Bulwark processes on one PostgreSQL schema share (HOOK-6, OPS-2): a webhook
 * receiver that counts each webhook-id, this process's app on the schema for set-up, and `bulwark`
 * commands run as processes of their own.
 */
const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** A receiver answering 204 that counts how often it got each webhook-id. */
export async function countingReceiver(): Promise<{
  url: string;
  seen: Map<string, number>;
  close(): Promise<void>;
}> {
  const seen = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const id = String(req.headers["webhook-id"]);
      seen.set(id, (seen.get(id) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/**
 * This process's app on `env`'s schema (migrated first), delivering nothing (WEBHOOK_WORKER off), for
 * set-up and for reading the outcome; `close` also drops the schema.
 */
export async function setUpApp(
  env: Record<string, string>,
  schema: string,
  options: Pick<BuildOptions, "background"> = {},
): Promise<{ app: FastifyInstance; db: Database; close(): Promise<void> }> {
  const config = loadConfig({ ...env, NODE_ENV: "test", LOG_LEVEL: "silent", WEBHOOK_WORKER: "off" });
  const db = Database.open(config, silentLog);
  await db.migrate({ extra: bulwarkMigrations() });
  await db.refreshTenantTables();
  const app = await buildApp(config, { db, logger: silentLog, ...options });
  await app.ready();
  return {
    app,
    db,
    close: async () => {
      await app.close();
      await db.close();
      const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
      await pool.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await pool.end();
    },
  };
}

/** `bulwark <args>` as a process of its own on `env` (and PATH); its output is printed if it fails. */
export function bulwarkProcess(args: string[], env: Record<string, string>): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, ["--import", "./test/run-ts.mjs", "src/cli/index.ts", ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (out += d.toString()));
  child.once("exit", (code) => {
    if (code !== null && code !== 0) console.error(`bulwark ${args.join(" ")} exited ${code}:\n${out}`);
  });
  return child;
}

/** A port nothing listens on yet. */
export const freePort = (): Promise<number> =>
  new Promise((resolve) => {
    const s = createNetServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
