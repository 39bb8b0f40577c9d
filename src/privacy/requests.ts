import type { Kysely, Migration } from "kysely";
import type { Db } from "../db/database.js";
import { grantApp, type MigrationContext } from "../db/migrations.js";
import type { AccountDeletionRow } from "./tables.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** The core tables whose rows erasure deletes (an extension grants its own). */
const ERASED_ROWS = [
  "users",
  "email_tokens",
  "sessions",
  "memberships",
  "invitations",
  "mfa_totp",
  "mfa_backup_codes",
  "mfa_challenges",
  "passkeys",
  "webauthn_challenges",
  "token_families",
  "refresh_tokens",
  "external_identities",
  "external_flows",
  "oidc_state",
  "idempotency_keys",
];
/** The core tables whose rows erasure pseudonymises. */
const PSEUDONYMISED_ROWS = ["api_keys", "oidc_clients", "invitations", "webhook_messages"];

export function privacyMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0026_account_deletions": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("account_deletions")
          .addColumn("user_id", "text", (c) => c.primaryKey().references("users.id").onDelete("cascade"))
          .addColumn("pseudonym", "text", (c) => c.notNull())
          .addColumn("requested_at", "bigint", (c) => c.notNull())
          .addColumn("due_at", "bigint", (c) => c.notNull())
          .addColumn("claimed_at", "bigint")
          .addColumn("email", "text")
          .addColumn("name", "text")
          .execute();
        await db.schema
          .createIndex("account_deletions_due")
          .on("account_deletions")
          .column("due_at")
          .execute();
        await grantApp(db, ctx, "account_deletions", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
        // Erasure (GDPR-2) deletes the account's own rows and pseudonymises what organisations keep of
        // it; the audit log is not among these (its owner-run erasure keeps every leaf).
        for (const table of ERASED_ROWS) await grantApp(db, ctx, table, ["SELECT", "DELETE"]);
        for (const table of PSEUDONYMISED_ROWS) await grantApp(db, ctx, table, ["SELECT", "UPDATE"]);
      },
    },
  };
}

/** The queries over `account_deletions`: the only code that touches it. */
export class DeletionRequests {
  constructor(private readonly db: Db) {}

  find(userId: string, db: Db = this.db): Promise<AccountDeletionRow | undefined> {
    return db.selectFrom("account_deletions").selectAll().where("user_id", "=", userId).executeTakeFirst();
  }

  /** Records the request; false if one is already pending. */
  async add(row: AccountDeletionRow, db: Db): Promise<boolean> {
    const r = await db
      .insertInto("account_deletions")
      .values(row)
      .onConflict((c) => c.column("user_id").doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Removes the request (erased, or its account gone); true if there was one. */
  async remove(userId: string, db: Db = this.db): Promise<boolean> {
    const r = await db.deleteFrom("account_deletions").where("user_id", "=", userId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** Cancels the request unless the erasure has begun: "cancelled", "begun" or "none". */
  async cancel(userId: string, db: Db): Promise<"cancelled" | "begun" | "none"> {
    const r = await db
      .deleteFrom("account_deletions")
      .where("user_id", "=", userId)
      .where("claimed_at", "is", null)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) > 0) return "cancelled";
    return (await this.find(userId, db)) ? "begun" : "none";
  }

  /**
   * The erasure job takes the request on, with what it will erase; false if it was cancelled (or taken)
   * in the meantime. The row's lock orders this against `cancel`.
   */
  async claim(row: AccountDeletionRow, at: number, person: { email: string; name: string | null }, db: Db) {
    // The same request, still due: not one cancelled and asked again while the job ran.
    const r = await db
      .updateTable("account_deletions")
      .set({ claimed_at: at, email: person.email, name: person.name })
      .where("user_id", "=", row.user_id)
      .where("pseudonym", "=", row.pseudonym)
      .where("due_at", "<=", at)
      .where("claimed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** The requests whose cooling-off period has ended at `now`, oldest first, from after `after`. */
  due(now: number, limit: number, after?: AccountDeletionRow): Promise<AccountDeletionRow[]> {
    let q = this.db.selectFrom("account_deletions").selectAll().where("due_at", "<=", now);
    if (after)
      q = q.where((eb) =>
        eb.or([
          eb("due_at", ">", after.due_at),
          eb.and([eb("due_at", "=", after.due_at), eb("user_id", ">", after.user_id)]),
        ]),
      );
    return q.orderBy("due_at").orderBy("user_id").limit(limit).execute();
  }
}
