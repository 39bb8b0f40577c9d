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

/**
 * The queries of the privacy capability over other capabilities' tables (GDPR-1): tables and columns
 * come only from `PersonalData` declarations, never from input. A tenant table is read through an
 * organisation's scope (row-level security on PostgreSQL), for the organisations the service found the
 * person in.
 */
export class PersonalDataStore {
  constructor(private readonly db: Database) {}

  /**
   * The rows of one declaration that name `person`: global, or in an organisation's scope (`db`, inside
   * `readOrg`). A `mentions` match is narrowed in SQL and then checked exactly: the text (or a JSON value
   * in it) must be the person's id or address itself, never a longer one that contains it.
   */
  async rows(p: PersonalData, person: Person, db: Db = this.db.global): Promise<Row[]> {
    let q = (db as unknown as AnyDb).selectFrom(p.table).selectAll().where(this.matches(p, person));
    for (const [column, value] of Object.entries(p.where ?? {})) q = q.where(column, "=", value);
    const rows = (await q.execute()) as Row[];
    return p.match === "mentions" ? rows.filter((r) => namesExactly(r[p.column], person)) : rows;
  }

  /** Runs `fn` in organisation `orgId`'s read scope. */
  inOrg<T>(orgId: string, fn: (db: Db) => Promise<T>): Promise<T> {
    return this.db.readOrg(orgId, fn);
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

/** Whether `value` is, or holds as a JSON value or key, the person's id or address (case folded). */
export function namesExactly(value: unknown, person: Person): boolean {
  const targets = [person.id.toLowerCase(), person.email.toLowerCase()];
  const walk = (v: unknown): boolean => {
    if (typeof v === "string") return targets.includes(v.toLowerCase());
    if (Array.isArray(v)) return v.some(walk);
    if (v && typeof v === "object")
      return Object.entries(v).some(([k, x]) => targets.includes(k.toLowerCase()) || walk(x));
    return false;
  };
  if (typeof value !== "string") return walk(value);
  try {
    return walk(JSON.parse(value));
  } catch {
    // Plain text such as a principal's name, `session:usr_…`: one of its parts.
    return value.split(/[\s:,;|/]+/).some((part) => targets.includes(part.toLowerCase()));
  }
}
