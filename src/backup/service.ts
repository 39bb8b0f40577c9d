import { chmod, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/load.js";
import type { Database } from "../db/database.js";
import { sealFile } from "./archive.js";
import { pgDump } from "./pg.js";

/** A backup file's name: when it was taken (UTC, to the millisecond) and from which engine. */
const NAME = /^bulwark-(\d{8}T\d{9}Z)\.(sqlite|pg)\.age$/;

export interface BackupResult {
  readonly file: string;
  readonly bytes: number;
  readonly ms: number;
  /** Older backups deleted by retention. */
  readonly pruned: number;
}

/**
 * Encrypted backups (DATA-2): a consistent snapshot of the live database (SQLite's VACUUM INTO, in one read transaction;
 * pg_dump on PostgreSQL), encrypted to BACKUP_RECIPIENTS (age, archive.ts) into BACKUP_DIR, then
 * retention. The plaintext snapshot exists only in that directory (mode 0700) for the time of one
 * encryption, in a directory of its own (0700), removed whatever happens and, after a crash, by the next
 * backup; an interrupted backup leaves no file that looks complete.
 */
export class BackupService {
  constructor(
    private readonly db: Database,
    private readonly config: Config,
    private readonly clock: () => number = Date.now,
  ) {}

  async backup(): Promise<BackupResult> {
    const { recipients, dir } = this.config.backup;
    if (recipients.length === 0)
      throw new Error("BACKUP_RECIPIENTS is not set: backups are encrypted to it (bulwark backup keygen)");
    const started = this.clock();
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
    const file = join(dir, `bulwark-${stamp(started)}.${engine}.age`);
    try {
      if (this.db.engine === "sqlite") await this.db.sqliteBackup(snapshot);
      else await pgDump(this.config, snapshot);
      await chmod(snapshot, 0o600);
      const bytes = await sealFile(snapshot, file, recipients);
      const pruned = await this.prune();
      return { file, bytes, ms: this.clock() - started, pruned };
    } finally {
      await rm(aside, { recursive: true, force: true });
    }
  }

  /** Deletes backups older than the retention period; the newest always stays. */
  async prune(): Promise<number> {
    const { dir, retentionDays } = this.config.backup;
    const cutoff = this.clock() - retentionDays * 86_400_000;
    const files = (await list(dir)).slice(1);
    let pruned = 0;
    for (const f of files)
      if (f.at < cutoff) {
        await rm(join(dir, f.name), { force: true });
        pruned++;
      }
    return pruned;
  }

  /** When the newest backup in BACKUP_DIR was taken (epoch ms), if there is one. */
  async newest(): Promise<number | undefined> {
    return (await list(this.config.backup.dir))[0]?.at;
  }
}

/** The backups in `dir`, newest first. */
async function list(dir: string): Promise<{ name: string; at: number }[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out: { name: string; at: number }[] = [];
  for (const name of names) {
    const m = NAME.exec(name);
    if (!m) continue;
    const s = m[1]!;
    const at = Date.UTC(
      +s.slice(0, 4),
      +s.slice(4, 6) - 1,
      +s.slice(6, 8),
      +s.slice(9, 11),
      +s.slice(11, 13),
      +s.slice(13, 15),
      +s.slice(15, 18),
    );
    if ((await stat(join(dir, name))).isFile()) out.push({ name, at });
  }
  return out.sort((a, b) => b.at - a.at);
}

/** 20261207T044500123Z: sortable, no `:` (not allowed in some file systems' names). */
function stamp(at: number): string {
  return new Date(at).toISOString().replace(/[-:]/g, "").replace(".", "");
}
