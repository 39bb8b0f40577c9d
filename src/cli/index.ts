#!/usr/bin/env node
import { parseArgs } from "node:util";
import { ConfigError, loadConfig } from "../config/load.js";
import { Database } from "../db/database.js";
import { waitForDatabase } from "../db/wait.js";
import { createLogger } from "../log/logger.js";
import { handleSignals, start } from "../server.js";

const USAGE = `Usage: bulwark <command> [options]

Commands:
  start [--no-migrate]   Migrate the database (unless --no-migrate) and serve HTTP.
  migrate                Apply pending migrations and exit (idempotent).

Configuration comes from environment variables (see README.md), optionally from BULWARK_CONFIG.`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { "no-migrate": { type: "boolean" }, help: { type: "boolean", short: "h" } },
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
      const running = await start(config, { migrate: !values["no-migrate"], log });
      handleSignals(running, config, log);
      return -1;
    }
    case "migrate": {
      const db = Database.open(config, log);
      try {
        await waitForDatabase(db, config.database.waitSeconds, log);
        const applied = await db.migrate();
        await db.refreshTenantTables();
        process.stdout.write(applied.length ? `Applied: ${applied.join(", ")}\n` : "Already up to date.\n");
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

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
    else process.stderr.write(`bulwark: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
