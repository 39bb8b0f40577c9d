import type { TestApp } from "./harness.js";

/**
 * Every row of every table as lower-cased JSON, by table: what the privacy tests (GDPR-1, GDPR-2) scan
 * for a person's id, address, name and network address. Tenant tables are read in each organisation's
 * scope, the way the stores read them (row-level security on PostgreSQL).
 */
export async function everyRow(t: TestApp): Promise<Map<string, string[]>> {
  const tables = await t.db.global.introspection.getTables();
  const orgs = (await t.db.global.selectFrom("organizations").select("id").execute()).map((o) => o.id);
  const out = new Map<string, string[]>();
  for (const { name } of tables) {
    if (name.startsWith("kysely_")) continue;
    // biome-ignore lint/suspicious/noExplicitAny: every table, whatever its type.
    const all = (db: any) => db.selectFrom(name).selectAll().execute() as Promise<object[]>;
    let rows: object[];
    try {
      rows = await all(t.db.global);
    } catch {
      rows = (await Promise.all(orgs.map((o) => t.db.readOrg(o, all)))).flat();
    }
    out.set(
      name,
      rows.map((r) => JSON.stringify(r).toLowerCase()),
    );
  }
  return out;
}
