import SQLite from "better-sqlite3";
import { Kysely, type RootOperationNode, SqliteDialect, sql } from "kysely";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { checkedSql, TenantScope, TenantScopeError } from "./tenant-scope.js";

/**
 * AUTHZ-2's second wall on SQLite (no row-level security): a handle carrying TenantScope restricts every
 * statement to one organisation, whatever the query forgot. Real SQLite, two tenant tables and one
 * global table, rows of organisations A and B.
 */
interface Note {
  id: string;
  org_id: string;
  body: string;
}
interface Tag {
  id: string;
  org_id: string;
  note_id: string | null;
  label: string;
}
interface Plan {
  id: string;
  name: string;
}
type Db = Kysely<{ notes: Note; tags: Tag; plans: Plan; "main.notes": Note }>;

const A = "org_a";
const B = "org_b";
const TENANT = new Set(["notes", "tags"]);

const sqlite = new SQLite(":memory:");
const db: Db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
const scoped = (org = A): Db => db.withPlugin(new TenantScope(org, () => TENANT));
const a = scoped();

const refused = async (p: Promise<unknown>, pattern: RegExp) => {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TenantScopeError);
  expect((err as Error).message).toMatch(pattern);
};
const ids = (rows: Array<{ id: string }>) => rows.map((r) => r.id).sort();

beforeEach(async () => {
  sqlite.exec(`
    DROP TABLE IF EXISTS notes; DROP TABLE IF EXISTS tags; DROP TABLE IF EXISTS plans;
    CREATE TABLE notes (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, body TEXT NOT NULL);
    CREATE TABLE tags (id TEXT PRIMARY KEY, org_id TEXT NOT NULL, note_id TEXT, label TEXT NOT NULL);
    CREATE TABLE plans (id TEXT PRIMARY KEY, name TEXT NOT NULL);`);
  // Seeded through the plain handle: the scope itself refuses B's rows.
  for (const org of [A, B]) {
    await db
      .insertInto("notes")
      .values([
        { id: `${org}-n1`, org_id: org, body: `${org} one` },
        { id: `${org}-n2`, org_id: org, body: `${org} two` },
      ])
      .execute();
    await db
      .insertInto("tags")
      .values({ id: `${org}-t1`, org_id: org, note_id: `${org}-n1`, label: "red" })
      .execute();
  }
  await db
    .insertInto("plans")
    .values([
      { id: "free", name: "Free" },
      { id: "pro", name: "Pro" },
    ])
    .execute();
});
afterAll(() => db.destroy());

describe("TenantScope (SQLite's second wall)", () => {
  it("AUTHZ-2: a select that forgets org_id returns only the organisation's rows, as a bound parameter", async () => {
    expect(ids(await a.selectFrom("notes").selectAll().execute())).toEqual(["org_a-n1", "org_a-n2"]);
    expect(ids(await scoped(B).selectFrom("notes").select("id").execute())).toEqual(["org_b-n1", "org_b-n2"]);
    const compiled = a.selectFrom("notes").selectAll().compile();
    expect(compiled.sql).toBe('select * from "notes" where "notes"."org_id" = ?');
    expect(compiled.parameters).toEqual([A]);
  });

  it("AUTHZ-2: aggregates count only the organisation's rows", async () => {
    const n = await a
      .selectFrom("notes")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    expect(n.n).toBe(2);
    const raw = await a.selectFrom("tags").select(sql<number>`count(*)`.as("n")).executeTakeFirstOrThrow();
    expect(raw.n).toBe(1);
  });

  it("AUTHZ-2: an OR in the query's own filter cannot widen it past the organisation", async () => {
    const rows = await a
      .selectFrom("notes")
      .select("id")
      .where((eb) => eb("id", "=", "org_b-n1").or("id", "=", "org_a-n1"))
      .execute();
    expect(ids(rows)).toEqual(["org_a-n1"]);
  });

  it("AUTHZ-2: inner and left joins, aliased, are scoped on both sides; a left join keeps its outer rows", async () => {
    const inner = await a
      .selectFrom("tags as t")
      .innerJoin("notes as n", "n.id", "t.note_id")
      .select(["t.id as id", "n.org_id as noteOrg"])
      .execute();
    expect(inner).toEqual([{ id: "org_a-t1", noteOrg: A }]);
    // A condition that crosses organisations still finds only the scope's rows on either side.
    const cross = await a
      .selectFrom("notes as n")
      .innerJoin("tags as t", (j) => j.onTrue())
      .select(["n.id as id", "t.org_id as tagOrg"])
      .execute();
    expect(ids(cross)).toEqual(["org_a-n1", "org_a-n2"]);
    expect(cross.every((r) => r.tagOrg === A)).toBe(true);
    const left = await a
      .selectFrom("notes as n")
      .leftJoin("tags as t", "t.note_id", "n.id")
      .select(["n.id as id", "t.id as tag"])
      .orderBy("n.id")
      .execute();
    // n2 has no tag: it stays, with a null tag, because the predicate went into the join's ON.
    expect(left).toEqual([
      { id: "org_a-n1", tag: "org_a-t1" },
      { id: "org_a-n2", tag: null },
    ]);
    const leftOnB = await a
      .selectFrom("notes as n")
      .leftJoin("tags as t", (j) => j.on("t.id", "=", "org_b-t1"))
      .select(["n.id as id", "t.id as tag"])
      .execute();
    expect(leftOnB.map((r) => r.tag)).toEqual([null, null]);
  });

  it("AUTHZ-2: a right join keeps its meaning; a full join of a tenant table is refused", async () => {
    await db.insertInto("plans").values({ id: "org_a-n1", name: "matches a note id" }).execute();
    const right = await a
      .selectFrom("notes as n")
      .rightJoin("plans as p", "p.id", "n.id")
      .select(["p.id as id", "n.org_id as noteOrg"])
      .orderBy("p.id")
      .execute();
    expect(right).toEqual([
      { id: "free", noteOrg: null },
      { id: "org_a-n1", noteOrg: A },
      { id: "pro", noteOrg: null },
    ]);
    await refused(
      a.selectFrom("plans as p").fullJoin("notes as n", "n.id", "p.id").selectAll().execute(),
      /"notes".*FullJoin.*\[outer-join\]/,
    );
  });

  it("AUTHZ-2: subqueries (in WHERE, in the select list, in FROM, EXISTS), CTEs and unions are scoped at every level", async () => {
    const inWhere = await a
      .selectFrom("plans")
      .select("id")
      .where("id", "in", (eb) => eb.selectFrom("notes").select("id"))
      .execute();
    expect(inWhere).toEqual([]);
    const tagged = await a
      .selectFrom("tags")
      .select("id")
      .where("note_id", "in", db.selectFrom("notes").select("id")) // built on the unscoped handle
      .execute();
    expect(ids(tagged)).toEqual(["org_a-t1"]);
    const perPlan = await a
      .selectFrom("plans")
      .select((eb) => ["id", eb.selectFrom("notes").select(eb.fn.countAll<number>().as("c")).as("notes")])
      .execute();
    expect(perPlan.map((r) => r.notes)).toEqual([2, 2]);
    const derived = await a
      .selectFrom(db.selectFrom("notes").select(["id", "org_id"]).as("x"))
      .selectAll()
      .execute();
    expect(ids(derived)).toEqual(["org_a-n1", "org_a-n2"]);
    const exists = await a
      .selectFrom("plans")
      .select("id")
      .where((eb) => eb.exists(eb.selectFrom("notes").select("id").where("notes.id", "=", "org_b-n1")))
      .execute();
    expect(exists).toEqual([]);
    const cte = await a
      .with("every_note", (q) => q.selectFrom("notes").select(["id", "body"]))
      .selectFrom("every_note")
      .selectAll()
      .execute();
    expect(ids(cte)).toEqual(["org_a-n1", "org_a-n2"]);
    const union = await a
      .selectFrom("notes")
      .select("id")
      .union(db.selectFrom("tags").select("id"))
      .execute();
    expect(ids(union)).toEqual(["org_a-n1", "org_a-n2", "org_a-t1"]);
  });

  it("AUTHZ-2: schema-qualified tenant tables are scoped too", async () => {
    const rows = await a.selectFrom("main.notes").select("id").execute();
    expect(ids(rows)).toEqual(["org_a-n1", "org_a-n2"]);
  });

  it("AUTHZ-2: update and delete without an org filter touch only the organisation's rows", async () => {
    const up = await a.updateTable("notes").set({ body: "changed" }).executeTakeFirst();
    expect(Number(up.numUpdatedRows)).toBe(2);
    const del = await a.deleteFrom("tags").executeTakeFirst();
    expect(Number(del.numDeletedRows)).toBe(1);
    const viaFrom = await a
      .updateTable("notes as n")
      .from("tags as t")
      .set({ body: "via from" })
      .whereRef("t.note_id", "=", "n.id")
      .executeTakeFirst();
    expect(Number(viaFrom.numUpdatedRows)).toBe(0); // A's tag is gone; B's is not A's to join
    const b = await db.selectFrom("notes").select("body").where("org_id", "=", B).execute();
    expect(b.map((r) => r.body)).toEqual(["org_b one", "org_b two"]);
    expect(await db.selectFrom("tags").select("id").execute()).toEqual([{ id: "org_b-t1" }]);
  });

  it("AUTHZ-2: an update may not move rows to another organisation", async () => {
    await refused(a.updateTable("notes").set({ org_id: B }).execute(), /"notes".*\[update-org-id\]/);
    await refused(
      a
        .updateTable("notes")
        .set({ org_id: sql<string>`lower(${B})` })
        .execute(),
      /update-org-id/,
    );
    await a.updateTable("notes").set({ org_id: A, body: "same org" }).where("id", "=", "org_a-n1").execute();
    expect((await db.selectFrom("notes").select("org_id").where("id", "=", "org_b-n1").execute())[0]).toEqual(
      {
        org_id: B,
      },
    );
  });

  it("AUTHZ-2: an insert must carry the organisation's id on every row", async () => {
    await refused(
      a.insertInto("notes").values({ id: "x", org_id: B, body: "smuggled" }).execute(),
      /"notes".*\[insert-org-id\]/,
    );
    await refused(
      a
        .insertInto("notes")
        .values([
          { id: "y", org_id: A, body: "fine" },
          { id: "z", org_id: B, body: "smuggled" },
        ])
        .execute(),
      /insert-org-id/,
    );
    await refused(
      (a as unknown as Kysely<{ notes: { id: string; body: string } }>)
        .insertInto("notes")
        .values({ id: "w", body: "no org" })
        .execute(),
      /without an org_id column/,
    );
    await a
      .insertInto("notes")
      .values([
        { id: "a3", org_id: A, body: "three" },
        { id: "a4", org_id: sql.lit(A), body: "four" },
      ])
      .execute();
    expect(ids(await a.selectFrom("notes").select("id").execute())).toEqual([
      "a3",
      "a4",
      "org_a-n1",
      "org_a-n2",
    ]);
    await a.insertInto("plans").values({ id: "team", name: "Team" }).execute(); // global: no org needed
  });

  it("AUTHZ-2: insert … select is scoped and must take org_id from the organisation", async () => {
    await a
      .insertInto("tags")
      .columns(["id", "org_id", "note_id", "label"])
      .expression((eb) =>
        eb
          .selectFrom("notes")
          .select((e) => [
            e.fn<string>("concat", ["notes.id", e.val("-copy")]).as("id"),
            "notes.org_id",
            "notes.id as note_id",
            e.val("copied").as("label"),
          ]),
      )
      .execute();
    const copies = await db
      .selectFrom("tags")
      .select(["id", "org_id"])
      .where("label", "=", "copied")
      .execute();
    expect(copies.map((r) => r.org_id)).toEqual([A, A]);
    await a
      .insertInto("tags")
      .columns(["id", "org_id", "label"])
      .expression(db.selectFrom("plans").select((e) => ["id", e.val(A).as("org_id"), "name"]))
      .execute();
    await refused(
      a
        .insertInto("tags")
        .columns(["id", "org_id", "label"])
        .expression(db.selectFrom("plans").select((e) => ["id", e.val(B).as("org_id"), "name"]))
        .execute(),
      /insert … select/,
    );
    await refused(
      a
        .insertInto("tags")
        .columns(["id", "org_id", "label"])
        .expression(db.selectFrom("plans").select(["id", "name as org_id", "name"]))
        .execute(),
      /insert-org-id/,
    );
  });

  it("AUTHZ-2: an upsert cannot update another organisation's row, move a row, or replace one", async () => {
    const r = await a
      .insertInto("notes")
      .values({ id: "org_b-n1", org_id: A, body: "hijack" })
      .onConflict((oc) => oc.column("id").doUpdateSet({ body: "hijacked" }))
      .executeTakeFirst();
    expect(Number(r.numInsertedOrUpdatedRows)).toBe(0);
    const own = await a
      .insertInto("notes")
      .values({ id: "org_a-n1", org_id: A, body: "upserted" })
      .onConflict((oc) => oc.column("id").doUpdateSet((eb) => ({ body: eb.ref("excluded.body") })))
      .executeTakeFirst();
    expect(Number(own.numInsertedOrUpdatedRows)).toBe(1);
    const bodies = await db.selectFrom("notes").select(["id", "body"]).orderBy("id").execute();
    expect(bodies.find((x) => x.id === "org_b-n1")?.body).toBe("org_b one");
    expect(bodies.find((x) => x.id === "org_a-n1")?.body).toBe("upserted");
    await refused(
      a
        .insertInto("notes")
        .values({ id: "org_a-n2", org_id: A, body: "x" })
        .onConflict((oc) => oc.column("id").doUpdateSet({ org_id: B }))
        .execute(),
      /update-org-id/,
    );
    await refused(
      a.insertInto("notes").orReplace().values({ id: "org_b-n2", org_id: A, body: "x" }).execute(),
      /insert-overwrite/,
    );
  });

  it("AUTHZ-2: raw SQL naming a tenant table is refused inside the scope, unless marked as checked", async () => {
    await refused(sql`select * from notes`.execute(a), /"notes".*\[raw-sql\]/);
    await refused(sql`SELECT count(*) FROM "tags"`.execute(a), /"tags"/);
    await refused(sql`select * from ${sql.table("notes")}`.execute(a), /raw-sql/);
    await refused(sql`select * from ${sql.id("main", "tags")}`.execute(a), /raw-sql/);
    await refused(
      a.selectFrom("plans").selectAll().where(sql<boolean>`exists (select 1 from notes)`).execute(),
      /raw-sql/,
    );
    const checked = await checkedSql(
      sql<Note>`select * from notes where org_id = ${A}`,
      "filters by org_id itself",
    ).execute(a);
    expect(ids(checked.rows)).toEqual(["org_a-n1", "org_a-n2"]);
    expect(() => checkedSql(sql`select 1`, " ")).toThrow(/reason/);
    // Builders inside checked SQL are still scoped.
    const nested = await checkedSql(
      sql<{ id: string }>`select id from (${db.selectFrom("notes").select("id")})`,
      "only wraps a builder",
    ).execute(a);
    expect(ids(nested.rows)).toEqual(["org_a-n1", "org_a-n2"]);
    expect((await sql<{ one: number }>`select 1 as one`.execute(a)).rows).toEqual([{ one: 1 }]);
  });

  it("AUTHZ-2: statements on non-tenant tables pass untouched (the same node)", async () => {
    const plugin = new TenantScope(A, TENANT);
    const node = db
      .selectFrom("plans")
      .selectAll()
      .where("id", "=", "pro")
      .toOperationNode() as RootOperationNode;
    expect(plugin.transformQuery({ node, queryId: { queryId: "q" } })).toBe(node);
    expect(await a.selectFrom("plans").select("id").orderBy("id").execute()).toEqual([
      { id: "free" },
      { id: "pro" },
    ]);
    await a.updateTable("plans").set({ name: "Pro+" }).where("id", "=", "pro").execute();
    expect((await sql<{ n: number }>`select count(*) as n from plans`.execute(a)).rows).toEqual([{ n: 2 }]);
  });

  it("AUTHZ-2: statements that already filter by org_id still work, and cannot reach past the scope", async () => {
    expect(ids(await a.selectFrom("notes").selectAll().where("org_id", "=", A).execute())).toEqual([
      "org_a-n1",
      "org_a-n2",
    ]);
    expect(await a.selectFrom("notes").selectAll().where("org_id", "=", B).execute()).toEqual([]);
    const del = await a.deleteFrom("notes").where("org_id", "=", B).executeTakeFirst();
    expect(Number(del.numDeletedRows)).toBe(0);
  });

  it("AUTHZ-2: schema changes on a tenant table are refused inside the scope", async () => {
    await refused(a.schema.dropTable("notes").execute(), /"notes".*\[unscoped-position\]/);
  });
});
