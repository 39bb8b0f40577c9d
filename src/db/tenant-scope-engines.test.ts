import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, type TestDb, testDb } from "../../test/harness.js";
import { enableTenantRls, grantApp, type MigrationContext } from "./migrations.js";
import { checkedSql } from "./tenant-scope.js";

/**
 * AUTHZ-2 on SQLite, where there is no row-level security: inside an organisation's scope the data
 * layer restricts every statement on a tenant table to that organisation, whatever the query forgot.
 * (On PostgreSQL the same queries are restricted by RLS: src/db/tenancy.test.ts.)
 */
const migration = (ctx: MigrationContext) => ({
  "9001_scope_tables": {
    async up(db: Kysely<unknown>) {
      for (const t of ["scope_notes", "scope_tags"]) {
        await db.schema
          .createTable(t)
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull())
          .addColumn("body", "text", (c) => c.notNull())
          .addColumn("note_id", "text")
          .execute();
        await enableTenantRls(db, ctx, t);
        await grantApp(db, ctx, t, ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      }
    },
  },
});
interface Row {
  id: string;
  org_id: string;
  body: string;
  note_id: string | null;
}
type ScopeDb = Kysely<{ scope_notes: Row; scope_tags: Row }>;
const as = (db: unknown) => db as ScopeDb;

describe("organisation scope (every engine; on SQLite the data layer, on PostgreSQL RLS)", () => {
  let t: TestDb;
  const A = "org_a";
  const B = "org_b";
  beforeAll(async () => {
    t = await testDb(migration);
    for (const org of [A, B])
      await t.db.withOrg(org, async (tx) => {
        await as(tx)
          .insertInto("scope_notes")
          .values([
            { id: `${org}-n1`, org_id: org, body: `${org} one`, note_id: null },
            { id: `${org}-n2`, org_id: org, body: `${org} two`, note_id: null },
          ])
          .execute();
        await as(tx)
          .insertInto("scope_tags")
          .values({ id: `${org}-t1`, org_id: org, body: "tag", note_id: `${org}-n1` })
          .execute();
      });
  });
  afterAll(() => t.cleanup());

  const bodies = (rows: Array<{ body: string }>) => rows.map((r) => r.body).sort();

  it("AUTHZ-2: a select that forgets org_id sees only the organisation's rows, in both scopes", async () => {
    const read = await t.db.readOrg(A, (tx) => as(tx).selectFrom("scope_notes").selectAll().execute());
    expect(bodies(read)).toEqual(["org_a one", "org_a two"]);
    const write = await t.db.withOrg(A, (tx) => as(tx).selectFrom("scope_notes").selectAll().execute());
    expect(bodies(write)).toEqual(["org_a one", "org_a two"]);
    const counted = await t.db.readOrg(B, (tx) =>
      as(tx)
        .selectFrom("scope_notes")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .executeTakeFirstOrThrow(),
    );
    expect(Number(counted.n)).toBe(2);
  });

  it("AUTHZ-2: an OR in the query's own filter cannot widen it past the organisation", async () => {
    const rows = await t.db.readOrg(A, (tx) =>
      as(tx)
        .selectFrom("scope_notes")
        .selectAll()
        .where((eb) => eb.or([eb("id", "=", "org_b-n1"), eb("id", "=", "org_a-n1")]))
        .execute(),
    );
    expect(bodies(rows)).toEqual(["org_a one"]);
  });

  it("AUTHZ-2: joins (inner and left, aliased), subqueries and CTEs are scoped at every level", async () => {
    const inner = await t.db.readOrg(A, (tx) =>
      as(tx)
        .selectFrom("scope_tags as t")
        .innerJoin("scope_notes as n", "n.id", "t.note_id")
        .select(["n.body as body"])
        .execute(),
    );
    expect(bodies(inner)).toEqual(["org_a one"]);
    // A join on a condition that crosses organisations still finds only the scope's rows on both sides.
    const left = await t.db.readOrg(A, (tx) =>
      as(tx)
        .selectFrom("scope_notes as n")
        .leftJoin("scope_tags as t", (j) => j.onTrue())
        .select(["n.body as body", "t.org_id as tagOrg"])
        .execute(),
    );
    expect(left.every((r) => r.tagOrg === A)).toBe(true);
    expect(left).toHaveLength(2);
    const sub = await t.db.readOrg(A, (tx) =>
      as(tx)
        .selectFrom("scope_tags")
        .select("body")
        .where("note_id", "in", (eb) => eb.selectFrom("scope_notes").select("id"))
        .execute(),
    );
    expect(sub).toHaveLength(1);
    const cte = await t.db.readOrg(A, (tx) =>
      as(tx)
        .with("all_notes", (db) => db.selectFrom("scope_notes").select(["id", "body"]))
        .selectFrom("all_notes")
        .selectAll()
        .execute(),
    );
    expect(bodies(cte)).toEqual(["org_a one", "org_a two"]);
  });

  it("AUTHZ-2: update and delete without an org filter touch only the organisation's rows", async () => {
    await t.db.withOrg(A, (tx) => as(tx).updateTable("scope_tags").set({ body: "changed" }).execute());
    await t.db.withOrg(A, (tx) => as(tx).deleteFrom("scope_notes").where("id", "like", "%n2").execute());
    const b = await t.db.readOrg(B, async (tx) => ({
      tags: await as(tx).selectFrom("scope_tags").selectAll().execute(),
      notes: await as(tx).selectFrom("scope_notes").selectAll().execute(),
    }));
    expect(b.tags.map((r) => r.body)).toEqual(["tag"]);
    expect(b.notes).toHaveLength(2);
  });

  it("AUTHZ-2: an insert for another organisation, or moving a row out, is refused", async () => {
    await expect(
      t.db.withOrg(A, (tx) =>
        as(tx)
          .insertInto("scope_notes")
          .values({ id: "x1", org_id: B, body: "smuggled", note_id: null })
          .execute(),
      ),
    ).rejects.toThrow(/Tenant scope|row-level security/);
    await expect(
      t.db.withOrg(A, (tx) => as(tx).updateTable("scope_notes").set({ org_id: B }).execute()),
    ).rejects.toThrow(/Tenant scope|row-level security/);
    const b = await t.db.readOrg(B, (tx) => as(tx).selectFrom("scope_notes").selectAll().execute());
    expect(b).toHaveLength(2);
  });

  // Each engine proves its own rule here (a test that returned early on the other engine would pass
  // without checking anything).
  if (ENGINE === "sqlite")
    it("AUTHZ-2: on SQLite, raw SQL on a tenant table is refused in the scope unless marked as checked", async () => {
      await expect(t.db.withOrg(A, (tx) => sql<Row>`select * from scope_notes`.execute(tx))).rejects.toThrow(
        /Tenant scope.*scope_notes/,
      );
      const checked = await t.db.withOrg(A, (tx) =>
        checkedSql(
          sql<Row>`select * from scope_notes where org_id = ${A}`,
          "filters by org_id itself",
        ).execute(tx),
      );
      expect(checked.rows.every((r) => r.org_id === A)).toBe(true);
    });
  else
    it("AUTHZ-2: on PostgreSQL, raw SQL on a tenant table without a WHERE on org_id sees only the organisation's rows (RLS)", async () => {
      const raw = await t.db.withOrg(A, (tx) => sql<Row>`select * from scope_notes`.execute(tx));
      expect(raw.rows.length).toBeGreaterThan(0);
      expect(raw.rows.filter((r) => r.org_id !== A)).toEqual([]);
      // B's rows exist: RLS, not an empty table, is what keeps them out.
      const ofB = await t.db.withOrg(B, (tx) => sql<Row>`select * from scope_notes`.execute(tx));
      expect(ofB.rows.length).toBeGreaterThan(0);
    });
});
