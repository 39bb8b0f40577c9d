import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { asUser, createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { needs } from "../../test/services.js";
import { catalog } from "./index.js";

const PW = "catalog passphrase 12";

describe(`catalog example on the extension API (${ENGINE})`, () => {
  let t: TestApp;
  let a: { cookie: string; csrf: string };
  let b: { cookie: string; csrf: string };
  let orgA = "";
  let orgB = "";
  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [catalog] });
    await createUser(t, "shop-a@example.org", PW);
    await createUser(t, "shop-b@example.org", PW);
    a = await login(t, "shop-a@example.org", PW);
    b = await login(t, "shop-b@example.org", PW);
    orgA = (await call(a, "POST", "/v1/orgs", { name: "Shop A" })).json().org.id;
    orgB = (await call(b, "POST", "/v1/orgs", { name: "Shop B" })).json().org.id;
  });
  afterAll(() => t.close());

  const call = (who: { cookie: string; csrf: string }, method: string, url: string, payload?: object) =>
    asUser(t, who, method, url, payload);

  it("INPUT-4: a product's rich-text description is sanitised on write, allowed markup kept", async () => {
    const res = await call(a, "POST", `/v1/orgs/${orgA}/products`, {
      name: "Teapot",
      sku: "TEA-1",
      priceCents: 2500,
      stock: 10,
      descriptionHtml:
        '<p onclick="steal()">Fine <strong>porcelain</strong><script>alert(1)</script><img src=x onerror=alert(1)><a href="javascript:alert(1)">x</a></p>',
    });
    expect(res.statusCode).toBe(201);
    const html = res.json().product.descriptionHtml as string;
    expect(html).toBe(
      '<p>Fine <strong>porcelain</strong><img /><a rel="noopener noreferrer nofollow">x</a></p>',
    );
    const stored = await call(a, "GET", `/v1/orgs/${orgA}/products/${res.json().product.id}`);
    expect(stored.json().product.descriptionHtml).toBe(html);
    const patched = await call(a, "PATCH", `/v1/orgs/${orgA}/products/${res.json().product.id}`, {
      descriptionHtml: "<iframe src=//evil></iframe><em>ok</em>",
    });
    expect(patched.json().product.descriptionHtml).toBe("<em>ok</em>");
  });

  it("AUTHZ-2: the same SKU in two organisations is fine; twice in one is a conflict", async () => {
    expect(
      (
        await call(b, "POST", `/v1/orgs/${orgB}/products`, {
          name: "Other teapot",
          sku: "TEA-1",
          priceCents: 1,
          stock: 1,
        })
      ).statusCode,
    ).toBe(201);
    const dup = await call(a, "POST", `/v1/orgs/${orgA}/products`, {
      name: "Teapot again",
      sku: "TEA-1",
      priceCents: 1,
      stock: 1,
    });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().error.code).toBe("SKU_TAKEN");
  });

  it("AUTHZ-2: each organisation lists only its own products", async () => {
    const listA = (await call(a, "GET", `/v1/orgs/${orgA}/products`))
      .json()
      .products.map((p: { name: string }) => p.name);
    const listB = (await call(b, "GET", `/v1/orgs/${orgB}/products`))
      .json()
      .products.map((p: { name: string }) => p.name);
    expect(listA).toEqual(["Teapot"]);
    expect(listB).toEqual(["Other teapot"]);
  });

  it("AUTHZ-2: an order prices this organisation's products, refuses another's, and follows its status machine", async () => {
    const teapot = (await call(a, "GET", `/v1/orgs/${orgA}/products`)).json().products[0];
    const otherOrgs = (await call(b, "GET", `/v1/orgs/${orgB}/products`)).json().products[0];
    const foreign = await call(a, "POST", `/v1/orgs/${orgA}/orders`, {
      lines: [{ productId: otherOrgs.id, quantity: 1 }],
    });
    expect(foreign.statusCode).toBe(422);
    const created = await call(a, "POST", `/v1/orgs/${orgA}/orders`, {
      lines: [{ productId: teapot.id, quantity: 3 }],
    });
    expect(created.statusCode).toBe(201);
    const order = created.json().order;
    expect(order).toMatchObject({ status: "pending", totalCents: 3 * teapot.priceCents });
    const to = (status: string) => call(a, "PATCH", `/v1/orgs/${orgA}/orders/${order.id}`, { status });
    expect((await to("shipped")).statusCode).toBe(409);
    for (const status of ["paid", "shipped", "delivered", "refunded"])
      expect((await to(status)).json().order.status).toBe(status);
    expect((await to("paid")).json().error.code).toBe("ORDER_TRANSITION_INVALID");
  });

  it.runIf(needs("postgres"))(
    "AUTHZ-2: raw SQL as the server's role inside org A's transaction cannot read or write org B's products",
    async () => {
      const rows = await t.db.withOrg(orgA, (tx) =>
        sql<{ name: string; org_id: string }>`SELECT name, org_id FROM products`.execute(tx),
      );
      expect(rows.rows.map((r) => r.org_id)).toEqual([orgA]);
      const touched = await t.db.withOrg(orgA, (tx) =>
        sql`UPDATE products SET name = 'pwned' WHERE org_id = ${orgB}`.execute(tx),
      );
      expect(Number(touched.numAffectedRows ?? 0)).toBe(0);
      const planted = await t.db
        .withOrg(orgA, (tx) =>
          sql`INSERT INTO products (id, org_id, name, sku, price_cents, stock, description_html, created_at, updated_at) VALUES ('prd_planted', ${orgB}, 'x', 'X-1', 1, 1, '', 0, 0)`.execute(
            tx,
          ),
        )
        .catch((e: { code?: string }) => e);
      expect((planted as { code?: string }).code).toBe("42501");
      const listB = (await call(b, "GET", `/v1/orgs/${orgB}/products`))
        .json()
        .products.map((p: { name: string }) => p.name);
      expect(listB).toEqual(["Other teapot"]);
    },
  );
});
