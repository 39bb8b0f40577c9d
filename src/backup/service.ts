import { chmod, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/load.js";
import type { Database } from "../db/database.js";
import { sealFile } from "./archive.js";
import { pgDump } from "./pg.js";
import type { BackupTarget, StoredBackup } from "./target.js";
import { backupTarget } from "./targets.js";

export interface BackupResult {
  /** Where the backup is kept: its path, or `s3://bucket/prefix/name`. */
  readonly file: string;
  readonly bytes: number;
  readonly ms: number;
  /** Older backups deleted by retention. */
  readonly pruned: number;
}

/**
 * Encrypted backups (DATA-2): a consistent snapshot of the live database (SQLite's VACUUM INTO, in one read transaction;
 * pg_dump on PostgreSQL), encrypted to BACKUP_RECIPIENTS (age, archive.ts) into BACKUP_DIR, kept there or
 * in BACKUP_BUCKET (targets.ts), then retention. The plaintext snapshot exists only in that directory
 * (mode 0700) for the time of one encryption, in a directory of its own (0700), removed whatever happens
 * and, after a crash, by the next backup; an interrupted backup leaves no file that looks complete.
 */
export class BackupService {
  private target?: Promise<BackupTarget>;

  constructor(
    private readonly db: Database,
    private readonly config: Config,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Where backups are kept (the AWS SDK is loaded on first use, and only for a bucket). */
  destination(): Promise<BackupTarget> {
    this.target ??= backupTarget(this.config);
    return this.target;
  }

  async backup(): Promise<BackupResult> {
    const { recipients, dir } = this.config.backup;
    if (recipients.length === 0)
      throw new Error("BACKUP_RECIPIENTS is not set: backups are encrypted to it (bulwark backup keygen)");
    const started = this.clock();
    const target = await this.destination();
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const engine = this.db.engine === "sqlite" ? "sqlite" : "pg";
    // Plaintext a crash left behind is removed before anything else.
    for (const name of await readdir(dir))
      if (name.startsWith(".snapshot-")) await rm(join(dir, name), { recursive: true, force: true });
    // The plaintext snapshot lives in a directory of its own, readable by this user alone, whatever the
    // modes of BACKUP_DIR and of the files SQLite or pg_dump create.
    const aside = await mkdtemp(join(dir, ".snapshot-"));
    await chmod(aside, 0o700);
    const snapshot = join(aside, "db");
    const name = `bulwark-${stamp(started)}.${engine}.age`;
    try {
      if (this.db.engine === "sqlite") await this.db.sqliteBackup(snapshot);
      else await pgDump(this.config, snapshot);
      await chmod(snapshot, 0o600);
      const bytes = await sealFile(snapshot, join(dir, name), recipients);
      await rm(aside, { recursive: true, force: true });
      const file = await target.keep(join(dir, name), name);
      const pruned = await this.prune();
      return { file, bytes, ms: this.clock() - started, pruned };
    } finally {
      await rm(aside, { recursive: true, force: true });
    }
  }

  /**
   * The backups kept, newest first, leaving out any dated in the future (a host with a fast clock, or a
   * name written by hand into the destination): such a one would otherwise pass for the newest for ever,
   * keep /health green after backups stopped, and be what `restore latest` takes.
   */
  async kept(): Promise<StoredBackup[]> {
    const soon = this.clock() + 5 * 60_000;
    return (await (await this.destination()).list()).filter((b) => b.at <= soon);
  }

  /** Deletes backups older than the retention period; the newest always stays. */
  async prune(): Promise<number> {
    const cutoff = this.clock() - this.config.backup.retentionDays * 86_400_000;
    const target = await this.destination();
    let pruned = 0;
    for (const b of (await this.kept()).slice(1))
      if (b.at < cutoff) {
        await target.remove(b.name);
        pruned++;
      }
    return pruned;
  }

  /** When the newest backup was taken (epoch ms), if there is one. */
  async newest(): Promise<number | undefined> {
    return (await this.kept())[0]?.at;
  }
}

/** 20261207T044500123Z: sortable, no `:` (not allowed in some file systems' names). */
function stamp(at: number): string {
  return new Date(at).toISOString().replace(/[-:]/g, "").replace(".", "");
}
