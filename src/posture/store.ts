import type { Kysely, Migration } from "kysely";
import type { Db } from "../db/database.js";
import { grantApp, type MigrationContext } from "../db/migrations.js";

// biome-ignore lint/suspicious/noExplicitAny: migrations run before the typed table map exists.
type AnyDb = Kysely<any>;

/** One change of the posture the servers run with (POST-4): the chain of postures, in order. */
export interface PostureChangeRow {
  /** 0 for the first posture recorded; each change takes the next, so two writers cannot fork the chain. */
  seq: number;
  hash: string;
  /** The hash of the posture before (null for the first). */
  previous: string | null;
  /** JSON array of the claims ("<ID> <title>") and "profile" that changed. */
  changed: string;
  /** The posture's canonical JSON: exactly the bytes its hash and signature cover. */
  state: string;
  created_at: number;
}

declare module "../db/tables.js" {
  interface Tables {
    posture_changes: PostureChangeRow;
  }
}

export function postureMigrations(ctx: MigrationContext): Record<string, Migration> {
  return {
    // A first form kept postures by hash; retention and concurrent starts needed an ordered chain (0029).
    "0028_posture_states": {
      async up(db: AnyDb) {
        await db.schema
          .createTable("posture_states")
          .addColumn("hash", "text", (c) => c.primaryKey())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        await grantApp(db, ctx, "posture_states", ["SELECT", "INSERT"]);
      },
    },
    "0029_posture_changes": {
      async up(db: AnyDb) {
        await db.schema.dropTable("posture_states").execute();
        await db.schema
          .createTable("posture_changes")
          .addColumn("seq", "bigint", (c) => c.primaryKey())
          .addColumn("hash", "text", (c) => c.notNull())
          .addColumn("previous", "text")
          .addColumn("changed", "text", (c) => c.notNull())
          .addColumn("state", "text", (c) => c.notNull())
          .addColumn("created_at", "bigint", (c) => c.notNull())
          .execute();
        // A chain: rows are added, never changed.
        await grantApp(db, ctx, "posture_changes", ["SELECT", "INSERT"]);
      },
    },
  };
}

const numbered = (r: PostureChangeRow): PostureChangeRow => ({
  ...r,
  seq: Number(r.seq),
  created_at: Number(r.created_at),
});

/** The chain of postures (a global table: the posture is the deployment's). */
export const postureStore = {
  async last(db: Db): Promise<PostureChangeRow | undefined> {
    const row = await db
      .selectFrom("posture_changes")
      .selectAll()
      .orderBy("seq", "desc")
      .limit(1)
      .executeTakeFirst();
    return row && numbered(row);
  },

  /** Fails on a unique violation when another writer took `row.seq` first. */
  async add(db: Db, row: PostureChangeRow): Promise<void> {
    await db.insertInto("posture_changes").values(row).execute();
  },

  /** The latest changes, newest first, without their states. */
  async latest(db: Db, limit: number): Promise<Omit<PostureChangeRow, "state">[]> {
    const rows = await db
      .selectFrom("posture_changes")
      .select(["seq", "hash", "previous", "changed", "created_at"])
      .orderBy("seq", "desc")
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ...r, seq: Number(r.seq), created_at: Number(r.created_at) }));
  },
};
