import { Type } from "@sinclair/typebox";
import {
  AppError,
  enableTenantRls,
  grantApp,
  type MigrationContext,
  newId,
  type TenantRouter,
} from "bulwark";
import type { Kysely } from "kysely";
import { catalogStore as store } from "./store.js";
import type { OrderLineRow, OrderRow, OrderStatus } from "./tables.js";

/** The status machine: pending → paid → shipped → delivered, or cancelled (before shipping) / refunded (after paying). */
export const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  pending: ["paid", "cancelled"],
  paid: ["shipped", "refunded", "cancelled"],
  shipped: ["delivered", "refunded"],
  delivered: ["refunded"],
  cancelled: [],
  refunded: [],
};

export const orderMigrations = (ctx: MigrationContext) => ({
  catalog_0002_orders: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("orders")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("status", "text", (c) => c.notNull())
        .addColumn("total_cents", "bigint", (c) => c.notNull())
        .addColumn("created_by", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("order_lines")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("order_id", "text", (c) => c.notNull().references("orders.id").onDelete("cascade"))
        .addColumn("product_id", "text", (c) => c.notNull())
        .addColumn("quantity", "integer", (c) => c.notNull())
        .addColumn("unit_price_cents", "bigint", (c) => c.notNull())
        .execute();
      for (const t of ["orders", "order_lines"]) {
        await enableTenantRls(db, ctx, t);
        await grantApp(db, ctx, t, ["SELECT", "INSERT", "UPDATE"]);
      }
    },
  },
});

const Status = Type.Union([
  Type.Literal("pending"),
  Type.Literal("paid"),
  Type.Literal("shipped"),
  Type.Literal("delivered"),
  Type.Literal("cancelled"),
  Type.Literal("refunded"),
]);
const Line = Type.Object({
  productId: Type.String(),
  quantity: Type.Integer(),
  unitPriceCents: Type.Integer(),
});
const Order = Type.Object({
  id: Type.String(),
  status: Status,
  totalCents: Type.Integer(),
  lines: Type.Array(Line),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Id = Type.Object({ id: Type.String({ pattern: "^ord_[0-9A-Z]{26}$" }) });

const view = (o: OrderRow, lines: OrderLineRow[]) => ({
  id: o.id,
  status: o.status,
  totalCents: Number(o.total_cents),
  lines: lines.map((l) => ({
    productId: l.product_id,
    quantity: l.quantity,
    unitPriceCents: Number(l.unit_price_cents),
  })),
  createdAt: new Date(o.created_at).toISOString(),
  updatedAt: new Date(o.updated_at).toISOString(),
});

/** Orders: `/v1/orgs/{orgId}/orders`, built only on the extension API. */
export function orderRoutes(tenant: TenantRouter): void {
  const tags = ["catalog"];
  tenant.route({
    method: "GET",
    url: "/orders",
    action: "orders:read",
    schema: {
      summary: "Orders",
      description: "The organisation's orders with their lines, newest first.",
      tags,
      response: { 200: Type.Object({ orders: Type.Array(Order) }) },
    },
    async handler({ tx, orgId }) {
      const orders = await store.recentOrders(tx, orgId, 100);
      const lines = await store.lines(
        tx,
        orgId,
        orders.map((o) => o.id),
      );
      return {
        orders: orders.map((o) =>
          view(
            o,
            lines.filter((l) => l.order_id === o.id),
          ),
        ),
      };
    },
  });

  tenant.route({
    method: "POST",
    url: "/orders",
    action: "orders:write",
    status: 201,
    // A client that lost the answer retries with the same Idempotency-Key: one order, not two.
    idempotent: true,
    errors: ["PRODUCT_UNKNOWN"],
    schema: {
      summary: "Place an order",
      description: "Lines of the organisation's own products, priced from them at the time of the order.",
      tags,
      body: Type.Object({
        lines: Type.Array(
          Type.Object({
            productId: Type.String({ pattern: "^prd_[0-9A-Z]{26}$" }),
            quantity: Type.Integer({ minimum: 1, maximum: 10_000 }),
          }),
          { minItems: 1, maxItems: 100 },
        ),
      }),
      response: { 201: Type.Object({ order: Order }) },
    },
    async handler({ tx, orgId, actorId, body, now, audit }) {
      const ids = [...new Set(body.lines.map((l) => l.productId))];
      // Prices come from this organisation's products only: another organisation's product id is unknown here.
      const price = await store.prices(tx, orgId, ids);
      const missing = ids.filter((id) => !price.has(id));
      if (missing.length)
        throw new AppError(
          "PRODUCT_UNKNOWN",
          "Some products do not exist.",
          missing.map((id) => ({ in: "body", field: "lines.productId", message: `unknown product ${id}` })),
        );
      const order: OrderRow = {
        id: newId("ord", now),
        org_id: orgId,
        status: "pending",
        total_cents: body.lines.reduce((sum, l) => sum + l.quantity * (price.get(l.productId) ?? 0), 0),
        created_by: actorId,
        created_at: now,
        updated_at: now,
      };
      const lines: OrderLineRow[] = body.lines.map((l) => ({
        id: newId("orl", now),
        org_id: orgId,
        order_id: order.id,
        product_id: l.productId,
        quantity: l.quantity,
        unit_price_cents: price.get(l.productId) ?? 0,
      }));
      await store.insertOrder(tx, order, lines);
      const placed = view(order, lines);
      // In the handler's transaction: the entry exists exactly when the order does.
      await audit({
        action: "order.created",
        entity: { type: "order", id: order.id },
        after: { status: placed.status, totalCents: placed.totalCents, lines: placed.lines },
      });
      return { order: placed };
    },
  });

  tenant.route({
    method: "PATCH",
    url: "/orders/:id",
    action: "orders:write",
    errors: ["NOT_FOUND", "ORDER_TRANSITION_INVALID", "ORDER_CHANGED"],
    schema: {
      summary: "Move an order",
      description: "pending → paid → shipped, or cancelled; of two racing changes only one applies.",
      tags,
      params: Id,
      body: Type.Object({ status: Status }),
      response: { 200: Type.Object({ order: Order }) },
    },
    async handler({ tx, orgId, params, body, now, audit }) {
      const order = await store.order(tx, orgId, params.id);
      if (!order) throw new AppError("NOT_FOUND");
      if (!TRANSITIONS[order.status].includes(body.status))
        throw new AppError(
          "ORDER_TRANSITION_INVALID",
          `An order cannot go from ${order.status} to ${body.status}.`,
        );
      // Conditional on the status read: of two racing transitions only one applies.
      const updated = await store.setStatus(tx, orgId, params.id, order.status, body.status, now);
      if (!updated) throw new AppError("ORDER_CHANGED");
      await audit({
        action: "order.status_changed",
        entity: { type: "order", id: params.id },
        before: { status: order.status },
        after: { status: updated.status },
      });
      return { order: view(updated, await store.lines(tx, orgId, [params.id])) };
    },
  });
}
