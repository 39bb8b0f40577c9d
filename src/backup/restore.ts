import { existsSync } from "node:fs";
import { link, mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import type { Config } from "../config/load.js";
import { retain } from "../db/sqlite-cache.js";
import { openFile } from "./archive.js";
import { pgRestore } from "./pg.js";
import { backupTarget } from "./targets.js";

const SQLITE_MAGIC = "SQLite format 3\0";
const PG_MAGIC = "PGDMP";

/**
 * `bulwark restore FILE` (DATA-2): decrypts a backup with BACKUP_IDENTITY and restores it into an empty
 * database of this configuration (no SQLite file in the data directory; an empty PostgreSQL schema).
 * Nothing is written where the server reads until the whole backup has decrypted and verified (age
 * authenticates every chunk and the end) and, for SQLite, passed `PRAGMA integrity_check`. The servers
 * that start on it need the DATA_KEYS the data was sealed under: start-up names a missing one.
 */
export async function restoreBackup(config: Config, arg: string): Promise<string> {
  const identity = config.backup.identity;
  if (!identity) throw new Error("BACKUP_IDENTITY is not set: it is the private key that opens backups");
  const scratch = await mkdtemp(join(tmpdir(), "bulwark-fetch-"));
  try {
    const found = await locate(config, arg, scratch);
    return await restoreFile(config, found.file, identity, found.label);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * The backup `arg` names, as a local file: a path; or a backup's name, or `latest`, in the configured
 * destination (BACKUP_DIR, or BACKUP_BUCKET, downloaded into `scratch`).
 */
async function locate(
  config: Config,
  arg: string,
  scratch: string,
): Promise<{ file: string; label: string }> {
  if (arg !== "latest" && existsSync(arg)) return { file: arg, label: arg };
  const target = await backupTarget(config);
  const kept = await target.list();
  // `latest` as the server's retention and /health see it: nothing dated in the future passes for it.
  const name =
    arg === "latest"
      ? kept.find((b) => b.at <= Date.now() + 5 * 60_000)?.name
      : kept.find((b) => b.name === arg)?.name;
  if (!name)
    throw new Error(
      arg === "latest"
        ? `no backup in ${target.where}`
        : `no backup at ${arg}, nor by that name in ${target.where}`,
    );
  return { file: await target.fetch(name, scratch), label: `${name} from ${target.where}` };
}

async function restoreFile(config: Config, file: string, identity: string, label: string): Promise<string> {
  if (!config.database.url) {
    const target = join(config.dataDir, "bulwark.db");
    // A WAL or journal left by a database that was removed would be read into the restored one.
    for (const f of [target, `${target}-wal`, `${target}-shm`, `${target}-journal`])
      if (existsSync(f))
        throw new Error(
          `${f} exists: restore only into an empty data directory (remove the old database and its -wal, -shm and -journal files)`,
        );
    await mkdir(config.dataDir, { recursive: true });
    const plain = `${target}.restore`;
    await openFile(file, plain, identity);
    try {
      await expectMagic(plain, SQLITE_MAGIC, "an SQLite backup");
      // Retained, as every better-sqlite3 object is (db/sqlite-cache.ts): one collected later aborts Node 24.
      const check = retain(new SQLite(plain, { readonly: true }));
      try {
        const result = retain(check.prepare("PRAGMA integrity_check")).pluck().get();
        if (result !== "ok")
          throw new Error(`the restored database fails its integrity check: ${String(result)}`);
      } finally {
        check.close();
      }
      // In place only if nothing appeared there meanwhile (a server started): link fails on an existing file.
      await link(plain, target);
    } finally {
      for (const f of [plain, `${plain}-wal`, `${plain}-shm`]) await rm(f, { force: true });
    }
    return `Restored ${label} into ${target}.\n`;
  }
  const dir = await mkdtemp(join(tmpdir(), "bulwark-restore-"));
  try {
    const plain = join(dir, "dump");
    await openFile(file, plain, identity);
    await expectMagic(plain, PG_MAGIC, "a PostgreSQL backup");
    await pgRestore(config, plain);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return `Restored ${label} into schema ${config.database.schema}.\n`;
}

async function expectMagic(file: string, magic: string, what: string): Promise<void> {
  const f = await open(file, "r");
  try {
    const buf = Buffer.alloc(magic.length);
    await f.read(buf, 0, magic.length, 0);
    if (buf.toString("latin1") !== magic)
      throw new Error(`this backup is not ${what}: restore it with the database engine it was taken from`);
  } finally {
    await f.close();
  }
}
