import { Type } from "@sinclair/typebox";
import {
  AppError,
  enableTenantRls,
  grantApp,
  type MigrationContext,
  newId,
  sanitizeRichText,
  type TenantContext,
  type TenantRouter,
} from "bulwark";
import type { Kysely } from "kysely";
import { catalogStore as store } from "./store.js";
import type { ProductRow } from "./tables.js";

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
  catalog_0003_product_images: {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable("products").addColumn("image_upload_id", "text").execute();
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
  imageUploadId: Type.Union([Type.String(), Type.Null()]),
  imageUrl: Type.Union([Type.String(), Type.Null()], {
    description: "A short-lived link to the image (DATA-3); null without one.",
  }),
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
  imageUploadId: Type.Union([Type.String({ pattern: "^upl_[0-9A-Z]{26}$" }), Type.Null()], {
    description:
      "An upload of the organisation (POST /v1/orgs/{orgId}/uploads), once its file is sent; null removes the image.",
  }),
};

/** What the audit log records of a product (AUDIT-2): its fields as the API names them, no timestamps. */
const facts = (p: ProductRow): Record<string, unknown> => ({
  name: p.name,
  sku: p.sku,
  priceCents: Number(p.price_cents),
  stock: p.stock,
  descriptionHtml: p.description_html,
  // Only when set: products without an image record what they always did.
  ...(p.image_upload_id ? { imageUploadId: p.image_upload_id } : {}),
});

/** The fields whose values differ, before and after: an update's audit entry records only those. */
function changes(before: ProductRow, after: ProductRow) {
  const [b, a] = [facts(before), facts(after)];
  const keys = [...new Set([...Object.keys(b), ...Object.keys(a)])].filter((k) => a[k] !== b[k]);
  return {
    before: Object.fromEntries(keys.map((k) => [k, b[k] ?? null])),
    after: Object.fromEntries(keys.map((k) => [k, a[k] ?? null])),
  };
}

/** A product's image is a picture: a PDF or other allowed upload is refused (UPLOAD_NOT_ALLOWED). */
const isImage = (type: string) => type.startsWith("image/");

/** A product as the API shows it: its image as a link that works for a few minutes. */
const view = async (p: ProductRow, uploads: TenantContext<unknown, unknown, unknown>["uploads"]) => ({
  id: p.id,
  name: p.name,
  sku: p.sku,
  priceCents: Number(p.price_cents),
  stock: p.stock,
  descriptionHtml: p.description_html,
  imageUploadId: p.image_upload_id,
  imageUrl: p.image_upload_id ? ((await uploads.url(p.image_upload_id)) ?? null) : null,
  createdAt: new Date(p.created_at).toISOString(),
  updatedAt: new Date(p.updated_at).toISOString(),
});

/** Products: `/v1/orgs/{orgId}/products`, built only on the extension API. */
export function productRoutes(tenant: TenantRouter): void {
  const tags = ["catalog"];
  tenant.route({
    method: "GET",
    url: "/products",
    action: "products:read",
    schema: {
      summary: "Products",
      description: "The organisation's products, by id, with cursor pagination.",
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
    async handler({ tx, query, orgId, uploads }) {
      const limit = query.limit ?? 50;
      const rows = await store.listProducts(tx, orgId, limit, query.after);
      return {
        products: await Promise.all(rows.map((r) => view(r, uploads))),
        nextCursor: rows.length === limit ? (rows[rows.length - 1]?.id ?? null) : null,
      };
    },
  });

  tenant.route({
    method: "POST",
    url: "/products",
    action: "products:write",
    status: 201,
    errors: ["SKU_TAKEN", "UPLOAD_UNKNOWN", "UPLOAD_INCOMPLETE", "UPLOAD_NOT_ALLOWED"],
    schema: {
      summary: "Add a product",
      description:
        "The SKU is unique in the organisation; the description's HTML is sanitised; the image is an upload whose file was sent.",
      tags,
      body: Type.Object({
        ...Fields,
        descriptionHtml: Type.Optional(Fields.descriptionHtml),
        imageUploadId: Type.Optional(Fields.imageUploadId),
      }),
      response: { 201: Type.Object({ product: Product }) },
    },
    async handler({ tx, body, orgId, now, audit, uploads }) {
      if (body.imageUploadId) await uploads.attach(body.imageUploadId, isImage);
      const row: ProductRow = {
        id: newId("prd", now),
        org_id: orgId,
        name: body.name,
        sku: body.sku,
        price_cents: body.priceCents,
        stock: body.stock,
        description_html: sanitizeRichText(body.descriptionHtml ?? ""),
        image_upload_id: body.imageUploadId ?? null,
        created_at: now,
        updated_at: now,
      };
      if (!(await store.insertProduct(tx, row)))
        throw new AppError("SKU_TAKEN", `A product with SKU ${body.sku} exists.`);
      // In the handler's transaction: the entry exists exactly when the product does.
      await audit({ action: "product.created", entity: { type: "product", id: row.id }, after: facts(row) });
      return { product: await view(row, uploads) };
    },
  });

  tenant.route({
    method: "GET",
    url: "/products/:id",
    action: "products:read",
    errors: ["NOT_FOUND"],
    schema: {
      summary: "A product",
      description: "One product of the organisation.",
      tags,
      params: Id,
      response: { 200: Type.Object({ product: Product }) },
    },
    async handler({ tx, params, orgId, uploads }) {
      const row = await store.product(tx, orgId, params.id);
      if (!row) throw new AppError("NOT_FOUND");
      return { product: await view(row, uploads) };
    },
  });

  tenant.route({
    method: "PATCH",
    url: "/products/:id",
    action: "products:write",
    errors: ["NOT_FOUND", "SKU_TAKEN", "UPLOAD_UNKNOWN", "UPLOAD_INCOMPLETE", "UPLOAD_NOT_ALLOWED"],
    schema: {
      summary: "Change a product",
      description: "Any of its fields; the SKU stays unique in the organisation.",
      tags,
      params: Id,
      body: Type.Partial(Type.Object(Fields), { minProperties: 1 }),
      response: { 200: Type.Object({ product: Product }) },
    },
    async handler({ tx, params, body, orgId, now, audit, uploads }) {
      if (body.imageUploadId) await uploads.attach(body.imageUploadId, isImage);
      // Read first, in the same transaction, for the entry's `before`.
      const before = await store.product(tx, orgId, params.id);
      if (!before) throw new AppError("NOT_FOUND");
      const patch = {
        ...(body.name !== undefined ? { name: body.name } : {}),
        ...(body.sku !== undefined ? { sku: body.sku } : {}),
        ...(body.priceCents !== undefined ? { price_cents: body.priceCents } : {}),
        ...(body.stock !== undefined ? { stock: body.stock } : {}),
        ...(body.descriptionHtml !== undefined
          ? { description_html: sanitizeRichText(body.descriptionHtml) }
          : {}),
        ...(body.imageUploadId !== undefined ? { image_upload_id: body.imageUploadId } : {}),
        updated_at: now,
      };
      const row = await store.updateProduct(tx, orgId, params.id, patch);
      if (row === "sku_taken") throw new AppError("SKU_TAKEN", "Another product has this SKU.");
      if (!row) throw new AppError("NOT_FOUND");
      const diff = changes(before, row);
      if (Object.keys(diff.after).length > 0)
        await audit({ action: "product.updated", entity: { type: "product", id: row.id }, ...diff });
      return { product: await view(row, uploads) };
    },
  });

  tenant.route({
    method: "DELETE",
    url: "/products/:id",
    action: "products:write",
    status: 204,
    errors: ["NOT_FOUND"],
    schema: {
      summary: "Delete a product",
      description: "Removes it from the organisation.",
      tags,
      params: Id,
    },
    async handler({ tx, params, orgId, audit }) {
      const row = await store.deleteProduct(tx, orgId, params.id);
      if (!row) throw new AppError("NOT_FOUND");
      await audit({ action: "product.deleted", entity: { type: "product", id: row.id }, before: facts(row) });
      // Answered (204, `status`) once the transaction committed, never before.
      return undefined;
    },
  });
}
