import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/load.js";
import { Database } from "../db/database.js";
import { waitForDatabase } from "../db/wait.js";
import { JobsService } from "../jobs/service.js";
import type { Logger } from "../log/logger.js";
import { MetricsRegistry } from "../metrics/registry.js";
import { newBackupKey } from "./archive.js";
import { restoreBackup } from "./restore.js";
import { BackupService } from "./service.js";

interface Out {
  write(s: string): unknown;
}

/** `bulwark backup keygen`: a new key pair, printed once. */
export async function backupKeygen(stdout: Out): Promise<number> {
  const { identity, recipient } = await newBackupKey();
  stdout.write(
    `BACKUP_RECIPIENTS=${recipient}\n` +
      `BACKUP_IDENTITY=${identity}\n\n` +
      "Give the servers BACKUP_RECIPIENTS (public). Keep BACKUP_IDENTITY off them, somewhere safe: it is the only key that opens the backups.\n",
  );
  return 0;
}

/**
 * `bulwark backup` and `bulwark restore FILE` (DATA-2). A backup is recorded
 * as a run of the job `backup` (OBS-6), as the server's scheduled ones are. Exit code 1 with the reason
 * on standard error when it cannot be done; nothing half-done is left behind.
 */
export async function backupCommand(
  args: readonly string[],
  config: Config,
  log: Logger,
  out: { stdout: Out; stderr: Out },
): Promise<number> {
  try {
    if (args[0] === "restore") {
      out.stdout.write(await restoreBackup(config, args[1]!));
      return 0;
    }
    // Opening would create an empty SQLite database, which a later restore would then refuse to replace.
    if (!config.database.url && !existsSync(join(config.dataDir, "bulwark.db")))
      throw new Error(`no database in ${config.dataDir}: nothing to back up`);
    const db = Database.open(config, log);
    try {
      await waitForDatabase(db, config.database.waitSeconds, log);
      const jobs = new JobsService(db.global, log, new MetricsRegistry());
      let result: Awaited<ReturnType<BackupService["backup"]>> | undefined;
      const run = await jobs.run("backup", async () => {
        result = await new BackupService(db, config).backup();
        return 1;
      });
      if (!result) throw new Error(run.error ?? "the backup failed");
      out.stdout.write(
        `Backed up to ${result.file} (${result.bytes} bytes, ${(result.ms / 1000).toFixed(1)} s)` +
          (result.pruned ? `; ${result.pruned} older backups deleted by retention` : "") +
          ".\n",
      );
      return 0;
    } finally {
      await db.close();
    }
  } catch (err) {
    out.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
}
