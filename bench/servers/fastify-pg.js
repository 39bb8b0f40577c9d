// Baseline for the PostgreSQL cases: bare Fastify (no logger, no hooks, no auth, no limits) reading one
// product row by id and organisation through `pg`, in a schema of its own (dropped at exit), with the
// same pool size as Bulwark's default and the same response shape. What a tenant read costs on this
// machine before any security: Bulwark's PostgreSQL case is reported as a ratio to it.
import "./cpu.js";
import Fastify from "fastify";
import pg from "pg";

const url = process.env.BENCH_DATABASE_URL;
if (!url) throw new Error("fastify-pg.js needs BENCH_DATABASE_URL");
const schema = `bench_pg_${process.pid}`;
const orgId = "org_01BENCH00000000000000000000".slice(0, 30);
const productId = "prd_01BENCH00000000000000000000".slice(0, 30);

const setup = new pg.Client({ connectionString: url });
await setup.connect();
await setup.query(`CREATE SCHEMA "${schema}"`);
await setup.query(`CREATE TABLE "${schema}".products (
  id text PRIMARY KEY, org_id text NOT NULL, name text NOT NULL, sku text NOT NULL,
  price_cents bigint NOT NULL, stock integer NOT NULL, description_html text NOT NULL,
  created_at bigint NOT NULL, updated_at bigint NOT NULL, UNIQUE (org_id, sku))`);
const now = Date.now();
await setup.query(
  `INSERT INTO "${schema}".products VALUES ($1, $2, 'Teapot', 'TEA-1', 2500, 10, $3, $4, $4)`,
  [productId, orgId, "<p>Fine porcelain</p>", now],
);
await setup.end();

const pool = new pg.Pool({ connectionString: url, max: 10, options: `-c search_path=${schema}` });
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
    const { orgId: org, id } = request.params;
    const { rows } = await pool.query("SELECT * FROM products WHERE org_id = $1 AND id = $2", [org, id]);
    const p = rows[0];
    if (!p) return reply.code(404).send({ error: "not found" });
    return {
      product: {
        id: p.id,
        name: p.name,
        sku: p.sku,
        priceCents: Number(p.price_cents),
        stock: p.stock,
        descriptionHtml: p.description_html,
        createdAt: new Date(Number(p.created_at)).toISOString(),
        updatedAt: new Date(Number(p.updated_at)).toISOString(),
      },
    };
  },
);
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.send?.({
  port: Number(new URL(address).port),
  paths: { product: `/v1/orgs/${orgId}/products/${productId}` },
});

// On SIGTERM (the runner stops each case): close the pool, drop the schema, exit (a CPU profile is written).
process.once("SIGTERM", async () => {
  await app.close();
  await pool.end();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
  process.exit(0);
});
