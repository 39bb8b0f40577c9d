import type { Extension } from "../../src/index.js";
import { orderMigrations, orderRoutes } from "./orders.js";
import { productMigrations, productRoutes } from "./products.js";

/**
 * The example catalog: a SaaS module built only on Bulwark's public extension API. Its tables are tenant
 * tables (forced RLS on PostgreSQL), its routes declare their actions, and rich text is sanitised on
 * write. Enabled by CATALOG_EXAMPLE (on in development).
 */
export const catalog: Extension = {
  name: "catalog",
  migrations: (ctx) => ({ ...productMigrations(ctx), ...orderMigrations(ctx) }),
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
