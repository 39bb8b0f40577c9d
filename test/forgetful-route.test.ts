import type { Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enableTenantRls, grantApp, type MigrationContext } from "../src/db/migrations.js";
import type { Extension } from "../src/orgs/extension.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "./harness.js";

interface MemoRow {
  id: string;
  org_id: string;
  body: string;
}
type MemoDb = Kysely<{ forgetful_memos: MemoRow }>;

/**
 * A tenant route whose author forgot `where org_id = …` (it happens): the data layer is the second wall.
 * On SQLite the organisation scope adds the filter, on PostgreSQL row-level security does; either way the
 * caller gets its own rows only, the same answer on both engines.
 */
const forgetful: Extension = {
  name: "forgetful",
  migrations: (ctx: MigrationContext) => ({
    forgetful_0001: {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable("forgetful_memos")
          .addColumn("id", "text", (c) => c.primaryKey())
          .addColumn("org_id", "text", (c) => c.notNull())
          .addColumn("body", "text", (c) => c.notNull())
          .execute();
        await enableTenantRls(db, ctx, "forgetful_memos");
        await grantApp(db, ctx, "forgetful_memos", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
      },
    },
  }),
  routes: (tenant) => {
    tenant.route({
      method: "GET",
      url: "/memos",
      action: "org:read",
      // No org filter: the bug under test.
      handler: async ({ tx }) => ({
        memos: await (tx as unknown as MemoDb).selectFrom("forgetful_memos").selectAll().execute(),
      }),
    });
    tenant.route({
      method: "DELETE",
      url: "/memos",
      action: "org:update",
      // No org filter either: it must not delete another organisation's memos.
      handler: async ({ tx }) => ({
        deleted: Number(
          (await (tx as unknown as MemoDb).deleteFrom("forgetful_memos").executeTakeFirst()).numDeletedRows,
        ),
      }),
    });
  },
};

describe(`a tenant route that forgets its org filter (${ENGINE})`, () => {
  let t: TestApp;
  const orgs: Record<string, string> = {};
  const who: Record<string, { cookie: string; "x-csrf-token": string }> = {};
  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [forgetful] });
    for (const name of ["a", "b"]) {
      await createUser(t, `${name}@example.org`, "forgetful passphrase");
      const s = await login(t, `${name}@example.org`, "forgetful passphrase");
      who[name] = { cookie: s.cookie, "x-csrf-token": s.csrf };
      const org = await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        headers: who[name],
        payload: { name },
      });
      orgs[name] = org.json().org.id;
      await t.db.withOrg(orgs[name]!, (tx) =>
        (tx as unknown as MemoDb)
          .insertInto("forgetful_memos")
          .values(
            [1, 2].map((i) => ({ id: `${name}-${i}`, org_id: orgs[name]!, body: `${name}'s memo ${i}` })),
          )
          .execute(),
      );
    }
  });
  afterAll(() => t.close());

  it("AUTHZ-2: the forgetful route returns the caller's rows only, and deletes only the caller's", async () => {
    const res = await t.app.inject({ url: `/v1/orgs/${orgs.a}/memos`, headers: who.a });
    expect(res.statusCode).toBe(200);
    expect(
      res
        .json()
        .memos.map((m: MemoRow) => m.body)
        .sort(),
    ).toEqual(["a's memo 1", "a's memo 2"]);
    const del = await t.app.inject({ method: "DELETE", url: `/v1/orgs/${orgs.a}/memos`, headers: who.a });
    expect(del.json().deleted).toBe(2);
    const b = await t.app.inject({ url: `/v1/orgs/${orgs.b}/memos`, headers: who.b });
    expect(b.json().memos).toHaveLength(2);
  });
});
