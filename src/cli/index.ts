#!/usr/bin/env node
import { parseArgs } from "node:util";
import { AdminService } from "../admin/service.js";
import { type Config, ConfigError, loadConfig } from "../config/load.js";
import { Sealer } from "../crypto/seal.js";
import { Database } from "../db/database.js";
import { waitForDatabase } from "../db/wait.js";
import { AppError } from "../http/errors.js";
import { PasswordHasher } from "../identity/password.js";
import { createLogger } from "../log/logger.js";
import { MfaService } from "../mfa/service.js";
import { MfaStore } from "../mfa/store.js";
import { type Extension, extensionMigrations } from "../orgs/extension.js";
import { handleSignals, start } from "../server.js";

const USAGE = `Usage: bulwark <command> [options]

Commands:
  start [--no-migrate]   Migrate the database (unless --no-migrate) and serve HTTP.
  migrate                Apply pending migrations and exit (idempotent).
  admin create --email E --password-stdin [--no-totp]
                         Create a platform admin (password read from standard input). A TOTP factor is
                         enrolled and printed once; --no-totp is refused in production.

Configuration comes from environment variables (see README.md), optionally from BULWARK_CONFIG.`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "no-migrate": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      email: { type: "string" },
      "password-stdin": { type: "boolean" },
      "no-totp": { type: "boolean" },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(`${USAGE}\n`);
    return command || values.help ? 0 : 2;
  }
  const config = loadConfig();
  const log = createLogger({ level: config.logLevel });
  switch (command) {
    case "start": {
      const running = await start(config, {
        migrate: !values["no-migrate"],
        log,
        extensions: await extensions(config),
      });
      handleSignals(running, config, log);
      return -1;
    }
    case "migrate": {
      const db = Database.open(config, log);
      try {
        await waitForDatabase(db, config.database.waitSeconds, log);
        const applied = await db.migrate({ extra: extensionMigrations(await extensions(config)) });
        await db.refreshTenantTables();
        process.stdout.write(applied.length ? `Applied: ${applied.join(", ")}\n` : "Already up to date.\n");
      } finally {
        await db.close();
      }
      return 0;
    }
    case "admin": {
      if (positionals[1] !== "create" || !values.email || !values["password-stdin"]) {
        process.stderr.write(`${USAGE}\n`);
        return 2;
      }
      const password = (await readStdin()).replace(/\r?\n$/, "");
      const db = Database.open(config, log);
      try {
        await waitForDatabase(db, config.database.waitSeconds, log);
        await db.migrate();
        await db.refreshTenantTables();
        const hasher = new PasswordHasher(config.auth.argon2);
        const mfa = new MfaService(
          new MfaStore(db.global),
          new Sealer(config.secret),
          new URL(config.publicUrl).hostname,
        );
        const created = await new AdminService(db.global, hasher, mfa, config).create(
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
        process.stdout.write(`${lines.join("\n")}\n`);
      } finally {
        await db.close();
      }
      return 0;
    }
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}\n`);
      return 2;
  }
}

/** The extensions the configuration turns on: the example catalog (CATALOG_EXAMPLE, on in development). */
async function extensions(config: Config): Promise<Extension[]> {
  if (!config.catalogExample) return [];
  const { catalog } = await import("../../examples/catalog/index.js");
  return [catalog];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError || err instanceof AppError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`bulwark: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
