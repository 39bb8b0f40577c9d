import type { Capability } from "../capability.js";
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
 * it as `bulwark_backup_age_seconds`. `bulwark backup` (cli.ts) takes one from outside, e.g. from cron.
 */
export const backupCapability: Capability = {
  name: "backups",
  async register(app, ctx) {
    const settings = ctx.config.backup;
    const backups = new BackupService(ctx.db, ctx.config);
    ctx.provide("backups", backups);
    if (settings.recipients.length === 0) return;

    let newest = await backups.newest();
    const age = () => (newest === undefined ? Number.POSITIVE_INFINITY : Date.now() - newest);
    ctx.metrics.gauge(
      "bulwark_backup_age_seconds",
      "Seconds since the newest backup in BACKUP_DIR was taken (-1: none yet).",
      () => (newest === undefined ? -1 : Math.round(age() / 1000)),
    );
    ctx.health.add({
      name: "backup",
      required: false,
      probe: async () => {
        newest = await backups.newest();
        if (age() > settings.maxAgeMs)
          throw new Error(
            newest === undefined
              ? "no backup yet"
              : `the newest backup is ${Math.floor(age() / HOUR)} h old (limit ${settings.maxAgeMs / HOUR} h)`,
          );
      },
    });

    if (settings.everyMs > 0) {
      const jobs = ctx.service("jobs");
      const take = () =>
        void jobs.run("backup", async () => {
          await backups.backup();
          newest = await backups.newest();
          return 1;
        });
      // The first one when the newest is already due, then on the schedule.
      const first = setTimeout(take, age() >= settings.everyMs ? 10_000 : settings.everyMs - age());
      const every = setInterval(take, settings.everyMs);
      first.unref();
      every.unref();
      app.addHook("onClose", async () => {
        clearTimeout(first);
        clearInterval(every);
      });
    }

    ctx.posture.register({
      id: "DATA-2",
      title: "Encrypted backups",
      claim: `Backups are consistent snapshots (SQLite's online backup API; pg_dump on PostgreSQL) encrypted to a backup key separate from every other key: age v1 (X25519, ChaCha20-Poly1305 in authenticated 64 KiB chunks), so a changed or truncated backup is refused. The servers hold only the public half; the private key is needed to restore, into an empty database only. ${settings.everyMs > 0 ? `The server takes one every ${settings.everyMs / HOUR} h; ` : ""}backups older than ${settings.retentionDays} days are deleted, the newest always kept; /health reports degraded once the newest is older than ${settings.maxAgeMs / HOUR} h.`,
      settings: {
        format: "age-encryption.org/v1",
        everyHours: settings.everyMs / HOUR,
        retentionDays: settings.retentionDays,
        maxAgeHours: settings.maxAgeMs / HOUR,
      },
      enabled: true,
    });
  },
};
