import type { Kysely, Migration } from "kysely";
import type { Db } from "../db/database.js";
import { enableTenantRls, grantApp, type MigrationContext } from "../db/migrations.js";
import type { UploadRow } from "./tables.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

export function uploadMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0027_uploads": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("uploads")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull())
          .addColumn("object_key", "text", (c) => c.notNull().unique())
          .addColumn("content_type", "text", (c) => c.notNull())
          .addColumn("size", "bigint", (c) => c.notNull())
          .addColumn("created_by", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .addColumn("expires_at", "bigint", (c) => c.notNull())
          .addColumn("attached_at", "bigint")
          .execute();
        await db.schema.createIndex("uploads_org").on("uploads").columns(["org_id", "created_at"]).execute();
        await enableTenantRls(db, ctx, "uploads");
        await grantApp(db, ctx, "uploads", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
  };
}

/** The queries over `uploads`, always in an organisation's scope (a tenant table). */
export const uploadStore = {
  async insert(tx: Db, row: UploadRow): Promise<void> {
    await tx.insertInto("uploads").values(row).execute();
  },

  find(tx: Db, orgId: string, id: string): Promise<UploadRow | undefined> {
    return tx
      .selectFrom("uploads")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst()
      .then((r) => (r ? { ...r, size: Number(r.size) } : undefined));
  },

  /** Uploads never attached whose link expired before `before`, oldest first. */
  unused(tx: Db, orgId: string, before: number, limit: number): Promise<UploadRow[]> {
    return tx
      .selectFrom("uploads")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("attached_at", "is", null)
      .where("expires_at", "<", before)
      .orderBy("expires_at")
      .limit(limit)
      .execute();
  },

  async remove(tx: Db, orgId: string, id: string): Promise<void> {
    await tx
      .deleteFrom("uploads")
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .where("attached_at", "is", null)
      .execute();
  },

  /** Organisation ids after `after`, in order: the sweep walks every organisation's scope in pages. */
  orgs(db: Db, after: string, limit: number): Promise<string[]> {
    return db
      .selectFrom("organizations")
      .select("id")
      .where("id", ">", after)
      .orderBy("id")
      .limit(limit)
      .execute()
      .then((rows) => rows.map((r) => r.id));
  },

  /** Marks the upload attached; false when its record is gone (swept meanwhile). */
  async markAttached(tx: Db, orgId: string, id: string, now: number): Promise<boolean> {
    const r = await tx
      .updateTable("uploads")
      .set({ attached_at: now })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  },
};
