import { type Kysely, sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, type TestDb, testDb } from "../../test/harness.js";
import { needs } from "../../test/services.js";
import { AppError } from "../http/errors.js";
import { enableTenantRls, grantApp, type MigrationContext } from "./migrations.js";

/** A test-only tenant table, created through the same helpers Bulwark's own tenant tables use. */
const notesMigration = (ctx: MigrationContext) => ({
  "9000_test_notes": {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("test_notes")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("body", "text", (c) => c.notNull())
        .execute();
      await enableTenantRls(db, ctx, "test_notes");
      await grantApp(db, ctx, "test_notes", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
    },
  },
});

interface NotesDb {
  test_notes: { id: string; org_id: string; body: string };
}
/** The test table is not in Bulwark's typed table map; view a handle through the test's own. */
const notes = (db: unknown): Kysely<NotesDb> => db as Kysely<NotesDb>;

describe(`tenant data layer (${ENGINE})`, () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await testDb(notesMigration);
    await t.db.withOrg("org_a", (tx) =>
      notes(tx)
        .insertInto("test_notes")
        .values([{ id: "a1", org_id: "org_a", body: "A's note" }])
        .execute(),
    );
    await t.db.withOrg("org_b", (tx) =>
      notes(tx)
        .insertInto("test_notes")
        .values([{ id: "b1", org_id: "org_b", body: "B's note" }])
        .execute(),
    );
  });
  afterAll(() => t.cleanup());

  const refused = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe("TENANT_CONTEXT_REQUIRED");
  };

  it("AUTHZ-2: a table with org_id is discovered as a tenant table", async () => {
    expect(await t.db.refreshTenantTables()).toContain("test_notes");
  });

  it("AUTHZ-2: the data layer refuses a tenant query without an organisation (select, insert, update, delete, join, raw SQL)", async () => {
    const g = notes(t.db.global);
    await refused(g.selectFrom("test_notes").selectAll().execute());
    await refused(g.insertInto("test_notes").values({ id: "x", org_id: "org_a", body: "x" }).execute());
    await refused(g.updateTable("test_notes").set({ body: "x" }).execute());
    await refused(g.deleteFrom("test_notes").execute());
    await refused(
      g
        .selectFrom(sql`(select 1 as one)`.as("s"))
        .innerJoin("test_notes", (j) => j.onTrue())
        .selectAll()
        .execute(),
    );
    await refused(sql`SELECT * FROM test_notes`.execute(g));
    await refused(sql`select count(*) from "test_notes"`.execute(g));
  });

  it("AUTHZ-2: inside withOrg the organisation's rows are reachable", async () => {
    const rows = await t.db.withOrg("org_a", (tx) =>
      notes(tx).selectFrom("test_notes").selectAll().where("org_id", "=", "org_a").execute(),
    );
    expect(rows.map((r) => r.id)).toEqual(["a1"]);
  });

  it("AUTHZ-2: readOrg (the GET handlers' scope) reads the organisation's rows and refuses every write", async () => {
    const rows = await t.db.readOrg("org_a", (tx) =>
      notes(tx).selectFrom("test_notes").selectAll().where("org_id", "=", "org_a").execute(),
    );
    expect(rows.map((r) => r.id)).toEqual(["a1"]);
    await expect(
      t.db.readOrg("org_a", (tx) =>
        notes(tx).insertInto("test_notes").values({ id: "w", org_id: "org_a", body: "x" }).execute(),
      ),
    ).rejects.toThrow(/read-only/);
    await expect(t.db.readOrg("org_a", (tx) => notes(tx).deleteFrom("test_notes").execute())).rejects.toThrow(
      /read-only/,
    );
  });

  it("AUTHZ-2: withOrg refuses a malformed organisation id", async () => {
    await expect(t.db.withOrg("x' OR 1=1 --", async () => 1)).rejects.toThrow(/invalid organisation id/);
  });
});

describe.runIf(needs("postgres"))("PostgreSQL row-level security", () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await testDb(notesMigration);
    await t.db.withOrg("org_a", (tx) =>
      notes(tx).insertInto("test_notes").values({ id: "a1", org_id: "org_a", body: "A" }).execute(),
    );
    await t.db.withOrg("org_b", (tx) =>
      notes(tx).insertInto("test_notes").values({ id: "b1", org_id: "org_b", body: "B" }).execute(),
    );
  });
  afterAll(() => t.cleanup());

  it("AUTHZ-2: a cross-organisation SELECT returns nothing, even without a WHERE on org_id", async () => {
    const rows = await t.db.withOrg("org_a", (tx) =>
      notes(tx).selectFrom("test_notes").selectAll().execute(),
    );
    expect(rows.map((r) => r.id)).toEqual(["a1"]);
    const raw = await t.db.withOrg("org_a", (tx) =>
      sql<{ id: string }>`SELECT id FROM test_notes WHERE org_id = 'org_b'`.execute(tx),
    );
    expect(raw.rows).toEqual([]);
  });

  it("AUTHZ-2: a cross-organisation INSERT fails", async () => {
    const err = await t.db
      .withOrg("org_a", (tx) =>
        notes(tx).insertInto("test_notes").values({ id: "evil", org_id: "org_b", body: "planted" }).execute(),
      )
      .catch((e: { code?: string; message: string }) => e);
    expect((err as { code?: string }).code).toBe("42501");
    expect((err as Error).message).toMatch(/row-level security/);
  });

  it("AUTHZ-2: a cross-organisation UPDATE fails, and B's rows cannot be targeted", async () => {
    const moved = await t.db
      .withOrg("org_a", (tx) =>
        notes(tx).updateTable("test_notes").set({ org_id: "org_b" }).where("id", "=", "a1").execute(),
      )
      .catch((e: { code?: string }) => e);
    expect((moved as { code?: string }).code).toBe("42501");
    const touched = await t.db.withOrg("org_a", (tx) =>
      notes(tx).updateTable("test_notes").set({ body: "hacked" }).where("id", "=", "b1").executeTakeFirst(),
    );
    expect(Number((touched as { numUpdatedRows: bigint }).numUpdatedRows)).toBe(0);
    const deleted = await t.db.withOrg("org_a", (tx) =>
      notes(tx).deleteFrom("test_notes").where("id", "=", "b1").executeTakeFirst(),
    );
    expect(Number((deleted as { numDeletedRows: bigint }).numDeletedRows)).toBe(0);
    const b = await t.admin("SELECT body FROM test_notes WHERE id = 'b1'");
    expect(b.rows[0].body).toBe("B");
  });

  it("AUTHZ-2: the server works as a role without BYPASSRLS, although it connects as a superuser", async () => {
    const who = await t.db.withOrg("org_a", (tx) =>
      sql<{
        user: string;
        session: string;
        bypass: boolean;
        sup: boolean;
      }>`SELECT current_user AS user, session_user AS session, r.rolbypassrls AS bypass, r.rolsuper AS sup FROM pg_roles r WHERE r.rolname = current_user`.execute(
        tx,
      ),
    );
    expect(who.rows[0]).toMatchObject({ user: "bulwark_app", bypass: false, sup: false });
    const login = await t.admin("SELECT rolsuper FROM pg_roles WHERE rolname = session_user");
    expect(login.rows[0].rolsuper).toBe(true);
  });

  it("AUTHZ-2: with no organisation set, the app role sees no tenant row at all", async () => {
    const rows = await t.admin("BEGIN; SET LOCAL ROLE bulwark_app; SELECT id FROM test_notes; COMMIT;");
    const results = rows as unknown as Array<{ command: string; rows: unknown[] }>;
    expect(results.find((r) => r.command === "SELECT")?.rows).toEqual([]);
  });

  it("AUTHZ-2: start-up refuses a tenant table without forced row-level security", async () => {
    await t.admin("CREATE TABLE careless (id text primary key, org_id text not null)");
    await expect(t.db.refreshTenantTables()).rejects.toThrow(/without forced row-level security: careless/);
    await t.admin("DROP TABLE careless");
    await expect(t.db.refreshTenantTables()).resolves.toContain("test_notes");
  });
});
