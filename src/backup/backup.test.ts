import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type BackupWorld, backupWorld } from "../../test/backup-world.js";
import { createUser, ENGINE, login, PG_URL, silentLog, type TestApp } from "../../test/harness.js";
import { buildApp, bulwarkMigrations } from "../app.js";
import { type Config, loadConfig } from "../config/load.js";
import { Database } from "../db/database.js";
import { BackupService } from "./service.js";

const PW = "correct horse battery staple";
const USERS = ["first@example.org", "second@example.org", "third@example.org"];

/**
 * Encrypted backups (DATA-2) through the commands an operator runs: `bulwark backup`, a wipe,
 * `bulwark restore`, then the server on the restored data, on the engine the suite runs on.
 */
describe(`DATA-2 encrypted backups (${ENGINE})`, { timeout: 120_000 }, () => {
  let w: BackupWorld;
  let dir = "";
  let env: Record<string, string>;
  let config: Config;
  let orgId = "";
  let apiKey = "";
  let backup = "";
  let out = "";
  const cli = async (...args: string[]) => {
    const code = await w.cli(...args);
    out = w.out();
    return code;
  };
  const served = <T>(fn: (t: TestApp) => Promise<T>) => w.served(fn);
  const wipe = () => w.wipe();

  beforeAll(async () => {
    w = await backupWorld();
    ({ dir, env, config } = w);
  });
  afterAll(() => w.close());

  it("DATA-2: with BACKUP_RECIPIENTS and no backup yet, /health is degraded and names the backup check", async () => {
    await served(async (t) => {
      const res = await t.app.inject({ url: "/health" });
      expect(res.statusCode).toBe(200);
      expect(res.json().status).toBe("degraded");
      expect(res.json().checks.backup).toMatchObject({ status: "down", error: "no backup yet" });
    });
  });

  it("DATA-2: the security page's live check of backups says 'does not hold' until one is taken", async () => {
    await served(async (t) => {
      await t.app.bulwark.posture.settled();
      const data2 = (await t.app.inject({ url: "/security.json" }))
        .json()
        .controls.find((c: { id: string }) => c.id === "DATA-2");
      expect(data2.check).toMatchObject({ holds: false, detail: "no backup yet" });
      expect((await t.app.inject({ url: "/health" })).json().failingClaims).toContain("DATA-2");
    });
  });

  it("DATA-2: bulwark backup writes a consistent snapshot encrypted with age; nothing readable is left beside it", async () => {
    await served(async (t) => {
      for (const email of USERS) await createUser(t, email, PW);
      const s = await login(t, USERS[0]!, PW);
      const headers = { cookie: s.cookie, "x-csrf-token": s.csrf };
      orgId = (
        await t.app.inject({ method: "POST", url: "/v1/orgs", headers, payload: { name: "Backed Up" } })
      ).json().org.id;
      const made = await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${orgId}/api-keys`,
        headers,
        payload: { name: "ci", scopes: ["org:read"] },
      });
      expect(made.statusCode, made.body).toBe(201);
      apiKey = made.json().key;
    });
    expect(await cli("backup"), out).toBe(0);
    expect(out).toMatch(/^Backed up to .*bulwark-\d{8}T\d{9}Z\.(sqlite|pg)\.age \(\d+ bytes/);
    const files = readdirSync(config.backup.dir);
    expect(files).toHaveLength(1);
    backup = join(config.backup.dir, files[0]!);
    const bytes = readFileSync(backup);
    expect(bytes.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    for (const email of USERS) expect(bytes.includes(Buffer.from(email))).toBe(false);
    // Beside the backup, nothing: the plaintext snapshot is gone.
    expect(readdirSync(config.backup.dir).filter((f) => f.startsWith(".snapshot"))).toEqual([]);
    // The run is recorded as a job (OBS-6), and /health is ok now that a fresh backup exists.
    await served(async (t) => {
      const runs = await t.app.bulwark.service("jobs").list(10, "backup");
      expect(runs.map((r) => r.status)).toEqual(["succeeded"]);
      expect((await t.app.inject({ url: "/health" })).json()).toMatchObject({
        status: "ok",
        checks: { backup: { status: "up" } },
      });
    });
  });

  it("DATA-2: restore refuses a database that is not empty, and a backup with one byte changed", async () => {
    expect(await cli("restore", backup)).toBe(1);
    expect(out).toMatch(/restore only into an empty/);
    await wipe();
    if (!PG_URL) {
      // A WAL left by a removed database would be read into the restored one: refused until removed.
      writeFileSync(join(dir, "bulwark.db-wal"), "stale");
      expect(await cli("restore", backup)).toBe(1);
      expect(out).toMatch(/bulwark\.db-wal exists: restore only into an empty data directory/);
      rmSync(join(dir, "bulwark.db-wal"));
    }
    // Cut short, or one byte changed: refused, and nothing restored.
    const truncated = join(dir, "truncated.age");
    writeFileSync(truncated, readFileSync(backup).subarray(0, -100));
    expect(await cli("restore", truncated)).toBe(1);
    expect(out).toContain("does not open with BACKUP_IDENTITY, or was altered");
    const tampered = join(dir, "tampered.age");
    const bytes = readFileSync(backup);
    bytes[Math.floor(bytes.length / 2)]! ^= 1;
    writeFileSync(tampered, bytes);
    expect(await cli("restore", tampered)).toBe(1);
    expect(out).toContain("does not open with BACKUP_IDENTITY, or was altered");
    // Nothing was restored: the database is still empty.
    if (!PG_URL) expect(readdirSync(dir).filter((f) => f.startsWith("bulwark.db"))).toEqual([]);
    else expect(await w.tables()).toBe(0);
  });

  it("DATA-2: backup, wipe, restore: every user signs in, the API key works, and the audit log verifies", async () => {
    expect(await cli("restore", backup), out).toBe(0);
    // Only the database: the restore leaves no plaintext or side files beside it.
    if (!PG_URL) expect(readdirSync(dir).filter((f) => f.startsWith("bulwark.db"))).toEqual(["bulwark.db"]);
    await served(async (t) => {
      for (const email of USERS) expect((await login(t, email, PW)).cookie).toMatch(/bulwark_session=/);
      const read = await t.app.inject({
        url: `/v1/orgs/${orgId}`,
        headers: { authorization: `Bearer ${apiKey}` },
      });
      expect(read.statusCode, read.body).toBe(200);
      expect(read.json().org.name).toBe("Backed Up");
    });
    expect(await cli("audit", "verify"), out).toBe(0);
    expect(out).toContain(`ok   ${orgId}`);
  });

  it("DATA-2: retention deletes backups older than BACKUP_RETENTION_DAYS at the boundary, and keeps the newest", async () => {
    const now = Date.UTC(2026, 11, 7, 12);
    const stamp = (at: number) => new Date(at).toISOString().replace(/[-:]/g, "").replace(".", "");
    const name = (at: number) => `bulwark-${stamp(at)}.sqlite.age`;
    const days = config.backup.retentionDays;
    const kept = now - days * 86_400_000;
    const old = kept - 1;
    const backupsDir = mkdtempSync(join(tmpdir(), "bulwark-retention-"));
    try {
      for (const at of [old, kept, now]) writeFileSync(join(backupsDir, name(at)), "x");
      const cfg = { ...config, backup: { ...config.backup, dir: backupsDir } };
      const service = new BackupService(undefined as never, cfg, () => now);
      expect(await service.prune()).toBe(1);
      expect(readdirSync(backupsDir).sort()).toEqual([name(kept), name(now)]);
      // However old, the newest stays.
      expect(await new BackupService(undefined as never, cfg, () => now + 365 * 86_400_000).prune()).toBe(1);
      expect(readdirSync(backupsDir)).toEqual([name(now)]);
    } finally {
      rmSync(backupsDir, { recursive: true, force: true });
    }
  });

  it("DATA-2: /health turns degraded once the newest backup is older than BACKUP_MAX_AGE_HOURS", async () => {
    const newest = await new BackupService(undefined as never, config).newest();
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      await served(async (t) => {
        await t.app.bulwark.posture.settled();
        const data2 = (await t.app.inject({ url: "/security.json" }))
          .json()
          .controls.find((c: { id: string }) => c.id === "DATA-2");
        expect(data2.check).toMatchObject({ holds: true });
        vi.setSystemTime(newest! + config.backup.maxAgeMs);
        expect((await t.app.inject({ url: "/health" })).json().status).toBe("ok");
        vi.setSystemTime(newest! + config.backup.maxAgeMs + 1);
        const late = (await t.app.inject({ url: "/health" })).json();
        expect(late.status).toBe("degraded");
        expect(late.checks.backup.error).toMatch(/the newest backup is 26 h old \(limit 26 h\)/);
      });
    } finally {
      vi.useRealTimers();
    }
  });

  it("DATA-2, OPS-2: with BACKUP_EVERY_HOURS the servers take one backup that long after the newest, not one each", async () => {
    const every = mkdtempSync(join(tmpdir(), "bulwark-every-"));
    // On SQLite whatever the suite's engine: the schedule is the same code on both, and PostgreSQL's
    // pg_dump runs in real time while the fake timers run ahead of it.
    const { DATABASE_URL: _url, DATABASE_APP_ROLE: _role, ...sqlite } = env;
    const cfg = loadConfig({
      ...sqlite,
      BULWARK_DATA_DIR: every,
      BACKUP_DIR: every,
      BACKUP_EVERY_HOURS: "1",
    });
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
    const db = Database.open(cfg, silentLog);
    const apps: Awaited<ReturnType<typeof buildApp>>[] = [];
    try {
      await db.migrate({ extra: bulwarkMigrations() });
      await db.refreshTenantTables();
      // Two servers on one database, each with its own schedule.
      for (let i = 0; i < 2; i++) {
        const app = await buildApp(cfg, { db });
        await app.ready();
        apps.push(app);
      }
      const taken = () => readdirSync(every).filter((f) => f.endsWith(".age"));
      const advance = async (ms: number, count: number) => {
        await vi.advanceTimersByTimeAsync(ms);
        await vi.waitFor(() => expect(taken()).toHaveLength(count), { timeout: 30_000, interval: 20 });
      };
      // None yet: the first is due ten seconds after start, then an hour after the newest.
      await advance(10_000, 1);
      await advance(3_600_000 - 60_000, 1);
      await advance(120_000, 2);
      await advance(3_600_000, 3);
      const runs = await db.global
        .selectFrom("job_runs")
        .select("status")
        .where("name", "=", "backup")
        .execute();
      expect(runs.map((r) => r.status)).toEqual(["succeeded", "succeeded", "succeeded"]);
    } finally {
      for (const app of apps) await app.close();
      vi.useRealTimers();
      await db.close();
      rmSync(every, { recursive: true, force: true });
    }
  });
});
