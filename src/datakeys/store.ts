import type { SealedField } from "../crypto/seal.js";
import type { Database, Db } from "../db/database.js";

/** A sealed value and the row that holds it. */
export interface SealedValue {
  readonly row: string;
  readonly value: string;
}

/**
 * The queries over sealed columns (DATA-1), whatever table they are in: tables and columns come from
 * the capabilities' `SealedField` declarations, never from input. A tenant table is read and written
 * through its organisation's scope (row-level security on PostgreSQL), one organisation at a time.
 */
export class SealedFieldStore {
  constructor(private readonly db: Database) {}

  /** The organisations whose rows a tenant field's walk visits, after `after`, in id order. */
  async orgs(after: string, limit: number): Promise<string[]> {
    const rows = await this.db.global
      .selectFrom("organizations")
      .select("id")
      .where("id", ">", after)
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Runs `fn` on the handle a field's rows are reached through: the organisation's scope, or global. */
  scoped<T>(field: SealedField, orgId: string | undefined, fn: (db: Db) => Promise<T>): Promise<T> {
    return field.tenant ? this.db.withOrg(orgId!, fn) : fn(this.db.global);
  }

  /** Up to `limit` non-null values of the field after row `after`, in row order. */
  async page(db: Db, field: SealedField, after: string, limit: number): Promise<SealedValue[]> {
    const { table, column, rowKey } = names(field);
    return (await db
      .selectFrom(table)
      .select([`${rowKey} as row`, `${column} as value`] as never)
      .where(column, "is not", null)
      .where(rowKey, ">", after)
      .orderBy(rowKey)
      .limit(limit)
      .execute()) as unknown as SealedValue[];
  }

  /** One value sealed under key `keyId`, or, with `notUnder`, one sealed under none of those keys. */
  async sample(
    db: Db,
    field: SealedField,
    under: { keyId: string } | { notUnder: readonly string[] },
  ): Promise<SealedValue | undefined> {
    const { table, column, rowKey } = names(field);
    let q = db
      .selectFrom(table)
      .select([`${rowKey} as row`, `${column} as value`] as never)
      .where(column, "is not", null);
    // Key ids are letters, digits and `-` (config/data-keys.ts): no LIKE wildcard among them.
    if ("keyId" in under) q = q.where(column, "like", `${under.keyId}.%`);
    else for (const id of under.notUnder) q = q.where(column, "not like", `${id}.%`);
    return (await q.limit(1).executeTakeFirst()) as unknown as SealedValue | undefined;
  }

  /** Replaces `from` with `to` in one row, only if it still holds `from` (a concurrent write wins). */
  async replace(db: Db, field: SealedField, row: string, from: string, to: string): Promise<boolean> {
    const { table, column, rowKey } = names(field);
    const r = await db
      .updateTable(table)
      .set({ [column]: to } as never)
      .where(rowKey, "=", row)
      .where(column, "=", from)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }
}

/** The field's names, typed loosely: Kysely checks names against the schema, and these are dynamic. */
function names(field: SealedField) {
  return field as unknown as { table: "organizations"; column: "id"; rowKey: "id" };
}
