import type { Capability } from "../capability.js";
import { expectThat } from "../posture/checks.js";
import { BackupService } from "./service.js";

declare module "../context.js" {
  interface Services {
    backups: BackupService;
  }
}

const HOUR = 3_600_000;

/**
 * Encrypted backups from the server (DATA-2): with BACKUP_EVERY_HOURS a job takes one on that schedule
 * (recorded as job `backup`, OBS-6); with BACKUP_RECIPIENTS set, `/health` reports the newest backup's
 * age (its check down, the status degraded, once older than BACKUP_MAX_AGE_HOURS) and `/metrics` gives
 * its time as `bulwark_backup_last_success_timestamp_seconds`. `bulwark backup` (cli.ts) takes one from outside, e.g. from cron.
 */
export const backupCapability: Capability = {
  name: "backups",
  async register(app, ctx) {
    const settings = ctx.config.backup;
    const backups = new BackupService(ctx.db, ctx.config);
    ctx.provide("backups", backups);
    if (settings.recipients.length === 0) return;

    // The newest backup's time, read from the destination: never awaited at start-up (an unreachable
    // bucket must not keep the server from starting) and never rejecting (its failure is the check's).
    // A directory is read again at every probe; a bucket at most once a minute, since each read is a
    // billed LIST that anyone calling /health would otherwise trigger.
    const bucket = settings.bucket !== undefined;
    let newest: number | undefined;
    let problem: string | undefined;
    let readAt = 0;
    let reading: Promise<void> | undefined;
    const read = (): Promise<void> => {
      reading ??= backups
        .newest()
        .then(
          (n) => {
            newest = n;
            problem = undefined;
          },
          (err: Error) => {
            problem = `the backup destination did not answer: ${err.message}`;
          },
        )
        .finally(() => {
          readAt = Date.now();
          reading = undefined;
        });
      return reading;
    };
    void read();
    // Backups taken by `bulwark backup` from cron show up within a minute.
    const refresh = setInterval(() => void read(), 60_000);
    refresh.unref();
    app.addHook("onClose", async () => {
      clearInterval(refresh);
      await reading;
    });
    const age = () => (newest === undefined ? Number.POSITIVE_INFINITY : Math.max(0, Date.now() - newest));
    ctx.metrics.gauge(
      "bulwark_backup_last_success_timestamp_seconds",
      "When the newest backup in the backup destination was taken (Unix seconds; 0: none yet, so time() minus it alerts).",
      () => (newest === undefined ? 0 : Math.floor(newest / 1000)),
    );
    // What /health and the security page's check of DATA-2 report: the destination answers and holds a
    // backup younger than the limit. The error says no more than that (it is shown on the public page).
    const freshness = async (): Promise<string | undefined> => {
      if (!bucket || readAt === 0 || Date.now() - readAt >= 60_000) await read();
      if (problem)
        return bucket ? "the backup bucket did not answer" : "the backup directory could not be read";
      if (age() <= settings.maxAgeMs) return undefined;
      return newest === undefined
        ? "no backup yet"
        : `the newest backup is ${Math.floor(age() / HOUR)} h old (limit ${settings.maxAgeMs / HOUR} h)`;
    };
    ctx.health.add({
      name: "backup",
      required: false,
      probe: async () => {
        const stale = await freshness();
        // /health names the destination's own error (hidden from the body in production).
        if (stale) throw new Error(problem ?? stale);
      },
    });

    const jobs = ctx.service("jobs");
    if (settings.everyMs > 0 && jobs.background) {
      let timer: NodeJS.Timeout | undefined;
      let closed = false;
      // One timer, set again after each try: never two runs at once here, and the next one falls due
      // BACKUP_EVERY_HOURS after the newest backup, whoever took it (a restart does not add one), or when
      // the job's lease ends: one backup at a time among every process on this database, and a failed
      // one tried again within five minutes.
      let leaseEnds = 0;
      const next = () => {
        if (closed) return;
        const wait = Math.max(10_000, settings.everyMs - age(), leaseEnds - Date.now());
        timer = setTimeout(take, wait);
        timer.unref();
      };
      const take = () =>
        void jobs
          .runLeased("backup", "backup", settings.everyMs, async () => {
            await backups.backup();
            return 1;
          })
          .then(async ({ until }) => {
            leaseEnds = until;
            await read();
          })
          .catch((err: Error) => ctx.log.error({ reason: err.message }, "scheduled backup not taken"))
          .finally(next);
      next();
      app.addHook("onClose", async () => {
        closed = true;
        clearTimeout(timer);
      });
    }

    ctx.posture.register({
      id: "DATA-2",
      title: "Encrypted backups",
      claim: `Backups are consistent snapshots (SQLite's VACUUM INTO, in one read transaction; pg_dump on PostgreSQL) encrypted to a backup key separate from every other key: age v1 (X25519, ChaCha20-Poly1305 in authenticated 64 KiB chunks), so a backup file changed or cut short is refused. Taking a backup needs only the public half; the private key is needed only to restore, into an empty database only. ${settings.bucket ? "Backups are kept in an S3-compatible bucket, uploaded already encrypted; the local copy is removed once the upload ends. " : ""}${settings.everyMs > 0 ? `The server takes one ${settings.everyMs / HOUR} h after the newest; ` : ""}backups older than ${settings.retentionDays} days are deleted, the newest always kept; /health reports degraded once the newest is older than ${settings.maxAgeMs / HOUR} h.`,
      settings: {
        format: "age-encryption.org/v1",
        destination: settings.bucket ? "s3" : "directory",
        everyHours: settings.everyMs / HOUR,
        retentionDays: settings.retentionDays,
        maxAgeHours: settings.maxAgeMs / HOUR,
      },
      enabled: true,
      probe: async () => {
        const stale = await freshness();
        expectThat(stale === undefined, stale ?? "");
      },
    });
  },
};
