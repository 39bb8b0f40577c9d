import { type Expression, type Kysely, type SqlBool, sql } from "kysely";
import type { Database, Db } from "../db/database.js";
import type { PersonalData } from "./personal.js";

/** The person whose rows are looked for. */
export interface Person {
  readonly id: string;
  readonly email: string;
}

/** A person being erased (GDPR-2): their name too, and the pseudonym their organisations' rows keep. */
export interface ErasedPerson extends Person {
  readonly name: string | null;
  readonly pseudonym: string;
}

// biome-ignore lint/suspicious/noExplicitAny: a delete or an update over a declared table.
type AnyWhere = { where(column: string, op: "=", value: string): AnyWhere; executeTakeFirst(): Promise<any> };

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

  /**
   * GDPR-2: erases the rows of one declaration that name the person (its `erase` mode: `delete` or
   * `pseudonymise`), global or in an organisation's scope (`db`, inside `withOrg`). A `mentions` match is
   * checked exactly first, and its rows are found again by their text: a row naming a longer address that
   * contains the person's is never touched. Returns the rows changed.
   */
  async erase(p: PersonalData, person: ErasedPerson, db: Db = this.db.global): Promise<number> {
    const d = db as unknown as AnyDb;
    const mode = p.erase ?? "delete";
    if (mode !== "delete" && mode !== "pseudonymise") return 0;
    const where = (q: AnyWhere) => {
      let out = q;
      for (const [column, value] of Object.entries(p.where ?? {})) out = out.where(column, "=", value);
      return out;
    };
    if (p.match !== "mentions") {
      const q =
        mode === "delete"
          ? d.deleteFrom(p.table).where(this.matches(p, person))
          : d
              .updateTable(p.table)
              .set({ [p.column]: person.pseudonym })
              .where(this.matches(p, person));
      const r = await where(q as AnyWhere).executeTakeFirst();
      return Number(
        (r as { numDeletedRows?: bigint; numUpdatedRows?: bigint }).numDeletedRows ??
          (r as { numUpdatedRows?: bigint }).numUpdatedRows ??
          0,
      );
    }
    let changed = 0;
    const texts = new Set((await this.rows(p, person, db)).map((r) => r[p.column] as string));
    for (const text of texts) {
      const q =
        mode === "delete"
          ? d.deleteFrom(p.table).where(p.column, "=", text)
          : d
              .updateTable(p.table)
              .set({ [p.column]: pseudonymised(text, person) })
              .where(p.column, "=", text);
      const r = await where(q as AnyWhere).executeTakeFirst();
      changed += Number(
        (r as { numDeletedRows?: bigint }).numDeletedRows ??
          (r as { numUpdatedRows?: bigint }).numUpdatedRows ??
          0,
      );
    }
    return changed;
  }

  /** The account's own row (`erase: "account"`), deleted in the caller's transaction, last. */
  eraseAccount(p: PersonalData, person: ErasedPerson, db: Db): Promise<number> {
    return this.erase({ ...p, erase: "delete" }, person, db);
  }

  /** Runs `fn` in organisation `orgId`'s write scope (a transaction). */
  inOrgWrite<T>(orgId: string, fn: (db: Db) => Promise<T>): Promise<T> {
    return this.db.withOrg(orgId, fn);
  }

  /** Every organisation's id: an erasure looks for the person in all of them. */
  async organisations(): Promise<string[]> {
    const rows = await this.db.global.selectFrom("organizations").select("id").orderBy("id").execute();
    return rows.map((r) => r.id);
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

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** `s` as a whole word, case folded: not inside a longer address or id. */
const whole = (s: string) => new RegExp(`(?<![\\w.+%-])${literal(s)}(?![\\w-]|\\.\\w)`, "gi");

/** Keys whose values name a person: an address, an id (`userId`, `entity_id`), a doer (`invitedBy`). */
const NAMING_KEY = /^email$|id$|by$/i;

/**
 * Whether an audit entry names the person (GDPR-2): as its actor (id or address), its entity or its
 * impersonator, or as the whole value of a naming key (`email`, `…Id`, `…By`) in its metadata, before
 * or after; by id only when `idOnly`. Never from free text, a name, or a request's facts (its user
 * agent, its request id): those are the caller's to choose, and matching them would let anyone blank
 * the records of their own requests by erasing a throwaway account they mention.
 */
export function namesInEntry(entry: string, person: Person, idOnly: boolean): boolean {
  let e: { actor?: { id?: unknown; email?: unknown }; entity?: { id?: unknown }; impersonator?: unknown };
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(entry) as Record<string, unknown>;
    e = parsed as typeof e;
  } catch {
    return false;
  }
  const id = person.id.toLowerCase();
  const email = person.email.toLowerCase();
  const hit = (v: unknown) =>
    typeof v === "string" && (v.toLowerCase() === id || (!idOnly && v.toLowerCase() === email));
  if (hit(e.actor?.id) || hit(e.actor?.email) || hit(e.entity?.id) || hit(e.impersonator)) return true;
  const walk = (v: unknown, key: string): boolean => {
    if (typeof v === "string") return NAMING_KEY.test(key) && hit(v);
    if (Array.isArray(v)) return v.some((x) => walk(x, key));
    if (v && typeof v === "object") return Object.entries(v).some(([k, x]) => walk(x, k));
    return false;
  };
  return walk(parsed.metadata, "") || walk(parsed.before, "") || walk(parsed.after, "");
}

/**
 * A text with the person's id and address (whole, case folded: not inside a longer address) replaced by
 * the pseudonym, and their name where it is a whole JSON string.
 */
export function pseudonymised(text: string, person: ErasedPerson): string {
  let out = text.replace(whole(person.id), person.pseudonym).replace(whole(person.email), person.pseudonym);
  if (person.name) out = out.split(JSON.stringify(person.name)).join(JSON.stringify("[erased]"));
  return out;
}
