// Data protection figures (issue 14's closing note): `bulwark backup` and `bulwark restore` of an SQLite
// database of --users accounts (time and size), and `bulwark keys rotate-data` re-sealing --seeds TOTP
// seeds from one data key to another (rows per second). Imports from dist/ (npm run build first).
//
//   node bench/data.js [--users 100000] [--seeds 20000]
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import SQLite from "better-sqlite3";
import { bulwarkMigrations } from "../dist/src/app.js";
import { newBackupKey } from "../dist/src/backup/archive.js";
import { restoreBackup } from "../dist/src/backup/restore.js";
import { BackupService } from "../dist/src/backup/service.js";
import { loadConfig } from "../dist/src/config/load.js";
import { Sealer } from "../dist/src/crypto/seal.js";
import { rotateData } from "../dist/src/datakeys/cli.js";
import { Database } from "../dist/src/db/database.js";
import { PasswordHasher } from "../dist/src/identity/password.js";
import { createLogger } from "../dist/src/log/logger.js";
import { TOTP_SEED } from "../dist/src/mfa/tables.js";

const { values } = parseArgs({
  options: { users: { type: "string", default: "100000" }, seeds: { type: "string", default: "20000" } },
});
const log = createLogger({ level: "silent" });
const key = (id) => `${id}:${randomBytes(32).toString("base64")}`;
const [k1, k2] = [key("k1"), key("k2")];

/** A migrated SQLite database in a fresh data directory, and its configuration. */
async function fresh(env) {
  const dir = mkdtempSync(join(tmpdir(), "bulwark-bench-data-"));
  const config = loadConfig({ NODE_ENV: "test", LOG_LEVEL: "silent", BULWARK_DATA_DIR: dir, ...env });
  const db = Database.open(config, log);
  await db.migrate({ extra: bulwarkMigrations() });
  await db.refreshTenantTables();
  await db.close();
  return { dir, config, file: join(dir, "bulwark.db") };
}

// Backup and restore of N accounts (each with an argon2id hash, as real ones have).
const users = Number(values.users);
const backupKey = await newBackupKey();
const b = await fresh({ BACKUP_RECIPIENTS: backupKey.recipient, BACKUP_IDENTITY: backupKey.identity });
const hash = await new PasswordHasher(b.config.auth.argon2).hash("correct horse battery staple");
const raw = new SQLite(b.file);
const addUser = raw.prepare(
  "INSERT INTO users (id, email, email_verified_at, password_hash, created_at, updated_at) VALUES (?, ?, 1, ?, 1, 1)",
);
raw.transaction(() => {
  for (let i = 0; i < users; i++)
    addUser.run(`usr_${String(i).padStart(26, "0")}`, `user${i}@example.org`, hash);
})();
raw.close();
const dbBytes = statSync(b.file).size;
let db = Database.open(b.config, log);
let t = performance.now();
const taken = await new BackupService(db, b.config).backup();
const backupSeconds = (performance.now() - t) / 1000;
await db.close();
for (const f of ["", "-wal", "-shm"]) rmSync(`${b.file}${f}`, { force: true });
t = performance.now();
await restoreBackup(b.config, taken.file);
const restoreSeconds = (performance.now() - t) / 1000;
rmSync(b.dir, { recursive: true, force: true });

// Re-sealing N TOTP seeds from k1 to k2.
const seeds = Number(values.seeds);
const r = await fresh({ DATA_KEYS: k1, BULWARK_SECRET: randomBytes(32).toString("base64url") });
const sealer = new Sealer(r.config.dataKeys);
const rdb = new SQLite(r.file);
const addSeed = rdb.prepare(
  "INSERT INTO mfa_totp (principal_id, secret_sealed, confirmed_at, last_step, created_at) VALUES (?, ?, 1, 0, 1)",
);
rdb.transaction(() => {
  for (let i = 0; i < seeds; i++) {
    const id = `usr_${String(i).padStart(26, "0")}`;
    addSeed.run(id, sealer.seal("JBSWY3DPEHPK3PXP", TOTP_SEED, id));
  }
})();
rdb.close();
db = Database.open({ ...r.config }, log);
await db.refreshTenantTables();
const rotated = loadConfig({
  NODE_ENV: "test",
  LOG_LEVEL: "silent",
  BULWARK_DATA_DIR: r.dir,
  DATA_KEYS: `${k2},${k1}`,
});
const sink = { write: () => {} };
t = performance.now();
const code = await rotateData(db, rotated, [], undefined, { stdout: sink, stderr: sink });
const resealSeconds = (performance.now() - t) / 1000;
await db.close();
rmSync(r.dir, { recursive: true, force: true });

console.log(
  JSON.stringify(
    {
      backup: { users, databaseBytes: dbBytes, backupBytes: taken.bytes, backupSeconds, restoreSeconds },
      reseal: {
        rows: seeds,
        seconds: resealSeconds,
        rowsPerSecond: Math.round(seeds / resealSeconds),
        exit: code,
      },
    },
    null,
    2,
  ),
);
