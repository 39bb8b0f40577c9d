// Baseline for the SQLite tenant reads: bare Fastify (no logger, no hooks, no auth, no limits) reading one
// product row by id and organisation through a prepared better-sqlite3 statement, on a file database in
// WAL mode as Bulwark opens it, with the same response shape. What the read costs before any security.
import "./cpu.js";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import Fastify from "fastify";

const orgId = "org_01BENCH00000000000000000000".slice(0, 30);
const productId = "prd_01BENCH00000000000000000000".slice(0, 30);
const db = new SQLite(join(mkdtempSync(join(tmpdir(), "bench-sqlite-")), "bench.db"));
db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
db.exec(`CREATE TABLE products (
  id text PRIMARY KEY, org_id text NOT NULL, name text NOT NULL, sku text NOT NULL,
  price_cents bigint NOT NULL, stock integer NOT NULL, description_html text NOT NULL,
  created_at bigint NOT NULL, updated_at bigint NOT NULL, UNIQUE (org_id, sku))`);
const now = Date.now();
db.prepare("INSERT INTO products VALUES (?, ?, 'Teapot', 'TEA-1', 2500, 10, ?, ?, ?)").run(
  productId,
  orgId,
  "<p>Fine porcelain</p>",
  now,
  now,
);
const byId = db.prepare("SELECT * FROM products WHERE org_id = ? AND id = ?");

const Product = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    sku: { type: "string" },
    priceCents: { type: "integer" },
    stock: { type: "integer" },
    descriptionHtml: { type: "string" },
    createdAt: { type: "string" },
    updatedAt: { type: "string" },
  },
};
const app = Fastify();
app.get(
  "/v1/orgs/:orgId/products/:id",
  { schema: { response: { 200: { type: "object", properties: { product: Product } } } } },
  async (request, reply) => {
    const p = byId.get(request.params.orgId, request.params.id);
    if (!p) return reply.code(404).send({ error: "not found" });
    return {
      product: {
        id: p.id,
        name: p.name,
        sku: p.sku,
        priceCents: p.price_cents,
        stock: p.stock,
        descriptionHtml: p.description_html,
        createdAt: new Date(p.created_at).toISOString(),
        updatedAt: new Date(p.updated_at).toISOString(),
      },
    };
  },
);
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.send?.({
  port: Number(new URL(address).port),
  paths: { product: `/v1/orgs/${orgId}/products/${productId}` },
});
// Exit cleanly on the runner's SIGTERM, so a BENCH_PROFILE CPU profile is written.
process.once("SIGTERM", () => process.exit(0));
