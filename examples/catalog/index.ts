import type { Extension } from "bulwark";
import { orderMigrations, orderRoutes } from "./orders.js";
import { productMigrations, productRoutes } from "./products.js";
import "./tables.js";

/**
 * The example catalog: a SaaS module built only on Bulwark's public extension API (`import … from
 * "bulwark"`). It brings its own actions with their grants (OWNER holds every action), its own error
 * codes, its tables (tenant tables: forced RLS on PostgreSQL), routes that declare their actions, and
 * rich text sanitised on write. Enabled by CATALOG_EXAMPLE (on in development).
 */
export const catalog: Extension = {
  name: "catalog",
  actions: {
    "products:read": ["ADMIN", "MEMBER", "VIEWER"],
    "products:write": ["ADMIN", "MEMBER"],
    "orders:read": ["ADMIN", "MEMBER", "VIEWER"],
    "orders:write": ["ADMIN", "MEMBER"],
  },
  errors: {
    SKU_TAKEN: { status: 409, message: "A product with this SKU exists in the organisation." },
    PRODUCT_UNKNOWN: { status: 422, message: "Some products do not exist." },
    ORDER_TRANSITION_INVALID: { status: 409, message: "The order cannot move to that status." },
    ORDER_CHANGED: { status: 409, message: "The order changed meanwhile; read it again." },
  },
  migrations: (ctx) => ({ ...productMigrations(ctx), ...orderMigrations(ctx) }),
  // An order names the member who placed it (or the API key): part of that member's data export.
  personalData: [{ table: "orders", column: "created_by", tenant: true, erase: "pseudonymise" }],
  routes: (tenant) => {
    productRoutes(tenant);
    orderRoutes(tenant);
  },
  controls: (posture) => {
    posture.register({
      id: "INPUT-4",
      title: "Rich text sanitised on write",
      claim:
        "Rich-text fields keep only paragraphs, headings, lists, basic formatting, http(s)/mailto links and https images; scripts, iframes, event handlers, styles and javascript:/data: URLs are removed before storage.",
      settings: { fields: ["products.description_html"] },
      enabled: true,
    });
  },
};
