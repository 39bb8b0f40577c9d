import { Type } from "@sinclair/typebox";
import type { Kysely } from "kysely";
import {
  AppError,
  enableTenantRls,
  grantApp,
  type MigrationContext,
  newId,
  sanitizeRichText,
  type TenantRouter,
} from "../../src/index.js";

/** A product row. `org_id` makes it tenant data: reachable only inside the organisation's transaction. */
export interface ProductRow {
  id: string;
  org_id: string;
  name: string;
  sku: string;
  price_cents: number;
  stock: number;
  /** Sanitised on write (INPUT-4): stored HTML is always harmless. */
  description_html: string;
  created_at: number;
  updated_at: number;
}

declare module "../../src/db/tables.js" {
  interface Tables {
    products: ProductRow;
  }
}

export const productMigrations = (ctx: MigrationContext) => ({
  catalog_0001_products: {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable("products")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("org_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("sku", "text", (c) => c.notNull())
        .addColumn("price_cents", "bigint", (c) => c.notNull())
        .addColumn("stock", "integer", (c) => c.notNull())
        .addColumn("description_html", "text", (c) => c.notNull())
        .addColumn("created_at", "bigint", (c) => c.notNull())
        .addColumn("updated_at", "bigint", (c) => c.notNull())
        .addUniqueConstraint("products_org_sku", ["org_id", "sku"])
        .execute();
      await enableTenantRls(db, ctx, "products");
      await grantApp(db, ctx, "products", ["SELECT", "INSERT", "UPDATE", "DELETE"]);
    },
  },
});

const Product = Type.Object({
  id: Type.String(),
  name: Type.String(),
  sku: Type.String(),
  priceCents: Type.Integer(),
  stock: Type.Integer(),
  descriptionHtml: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const Id = Type.Object({ id: Type.String({ pattern: "^prd_[0-9A-Z]{26}$" }) });
const Fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  sku: Type.String({ minLength: 1, maxLength: 64, pattern: "^[A-Za-z0-9._-]+$" }),
  priceCents: Type.Integer({ minimum: 0, maximum: 1_000_000_000 }),
  stock: Type.Integer({ minimum: 0, maximum: 10_000_000 }),
  descriptionHtml: Type.String({ maxLength: 20_000 }),
};

const view = (p: ProductRow) => ({
  id: p.id,
  name: p.name,
  sku: p.sku,
  priceCents: Number(p.price_cents),
  stock: p.stock,
  descriptionHtml: p.description_html,
  createdAt: new Date(p.created_at).toISOString(),
  updatedAt: new Date(p.updated_at).toISOString(),
});
const isUnique = (err: unknown) => /unique|duplicate/i.test(String((err as Error).message));

/** Products: `/v1/orgs/{orgId}/products`, built only on the extension API. */
export function productRoutes(tenant: TenantRouter): void {
  const tags = ["catalog"];
  tenant.route({
    method: "GET",
    url: "/products",
    action: "products:read",
    schema: {
      tags,
      querystring: Type.Object({
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
        after: Type.Optional(Type.String({ pattern: "^prd_[0-9A-Z]{26}$" })),
      }),
      response: {
        200: Type.Object({
          products: Type.Array(Product),
          nextCursor: Type.Union([Type.String(), Type.Null()]),
        }),
      },
    },
    async handler({ tx, query, orgId }) {
      const limit = query.limit ?? 50;
      let q = tx.selectFrom("products").selectAll().where("org_id", "=", orgId).orderBy("id").limit(limit);
      if (query.after) q = q.where("id", ">", query.after);
      const rows = await q.execute();
      return {
        products: rows.map(view),
        nextCursor: rows.length === limit ? (rows[rows.length - 1]?.id ?? null) : null,
      };
    },
  });

  tenant.route({
    method: "POST",
    url: "/products",
    action: "products:write",
    status: 201,
    schema: {
      tags,
      body: Type.Object({ ...Fields, descriptionHtml: Type.Optional(Fields.descriptionHtml) }),
      response: { 201: Type.Object({ product: Product }) },
    },
    async handler({ tx, body, orgId }) {
      const now = Date.now();
      const row: ProductRow = {
        id: newId("prd", now),
        org_id: orgId,
        name: body.name,
        sku: body.sku,
        price_cents: body.priceCents,
        stock: body.stock,
        description_html: sanitizeRichText(body.descriptionHtml ?? ""),
        created_at: now,
        updated_at: now,
      };
      try {
        await tx.insertInto("products").values(row).execute();
      } catch (err) {
        if (isUnique(err)) throw new AppError("CONFLICT", `A product with SKU ${body.sku} exists.`);
        throw err;
      }
      return { product: view(row) };
    },
  });

  tenant.route({
    method: "GET",
    url: "/products/:id",
    action: "products:read",
    schema: { tags, params: Id, response: { 200: Type.Object({ product: Product }) } },
    async handler({ tx, params, orgId }) {
      const row = await tx
        .selectFrom("products")
        .selectAll()
        .where("org_id", "=", orgId)
        .where("id", "=", params.id)
        .executeTakeFirst();
      if (!row) throw new AppError("NOT_FOUND");
      return { product: view(row) };
    },
  });

  tenant.route({
    method: "PATCH",
    url: "/products/:id",
    action: "products:write",
    schema: {
      tags,
      params: Id,
      body: Type.Partial(Type.Object(Fields), { minProperties: 1 }),
      response: { 200: Type.Object({ product: Product }) },
    },
    async handler({ tx, params, body, orgId }) {
      const patch = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.sku !== undefined ? { sku: body.sku } : {}),
        ...(body.priceCents !== undefined ? { price_cents: body.priceCents } : {}),
        ...(body.stock !== undefined ? { stock: body.stock } : {}),
        ...(body.descriptionHtml !== undefined
          ? { description_html: sanitizeRichText(body.descriptionHtml) }
          : {}),
        updated_at: Date.now(),
      };
      const row = await tx
        .updateTable("products")
        .set(patch)
        .where("org_id", "=", orgId)
        .where("id", "=", params.id)
        .returningAll()
        .executeTakeFirst()
        .catch((err: unknown) => {
          if (isUnique(err)) throw new AppError("CONFLICT", "Another product has this SKU.");
          throw err;
        });
      if (!row) throw new AppError("NOT_FOUND");
      return { product: view(row) };
    },
  });

  tenant.route({
    method: "DELETE",
    url: "/products/:id",
    action: "products:write",
    status: 204,
    schema: { tags, params: Id },
    async handler({ tx, params, orgId, reply }) {
      const res = await tx
        .deleteFrom("products")
        .where("org_id", "=", orgId)
        .where("id", "=", params.id)
        .executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) throw new AppError("NOT_FOUND");
      reply.code(204).send();
      return undefined;
    },
  });
}
