import type { Db } from "../db/database.js";
import type { AdminRow } from "./tables.js";

/** The only code that touches `platform_admins`. */
export class AdminStore {
  constructor(private readonly db: Db) {}

  async count(): Promise<number> {
    const r = await this.db
      .selectFrom("platform_admins")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Inserts an admin; false when the email is taken. */
  async insert(row: AdminRow): Promise<boolean> {
    const res = await this.db
      .insertInto("platform_admins")
      .values(row)
      .onConflict((oc) => oc.column("email").doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  findByEmail(email: string): Promise<AdminRow | undefined> {
    return this.db.selectFrom("platform_admins").selectAll().where("email", "=", email).executeTakeFirst();
  }
}
