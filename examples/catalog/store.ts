import type { Db } from "bulwark";
import type { OrderLineRow, OrderRow, OrderStatus, ProductRow } from "./tables.js";

const isUnique = (err: unknown) => /unique|duplicate/i.test(String((err as Error).message));

/**
 * The catalog's queries, and the only code that touches its tables. Every function takes the
 * organisation's scoped handle (`tx` from the tenant context) and still names the organisation: the
 * handle restricts every statement to it anyway, and the explicit filter keeps each query readable
 * and index-friendly. Copy this shape: routes call the store, never Kysely directly.
 */
export const catalogStore = {
  listProducts(tx: Db, orgId: string, limit: number, after: string | undefined): Promise<ProductRow[]> {
    let q = tx.selectFrom("products").selectAll().where("org_id", "=", orgId).orderBy("id").limit(limit);
    if (after) q = q.where("id", ">", after);
    return q.execute();
  },

  product(tx: Db, orgId: string, id: string): Promise<ProductRow | undefined> {
    return tx
      .selectFrom("products")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
  },

  /** Inserts a product; false when its SKU is taken in the organisation. */
  async insertProduct(tx: Db, row: ProductRow): Promise<boolean> {
    try {
      await tx.insertInto("products").values(row).execute();
      return true;
    } catch (err) {
      if (isUnique(err)) return false;
      throw err;
    }
  },

  /** Updates a product; undefined when it does not exist, "sku_taken" when the new SKU is. */
  async updateProduct(
    tx: Db,
    orgId: string,
    id: string,
    patch: Partial<Omit<ProductRow, "id" | "org_id" | "created_at">>,
  ): Promise<ProductRow | undefined | "sku_taken"> {
    try {
      return await tx
        .updateTable("products")
        .set(patch)
        .where("org_id", "=", orgId)
        .where("id", "=", id)
        .returningAll()
        .executeTakeFirst();
    } catch (err) {
      if (isUnique(err)) return "sku_taken";
      throw err;
    }
  },

  /** Deletes a product; returns the row it deleted (for the audit entry), undefined when there was none. */
  deleteProduct(tx: Db, orgId: string, id: string): Promise<ProductRow | undefined> {
    return tx
      .deleteFrom("products")
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  },

  /** The prices of the organisation's products among `ids` (another organisation's ids are simply absent). */
  async prices(tx: Db, orgId: string, ids: readonly string[]): Promise<Map<string, number>> {
    const rows = await tx
      .selectFrom("products")
      .select(["id", "price_cents"])
      .where("org_id", "=", orgId)
      .where("id", "in", [...ids])
      .execute();
    return new Map(rows.map((p) => [p.id, Number(p.price_cents)]));
  },

  recentOrders(tx: Db, orgId: string, limit: number): Promise<OrderRow[]> {
    return tx
      .selectFrom("orders")
      .selectAll()
      .where("org_id", "=", orgId)
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
  },

  order(tx: Db, orgId: string, id: string): Promise<OrderRow | undefined> {
    return tx
      .selectFrom("orders")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .executeTakeFirst();
  },

  async lines(tx: Db, orgId: string, orderIds: readonly string[]): Promise<OrderLineRow[]> {
    if (orderIds.length === 0) return [];
    return tx
      .selectFrom("order_lines")
      .selectAll()
      .where("org_id", "=", orgId)
      .where("order_id", "in", [...orderIds])
      .execute();
  },

  async insertOrder(tx: Db, order: OrderRow, lines: readonly OrderLineRow[]): Promise<void> {
    await tx.insertInto("orders").values(order).execute();
    await tx
      .insertInto("order_lines")
      .values([...lines])
      .execute();
  },

  /** Moves an order from `from` to `to`; undefined when its status changed meanwhile (of two racing transitions one wins). */
  setStatus(
    tx: Db,
    orgId: string,
    id: string,
    from: OrderStatus,
    to: OrderStatus,
    now: number,
  ): Promise<OrderRow | undefined> {
    return tx
      .updateTable("orders")
      .set({ status: to, updated_at: now })
      .where("org_id", "=", orgId)
      .where("id", "=", id)
      .where("status", "=", from)
      .returningAll()
      .executeTakeFirst();
  },
};
