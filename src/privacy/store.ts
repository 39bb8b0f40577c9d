import { type Expression, type Kysely, type SqlBool, sql } from "kysely";
import type { Database, Db } from "../db/database.js";
import type { PersonalData } from "./personal.js";

/** The person whose rows are looked for. */
export interface Person {
  readonly id: string;
  readonly email: string;
}

type Row = Record<string, unknown>;
// biome-ignore lint/suspicious/noExplicitAny: tables and columns come from declarations, not the typed map.
type AnyDb = Kysely<any>;
const BATCH = 500;

/**
 * The queries of the privacy capability over other capabilities' tables (GDPR-1): tables and columns
 * come only from `PersonalData` declarations, never from input. A tenant table is read through each
 * organisation's scope in turn (row-level security on PostgreSQL), so an export visits every
 * organisation, including those the person has left.
 */
export class PersonalDataStore {
  constructor(private readonly db: Database) {}

  /** Every organisation's id, a page at a time. */
  async *orgs(): AsyncGenerator<string[]> {
    let after = "";
    for (;;) {
      const rows = await this.db.global
        .selectFrom("organizations")
        .select("id")
        .where("id", ">", after)
        .orderBy("id")
        .limit(BATCH)
        .execute();
      if (rows.length === 0) return;
      yield rows.map((r) => r.id);
      after = rows.at(-1)!.id;
    }
  }

  /** The rows of one declaration that name `person`: global, or in organisation `orgId`'s scope. */
  rows(p: PersonalData, person: Person, orgId?: string): Promise<Row[]> {
    const read = (db: Db) => {
      let q = (db as unknown as AnyDb).selectFrom(p.table).selectAll().where(this.matches(p, person));
      for (const [column, value] of Object.entries(p.where ?? {})) q = q.where(column, "=", value);
      return q.execute() as Promise<Row[]>;
    };
    return p.tenant ? this.db.readOrg(orgId!, read) : read(this.db.global);
  }

  private matches(p: PersonalData, person: Person): Expression<SqlBool> {
    const col = sql.ref(p.column);
    const match = p.match ?? "id";
    if (match === "id") return sql<SqlBool>`${col} = ${person.id}`;
    // Addresses are stored lower-cased (identity's rule); compared folded all the same.
    if (match === "email") return sql<SqlBool>`lower(${col}) = ${person.email.toLowerCase()}`;
    if (match === "mentions")
      return this.db.engine === "postgres"
        ? sql<SqlBool>`(strpos(${col}, ${person.id}) > 0 or strpos(lower(${col}), ${person.email.toLowerCase()}) > 0)`
        : sql<SqlBool>`(instr(${col}, ${person.id}) > 0 or instr(lower(${col}), ${person.email.toLowerCase()}) > 0)`;
    const via = match.via;
    return sql<SqlBool>`${col} in (select id from ${sql.table(via.table)} where ${sql.ref(via.column)} = ${person.id})`;
  }
}
