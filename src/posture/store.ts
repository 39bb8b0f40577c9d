import type { Kysely, Migration } from "kysely";
import type { Db } from "../db/database.js";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** A posture the server ran with (POST-4), kept by its hash: what a change's "before" is read from. */
export interface PostureStateRow {
  hash: string;
  /** The posture's canonical JSON: exactly the bytes its hash and signature cover. */
  state: string;
  created_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    posture_states: PostureStateRow;
  }
}

export function postureMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    "0028_posture_states": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("posture_states")
          .addColumn("hash", "text", (c) => c.primaryKey())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        // Content-addressed: a row is never changed, only added.
        await grantApp(db, ctx, "posture_states", ["SELECT", "INSERT"]);
      },
    },
  };
}

/** The postures recorded so far, by hash (a global table: the posture is the platform's). */
export class PostureStore {
  constructor(private readonly db: Db) {}

  /** Two nodes recording the same posture write the same row: the second insert is a no-op. */
  async put(hash: string, state: string, now: number): Promise<void> {
    await this.db
      .insertInto("posture_states")
      .values({ hash, state, created_at: now })
      .onConflict((oc) => oc.column("hash").doNothing())
      .execute();
  }

  async get(hash: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("posture_states")
      .select("state")
      .where("hash", "=", hash)
      .executeTakeFirst();
    return row?.state;
  }
}
