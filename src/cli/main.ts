import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { AdminService } from "../admin/service.js";
import { AdminStore } from "../admin/store.js";
import { bulwarkMigrations } from "../app.js";
import { verifyBundle, verifyDatabase } from "../audit/cli.js";
import { backupCommand, backupKeygen } from "../backup/cli.js";
import { type Config, ConfigError, loadConfig } from "../config/load.js";
import { Sealer } from "../crypto/seal.js";
import { rotateData } from "../datakeys/cli.js";
import { Database, MissingRoleError } from "../db/database.js";
import { waitForDatabase } from "../db/wait.js";
import { AppError } from "../http/errors.js";
import { PasswordHasher } from "../identity/password.js";
import { createLogger, type Logger } from "../log/logger.js";
import { MfaService } from "../mfa/service.js";
import { MfaStore } from "../mfa/store.js";
import type { Extension } from "../orgs/extension.js";
import { assertNotRoot, handleSignals, StartError, start } from "../server.js";
import { rotateKeys } from "../tokens/cli.js";

const USAGE = `Usage: bulwark <command> [options]

Commands:
  start [--no-migrate] [--no-worker]
                         Migrate the database (unless --no-migrate) and serve HTTP; with --no-worker,
                         run no background job and deliver no webhook here (a worker process does).
  worker [--no-migrate]  Deliver webhooks and run background jobs without serving HTTP (several may run
                         against one database; scheduled jobs run once per period among them all).
  migrate                Apply pending migrations and exit (idempotent).
  admin create --email E --password-stdin [--no-totp]
                         Create a platform admin (password read from standard input). A TOTP factor is
                         enrolled and printed once; --no-totp is refused in production.
  keys rotate            Let the next token signing key (already published) sign from now on; the
                         previous one stays published while tokens it signed can be valid (AUTH-9).
  keys rotate-data [--limit N]
                         Re-seal every encrypted field under the first key of DATA_KEYS, in batches,
                         while servers run (DATA-1); stops after N values with --limit; run it again to
                         go on. Exit code 1 if a value opens with no key of DATA_KEYS.
  backup                 Take an encrypted backup (DATA-2): a consistent snapshot, encrypted to
                         BACKUP_RECIPIENTS (age), into BACKUP_DIR or BACKUP_BUCKET; then retention.
  backup keygen          Print a new backup key pair (BACKUP_RECIPIENTS and BACKUP_IDENTITY).
  restore FILE|NAME|latest
                         Decrypt a backup (a file; or by name, or the newest, from BACKUP_DIR or
                         BACKUP_BUCKET) with BACKUP_IDENTITY and restore it into an empty database.
  audit verify [--org ID] [--key VKEY]...
                         Verify every audit log (or one organisation's) against checkpoints signed by
                         this configuration's key (or a --key given: one the server signed with before);
                         names the first modified, deleted, inserted or reordered entry (exit code 1).
  audit verify --bundle FILE --key VKEY
                         Verify an organisation's export bundle offline, with no database, against the
                         signing key you trust (from /.well-known/audit-keys.json or the security page).

Configuration comes from environment variables (see README.md), optionally from BULWARK_CONFIG.`;

export interface CliOptions {
  /** The embedding app's extensions: every command then knows their migrations, as the server does. */
  readonly extensions?: readonly Extension[];
  /** The environment to configure from (default: process.env). */
  readonly env?: Record<string, string | undefined>;
  /** Where `--password-stdin` reads from (default: process.stdin). */
  readonly stdin?: Readable;
  readonly stdout?: { write(s: string): unknown };
  readonly stderr?: { write(s: string): unknown };
  readonly log?: Logger;
  /** The process's effective user id (tests); default `process.geteuid()`. */
  readonly uid?: number;
}

/**
 * The `bulwark` command: start, migrate, admin create. Returns the exit code (-1: still serving). Every
 * error becomes one line on stderr and exit code 1: a CLI prints no stack traces.
 */
export async function runCli(argv: string[], options: CliOptions = {}): Promise<number> {
  const stderr = options.stderr ?? process.stderr;
  try {
    return await main(argv, options);
  } catch (err) {
    const known =
      err instanceof ConfigError ||
      err instanceof AppError ||
      err instanceof StartError ||
      err instanceof MissingRoleError;
    stderr.write(known ? `${(err as Error).message}\n` : `bulwark: ${(err as Error).message}\n`);
    return 1;
  }
}

async function main(argv: string[], options: CliOptions): Promise<number> {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "no-migrate": { type: "boolean" },
      "no-worker": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      email: { type: "string" },
      "password-stdin": { type: "boolean" },
      "no-totp": { type: "boolean" },
      org: { type: "string" },
      bundle: { type: "string" },
      key: { type: "string", multiple: true },
      limit: { type: "string" },
    },
  });
  const command = positionals[0];
  if (values["no-worker"] && command !== "start") {
    stderr.write("--no-worker goes with `bulwark start` only.\n");
    return 2;
  }
  if (values.help || !command) {
    stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  if (command === "audit" && positionals[1] === "verify" && values.bundle)
    // Offline: no configuration, no database (what a customer's auditor runs).
    return verifyBundle(values.bundle, { key: values.key?.[0], stdout, stderr });
  // No configuration either: a key pair is made before the servers that use it are configured.
  if (command === "backup" && positionals[1] === "keygen" && positionals.length === 2)
    return backupKeygen(stdout);
  const config = loadConfig(options.env ?? process.env);
  // OPS-2: what start and worker refuse, every command that opens the data refuses too (a root-owned
  // SQLite file or backup would stop the unprivileged server later).
  if (command !== "start" && command !== "worker") assertNotRoot(config, options.uid ?? process.geteuid?.());
  const log = options.log ?? createLogger({ level: config.logLevel });
  const exts = await extensions(config, options.extensions ?? [], log);
  switch (command) {
    case "start": {
      const running = await start(config, {
        migrate: !values["no-migrate"],
        log,
        extensions: exts,
        background: !values["no-worker"],
      });
      handleSignals(running, config, log);
      return -1;
    }
    case "worker": {
      const running = await start(config, {
        migrate: !values["no-migrate"],
        log,
        extensions: exts,
        worker: true,
      });
      handleSignals(running, config, log);
      return -1;
    }
    case "migrate": {
      const db = Database.open(config, log);
      try {
        await waitForDatabase(db, config.database.waitSeconds, log);
        const applied = await db.migrate({ extra: bulwarkMigrations(exts) });
        await db.refreshTenantTables();
        stdout.write(applied.length ? `Applied: ${applied.join(", ")}\n` : "Already up to date.\n");
      } finally {
        await db.close();
      }
      return 0;
    }
    case "admin": {
      if (positionals[1] !== "create" || !values.email || !values["password-stdin"]) {
        stderr.write(`${USAGE}\n`);
        return 2;
      }
      const password = (await readStdin(options.stdin ?? process.stdin)).replace(/\r?\n$/, "");
      const db = Database.open(config, log);
      try {
        await waitForDatabase(db, config.database.waitSeconds, log);
        // The server's migrations (a first command before any start gets a working schema); migrations
        // of an app this command was not told about are already applied, so they are accepted as they are.
        await db.migrate({ extra: bulwarkMigrations(exts), tolerateUnknown: true });
        await db.refreshTenantTables();
        const hasher = new PasswordHasher(config.auth.argon2);
        const mfa = new MfaService(
          new MfaStore(db.global),
          new Sealer(config.dataKeys),
          new URL(config.publicUrl).hostname,
        );
        const created = await new AdminService(new AdminStore(db.global), hasher, mfa, config).create(
          values.email,
          password,
          !values["no-totp"],
        );
        const lines = [`Created platform admin ${created.admin.id} <${created.admin.email}>.`];
        if (created.otpauthUri) {
          lines.push(
            "",
            "Add this TOTP secret to an authenticator app now; it is not shown again:",
            `  ${created.otpauthUri}`,
            `  secret: ${created.secret}`,
            "",
            "Backup codes (each works once; store them offline):",
            ...(created.backupCodes ?? []).map((c) => `  ${c}`),
          );
        }
        stdout.write(`${lines.join("\n")}\n`);
      } finally {
        await db.close();
      }
      return 0;
    }
    case "keys": {
      const limit = values.limit === undefined ? undefined : Number(values.limit);
      if (
        (positionals[1] !== "rotate" && positionals[1] !== "rotate-data") ||
        (limit !== undefined && !(Number.isInteger(limit) && limit > 0))
      ) {
        stderr.write(`${USAGE}\n`);
        return 2;
      }
      const db = Database.open(config, log);
      try {
        await waitForDatabase(db, config.database.waitSeconds, log);
        if (positionals[1] === "rotate") {
          stdout.write(await rotateKeys(db, config));
          return 0;
        }
        // Organisation tables are reached one organisation at a time: the scope must know them.
        await db.refreshTenantTables();
        return await rotateData(db, config, exts, limit, { stdout, stderr });
      } finally {
        await db.close();
      }
    }
    case "backup":
    case "restore":
      if (
        (command === "backup" && positionals.length > 1) ||
        (command === "restore" && positionals.length !== 2)
      ) {
        stderr.write(`${USAGE}\n`);
        return 2;
      }
      return await backupCommand(positionals, config, log, { stdout, stderr });
    case "audit": {
      if (positionals[1] !== "verify") {
        stderr.write(`${USAGE}\n`);
        return 2;
      }
      const db = Database.open(config, log);
      try {
        await waitForDatabase(db, config.database.waitSeconds, log);
        return await verifyDatabase(db, config, { org: values.org, keys: values.key ?? [], stdout, stderr });
      } finally {
        await db.close();
      }
    }
    default:
      stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
      return 2;
  }
}

/**
 * The extensions in play: the embedding app's, plus the example catalog when the configuration turns it
 * on (CATALOG_EXAMPLE, on in development), the same list for `start` and every other command.
 */
async function extensions(config: Config, own: readonly Extension[], log: Logger): Promise<Extension[]> {
  if (!config.catalogExample || own.some((e) => e.name === "catalog")) return [...own];
  try {
    const { catalog } = await import("../../examples/catalog/index.js");
    return [...own, catalog];
  } catch {
    // An installed package ships without the examples (see package.json "files").
    log.warn("CATALOG_EXAMPLE is on, but the example catalog is not part of this installation; skipped.");
    return [...own];
  }
}

async function readStdin(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin) chunks.push(Buffer.from(chunk as Buffer | string));
  return Buffer.concat(chunks).toString("utf8");
}
