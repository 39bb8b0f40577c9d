import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
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

/**
 * Restores a dump into the configured schema, which must not exist yet or hold no table, and must be
 * the schema the dump was taken from. The app role (cluster-wide, so absent from a new cluster) is
 * created first, as the first migration does, for the dump's grants. The `public` schema exists in
 * every database: its own creation is left out of the restore.
 */
export async function pgRestore(config: Config, src: string): Promise<void> {
  const schema = config.database.schema;
  const { url, env } = connection(config);
  const toc = await run("pg_restore", ["--list", src], env);
  const dumped = new Set(
    toc
      .split("\n")
      .map((l) => /^\d+; \d+ \d+ TABLE (?!DATA )(\S+) /.exec(l)?.[1])
      .filter((s) => s !== undefined && s !== "-"),
  );
  const tables = [...dumped];
  if (tables.length !== 1 || tables[0] !== schema)
    throw new Error(
      `this backup holds schema ${tables.join(", ") || "(none)"}, not ${schema}: set DATABASE_SCHEMA to the schema it was taken from`,
    );
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
    const role = config.database.appRole.replace(/"/g, '""');
    await client.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${role.replace(/'/g, "''")}') THEN
        CREATE ROLE "${role}" NOLOGIN NOBYPASSRLS;
      END IF;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END $$`);
    await client.query(`DO $$ BEGIN
      GRANT "${role}" TO CURRENT_USER;
    EXCEPTION WHEN duplicate_object OR invalid_grant_operation THEN NULL;
    END $$`);
  } finally {
    await client.end();
  }
  // The restore list without the creation of `public`, which is already there.
  const list = `${src}.list`;
  await writeFile(
    list,
    toc
      .split("\n")
      .filter(
        (l) =>
          !(schema === "public" && /^\d+; \d+ \d+ (?:SCHEMA - public |COMMENT - SCHEMA public )/.test(l)),
      )
      .join("\n"),
    { mode: 0o600 },
  );
  try {
    await run(
      "pg_restore",
      ["--no-owner", "--exit-on-error", "--single-transaction", `--use-list=${list}`, `--dbname=${url}`, src],
      env,
    );
  } finally {
    await rm(list, { force: true });
  }
}

/** The connection for the client tools, its password in PGPASSWORD rather than on a command line. */
function connection(config: Config): { url: string; env: NodeJS.ProcessEnv } {
  const u = new URL(config.database.url!);
  const password = decodeURIComponent(u.password);
  u.password = "";
  return { url: u.href, env: { ...process.env, ...(password ? { PGPASSWORD: password } : {}) } };
}

/** Runs a client tool; resolves with its standard output (small: a restore list at most). */
function run(tool: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(tool, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < 4000) stderr += d.toString();
    });
    child.on("error", (err) =>
      reject(new Error(`${tool} could not run (${err.message}): install the PostgreSQL client tools`)),
    );
    child.on("close", (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${tool} exited with code ${code}: ${stderr.trim()}`)),
    );
  });
}
