import type { Db } from "../db/database.js";
import type { OidcClientRow, OidcStateRow } from "./tables.js";

/** Client queries. Every query but the `client_id` lookup names the organisation. */
export class OidcClientStore {
  byId(db: Db, id: string): Promise<OidcClientRow | undefined> {
    return db.selectFrom("oidc_clients").selectAll().where("id", "=", id).executeTakeFirst();
  }

  get(db: Db, orgId: string, id: string): Promise<OidcClientRow | undefined> {
    return db
      .selectFrom("oidc_clients")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
  }

  list(db: Db, orgId: string): Promise<OidcClientRow[]> {
    return db.selectFrom("oidc_clients").selectAll().where("org_id", "=", orgId).orderBy("id").execute();
  }

  async insert(db: Db, row: OidcClientRow): Promise<void> {
    await db.insertInto("oidc_clients").values(row).execute();
  }

  async update(db: Db, orgId: string, id: string, set: Partial<OidcClientRow>): Promise<void> {
    await db.updateTable("oidc_clients").set(set).where("org_id", "=", orgId).where("id", "=", id).execute();
  }

  async remove(db: Db, orgId: string, id: string): Promise<boolean> {
    const r = await db
      .deleteFrom("oidc_clients")
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
    return Number(r.numDeletedRows) === 1;
  }
}

/** The provider's models that are codes or tokens issued under a grant. */
const TOKEN_MODELS = [
  "AccessToken",
  "AuthorizationCode",
  "RefreshToken",
  "DeviceCode",
  "BackchannelAuthenticationRequest",
  "ClientCredentials",
  "PreAuthorizedCode",
];

/** The provider's state (oidc-provider's adapter interface, one model per instance). */
export class OidcStateStore {
  async upsert(db: Db, row: OidcStateRow): Promise<void> {
    await db
      .insertInto("oidc_state")
      .values(row)
      .onConflict((oc) =>
        oc.columns(["model", "id"]).doUpdateSet({
          payload: row.payload,
          grant_id: row.grant_id,
          uid: row.uid,
          expires_at: row.expires_at,
          consumed_at: row.consumed_at,
        }),
      )
      .execute();
  }

  /** The row, unless it has expired (a purge may not have run yet). */
  find(db: Db, model: string, column: "id" | "uid", value: string, now: number) {
    return db
      .selectFrom("oidc_state")
      .selectAll()
      .where("model", "=", model)
      .where(column, "=", value)
      .where((eb) => eb.or([eb("expires_at", "is", null), eb("expires_at", ">", now)]))
      .executeTakeFirst();
  }

  /** Marks a row used, once: false when it already was (or is gone), so two requests never both use it. */
  async consume(db: Db, model: string, id: string, now: number): Promise<boolean> {
    const r = await db
      .updateTable("oidc_state")
      .set({ consumed_at: now })
      .where("model", "=", model)
      .where("id", "=", id)
      .where("consumed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async destroy(db: Db, model: string, id: string): Promise<void> {
    await db.deleteFrom("oidc_state").where("model", "=", model).where("id", "=", id).execute();
  }

  /**
   * The rows of one model that belong to a grant (oidc-provider revokes a grant model by model). An
   * interaction or session that names the grant is not a token of it and stays.
   */
  async revokeGrant(db: Db, model: string, grantId: string): Promise<void> {
    await db.deleteFrom("oidc_state").where("model", "=", model).where("grant_id", "=", grantId).execute();
  }

  /** A whole grant: the grant itself and every code and token issued under it. */
  async revokeWholeGrant(db: Db, grantId: string): Promise<void> {
    await db
      .deleteFrom("oidc_state")
      .where((eb) =>
        eb.or([
          eb.and([eb("model", "=", "Grant"), eb("id", "=", grantId)]),
          eb.and([eb("model", "in", TOKEN_MODELS), eb("grant_id", "=", grantId)]),
        ]),
      )
      .execute();
  }

  /** Deletes rows that expired before `now`; returns how many. */
  async purge(db: Db, now: number): Promise<number> {
    const r = await db.deleteFrom("oidc_state").where("expires_at", "<", now).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
