import type { Capability } from "../capability.js";
import type { BulwarkContext } from "../context.js";
import { ErasureService } from "./erasure.js";
import type { PersonalData } from "./personal.js";
import { privacyRoutes } from "./plugin.js";
import { DeletionRequests, privacyMigrations } from "./requests.js";
import { PrivacyService } from "./service.js";
import { PersonalDataStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    privacy: PrivacyService;
    erasure: ErasureService;
  }
}

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * Privacy requests (GDPR-1): a user's export of every row that names them, over the `personalData`
 * every capability and extension declares (`sources`). Registered last, so it knows them all.
 */
export function privacyCapability(declared: readonly PersonalData[]): Capability {
  // The pending deletion request is the person's too (its row goes with the account's, by cascade).
  const sources: readonly PersonalData[] = [
    ...declared,
    { table: "account_deletions", column: "user_id", omit: ["pseudonym"], erase: "owner" },
  ];
  return {
    name: "privacy",
    migrations: privacyMigrations,
    async register(app, ctx) {
      const audit = ctx.service("audit");
      const store = new PersonalDataStore(ctx.db);
      const privacy = new PrivacyService(store, sources, audit);
      ctx.provide("privacy", privacy);
      const erasure = new ErasureService({
        db: ctx.db,
        store,
        requests: new DeletionRequests(ctx.db.global),
        sources,
        audit,
        identity: ctx.service("identity"),
        orgs: ctx.service("orgs"),
        sessions: ctx.service("sessions"),
        coolingOffMs: ctx.config.retention.deletionDays * DAY_MS,
        log: ctx.log,
      });
      ctx.provide("erasure", erasure);
      ctx.service("jobs").schedule("privacy.erasure", { everyMs: HOUR_MS }, () => erasure.eraseDue());
      await app.register(privacyRoutes, { privacy, erasure, audit, db: ctx.db.global });
      deletionControl(ctx, sources);
      ctx.posture.register({
        id: "GDPR-1",
        title: "Export of personal data",
        claim: `A signed-in user downloads their personal data as one JSON file (POST /v1/me/export): every row that names them in ${new Set(sources.map((s) => s.table)).size} tables, organisations' tables included, with secrets and their hashes withheld and listed, and other people's ids and addresses replaced. Exports are rate-limited, refused while an admin impersonates the user, and recorded in the audit log.`,
        settings: { tables: [...new Set(sources.map((s) => s.table))].sort() },
        enabled: true,
      });
      retentionControl(ctx);
      subprocessorsControl(ctx);
    },
  };
}

/** GDPR-2: account deletion, with its cooling-off period, and what erasure keeps. */
function deletionControl(ctx: BulwarkContext, sources: readonly PersonalData[]): void {
  const days = ctx.config.retention.deletionDays;
  const deleted = new Set(
    sources.filter((s) => (s.erase ?? "delete") === "delete" || s.erase === "account").map((s) => s.table),
  ).size;
  ctx.posture.register({
    id: "GDPR-2",
    title: "Account deletion",
    claim: `A user deletes their account from the console or the API (the request needs their password proved within the last ${ctx.config.auth.reauthMs / 60_000} minutes). An hourly job erases it once ${days} days have passed, unless they cancelled in the meantime; from the moment the job takes it on, nobody can sign in to it and it can no longer be cancelled. Erasure ends their sessions and removes them from their organisations; deletes their rows in ${deleted} tables (account, sessions, second factors, passkeys, tokens, linked sign-ins, invitations sent to them); replaces their id with a pseudonym where an organisation keeps a row they created (an API key, an order); and blanks the content of every audit entry that names them (as its actor or subject, or by their id or address in its data; not in free text), and of the request records of the requests those entries came from, keeping each entry's leaf hash and recording in each log which entries were erased, so every audit log, checkpoint and exported bundle still verifies. The only owner of an organisation with other members must hand it over first; organisations they alone belong to are kept, without members.`,
    settings: { coolingOffDays: days },
    enabled: true,
  });
}

/**
 * GDPR-4: the sub-processors the operator lists (SUBPROCESSORS), and, from the configuration itself, where
 * the data is stored (the database, Redis) and what it is sent to (the mail relay, error tracking). The
 * operator's list must name the rest (hosting, sign-in providers a user chooses).
 */
function subprocessorsControl(ctx: BulwarkContext): void {
  const { subprocessors, mail, sentryDsn } = ctx.config;
  const listed = subprocessors.map(
    (s) => `${s.name} (${s.purpose}; ${s.location}${s.url ? `; ${s.url}` : ""})`,
  );
  const relay = mail.smtpUrl ? new URL(mail.smtpUrl).hostname : undefined;
  const tracking = sentryDsn ? new URL(sentryDsn).hostname : undefined;
  const { database: db, redisUrl } = ctx.config;
  const database =
    ctx.db.engine === "postgres"
      ? `in PostgreSQL${db.url ? ` at ${new URL(db.url).hostname}` : ""}`
      : "in SQLite on this server";
  const configured = `From the server's own configuration: data is stored ${database}${redisUrl ? `, with rate-limit counters (client addresses, sign-in addresses) in Redis at ${new URL(redisUrl).hostname}` : ""}; mail to users goes ${relay ? `through the relay ${relay}` : "nowhere outside (it is kept as files)"}; server errors are ${tracking ? `reported, without personal data, to ${tracking}` : "reported to no outside service"}.`;
  ctx.posture.register({
    id: "GDPR-4",
    title: "Sub-processors",
    claim: `${listed.length ? `The sub-processors of this deployment are: ${listed.join("; ")}.` : "The operator of this deployment lists no sub-processor."} ${configured}`,
    settings: {
      subprocessors: subprocessors.map((s) => s.name),
      ...(relay ? { mailRelay: relay } : {}),
      ...(tracking ? { errorTracking: tracking } : {}),
    },
    enabled: true,
  });
}

/**
 * GDPR-3: how long each kind of personal data is kept, from the configuration; each is enforced by a
 * scheduled job (sessions, delivery logs and expired links here; audit entries by AUDIT-6's, backups by
 * DATA-2's).
 */
function retentionControl(ctx: BulwarkContext): void {
  const { retention, audit, backup } = ctx.config;
  const rows = [
    ...(audit.enabled
      ? [
          `audit entries: their content ${audit.retentionDays} days (the leaf hashes stay, so the log still verifies)`,
        ]
      : []),
    `sessions (with their IP address and user agent): ${retention.sessionsDays} days after they end`,
    `webhook delivery logs (attempts, receivers' answers, sent messages): ${retention.deliveriesDays} days`,
    "verification and reset links, second-factor steps: deleted within an hour of expiring",
    ...(backup.recipients.length ? [`backups: ${backup.retentionDays} days (the newest always kept)`] : []),
  ];
  ctx.posture.register({
    id: "GDPR-3",
    title: "Retention per data type",
    claim: `Scheduled jobs delete these kinds of personal data once their time has passed: ${rows.join("; ")}. Accounts go when their owner deletes them, after the cooling-off period (GDPR-2); expired invitations are not among them yet.`,
    settings: {
      ...(audit.enabled ? { auditDays: audit.retentionDays } : {}),
      sessionsDays: retention.sessionsDays,
      deliveriesDays: retention.deliveriesDays,
      ...(backup.recipients.length ? { backupsDays: backup.retentionDays } : {}),
    },
    enabled: true,
  });
}
