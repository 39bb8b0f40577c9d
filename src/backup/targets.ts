import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../config/load.js";
import { type BackupTarget, type StoredBackup, takenAt } from "./target.js";

/** Backups kept as files in BACKUP_DIR. */
export class DirectoryTarget implements BackupTarget {
  constructor(private readonly dir: string) {}

  get where(): string {
    return this.dir;
  }

  async keep(file: string): Promise<string> {
    return file;
  }

  async list(): Promise<StoredBackup[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: StoredBackup[] = [];
    for (const name of names) {
      const at = takenAt(name);
      if (at !== undefined && (await stat(join(this.dir, name))).isFile()) out.push({ name, at });
    }
    return out.sort((a, b) => b.at - a.at);
  }

  async remove(name: string): Promise<void> {
    await rm(join(this.dir, name), { force: true });
  }

  async fetch(name: string): Promise<string> {
    return join(this.dir, name);
  }
}

/** The configured target; the AWS SDK is loaded only when a bucket is configured. */
export async function backupTarget(config: Config): Promise<BackupTarget> {
  const { bucket, prefix, dir } = config.backup;
  if (!bucket) return new DirectoryTarget(dir);
  const { BucketTarget } = await import("./bucket.js");
  return new BucketTarget(config.s3, bucket, prefix);
}
