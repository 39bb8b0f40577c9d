import { spawn } from "node:child_process";
import pg from "pg";
import type { Config } from "../config/load.js";

/**
 * PostgreSQL backups go through `pg_dump` and `pg_restore` (the client tools of the server's major
 * version or newer, on the PATH): a consistent export of Bulwark's schema alone, in the custom format,
 * taken in one repeatable-read transaction while servers run. The role of DATABASE_URL must read every
 * row: tenant tables force row-level security, so it needs BYPASSRLS (or to be a superuser); pg_dump
 * stops with an error rather than dump a filtered table.
 */
export async function pgDump(config: Config, dest: string): Promise<void> {
  const { url, env } = connection(config);
  await run(
    "pg_dump",
    ["--format=custom", "--no-owner", `--schema=${config.database.schema}`, `--file=${dest}`, url],
    env,
  );
}

/** Restores a dump into the configured schema, which must not exist yet or hold no table. */
export async function pgRestore(config: Config, src: string): Promise<void> {
  const schema = config.database.schema;
  const client = new pg.Client({ connectionString: config.database.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = $1",
      [schema],
    );
    if (Number(rows[0]?.n) > 0)
      throw new Error(`schema ${schema} holds tables: restore only into an empty database (drop it first)`);
    // An empty schema of that name (a server started and stopped before migrating) is in the dump's way.
    if (schema !== "public") await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}"`);
  } finally {
    await client.end();
  }
  const { url, env } = connection(config);
  await run(
    "pg_restore",
    ["--no-owner", "--exit-on-error", "--single-transaction", `--dbname=${url}`, src],
    env,
  );
}

/** The connection for the client tools, its password in PGPASSWORD rather than on a command line. */
function connection(config: Config): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(config.database.url!);
  const password = decodeURIComponent(u.password);
  u.password = "";
  return { url: u.href, env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

function run(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    child.on("error", (err) =>
      reject(new Error(`${tool} could not run (${err.message}): install the PostgreSQL client tools`)),
    );
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${tool} exited with code ${code}: ${stderr.trim()}`)),
    );
  });
}
