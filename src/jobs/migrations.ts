import type { Kysely, Migration } from "kysely";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** The record of background job runs (OBS-6). */
export function jobMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0011_job_runs": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("job_runs")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("name", "text", (c) => c.notNull())
          .addColumn("status", "text", (c) => c.notNull())
          .addColumn("started_at", "bigint", (c) => c.notNull())
          .addColumn("finished_at", "bigint")
          .addColumn("duration_ms", "bigint")
          .addColumn("rows", "bigint")
          .addColumn("error", "text")
          .addColumn("node", "text", (c) => c.notNull())
          .execute();
        await db.schema.createIndex("job_runs_name").on("job_runs").columns(["name", "started_at"]).execute();
        await grantApp(db, ctx, "job_runs", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
    "0023_job_leases": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("job_leases")
          .addColumn("name", "text", (c) => c.primaryKey())
          .addColumn("holder", "text", (c) => c.notNull())
          .addColumn("until", "bigint", (c) => c.notNull())
          .execute();
        await grantApp(db, ctx, "job_leases", ["SELECT", "INSERT", "UPDATE"]);
      },
    },
  };
}
