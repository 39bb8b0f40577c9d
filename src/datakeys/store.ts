import { sql } from "kysely";
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

  /**
   * Up to `limit` non-null values of the field after row `after` (from the first row when undefined: a
   * key of any type, integers included), in row order.
   */
  async page(db: Db, field: SealedField, after: unknown, limit: number): Promise<SealedValue[]> {
    const { table, column, rowKey } = names(field);
    let q = db
      .selectFrom(table)
      .select([`${rowKey} as row`, `${column} as value`] as never)
      .where(column, "is not", null);
    if (after !== undefined) q = q.where(rowKey, ">", after as string);
    return (await q.orderBy(rowKey).limit(limit).execute()) as unknown as SealedValue[];
  }

  /** How many values of the field are sealed under none of `ids`. */
  async countNotUnder(db: Db, field: SealedField, ids: readonly string[]): Promise<number> {
    const { table, column } = names(field);
    let q = db
      .selectFrom(table)
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .where(column, "is not", null);
    for (const id of ids) q = q.where(prefix(column, id), "<>", `${id}.`);
    return Number((await q.executeTakeFirst())?.n ?? 0);
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
    // Compared exactly (LIKE folds case on SQLite, not on PostgreSQL).
    if ("keyId" in under) q = q.where(prefix(column, under.keyId), "=", `${under.keyId}.`);
    else for (const id of under.notUnder) q = q.where(prefix(column, id), "<>", `${id}.`);
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

/** The first characters of `column`, as long as `<id>.`: the envelope's key id and its dot. */
function prefix(column: string, id: string) {
  return sql<string>`substr(${sql.ref(column)}, 1, ${id.length + 1})`;
}

/** The field's names, typed loosely: Kysely checks names against the schema, and these are dynamic. */
function names(field: SealedField) {
  return field as unknown as { table: "organizations"; column: "id"; rowKey: "id" };
}
