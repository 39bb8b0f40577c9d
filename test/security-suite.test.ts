import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../examples/catalog/index.js";
import { type Action, can, ROLES, type Role } from "../src/orgs/permissions.js";
import { OrgStore } from "../src/orgs/store.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "./harness.js";

/**
 * The shared route security suite: every tenant route in the app, discovered from the route table (not
 * listed by hand), must refuse a caller without credentials, a member of another organisation, an unknown
 * organisation, a role without the route's action, and another organisation's resource id in the path.
 */
const PW = "security suite passphrase";

describe(`shared route security suite (${ENGINE})`, async () => {
  let t: TestApp;
  const users: Record<string, { cookie: string; csrf: string }> = {};
  const ids: Record<string, string> = {};
  let orgA = "";
  let orgB = "";
  /** A resource of organisation B per path parameter, to plant in organisation A's URLs. */
  const foreign: Record<string, string> = {};

  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [catalog] });
    for (const who of ["ownerA", "admin", "member", "viewer", "ownerB"]) {
      ids[who] = await createUser(t, `${who.toLowerCase()}@example.org`, PW);
      users[who] = await login(t, `${who.toLowerCase()}@example.org`, PW);
    }
    orgA = (await call("ownerA", "POST", "/v1/orgs", { name: "Org A" })).json().org.id;
    orgB = (await call("ownerB", "POST", "/v1/orgs", { name: "Org B" })).json().org.id;
    const store = new OrgStore(t.db.global, t.db.engine);
    await store.addMember(orgA, ids.admin!, "ADMIN", Date.now());
    await store.addMember(orgA, ids.member!, "MEMBER", Date.now());
    await store.addMember(orgA, ids.viewer!, "VIEWER", Date.now());
    const product = await call("ownerB", "POST", `/v1/orgs/${orgB}/products`, {
      name: "B's secret",
      sku: "B-1",
      priceCents: 100,
      stock: 1,
    });
    foreign["products/:id"] = product.json().product.id;
    foreign["members/:userId"] = ids.ownerB!;
    const invitation = await call("ownerB", "POST", `/v1/orgs/${orgB}/invitations`, {
      email: "someone@example.org",
      role: "VIEWER",
    });
    foreign["invitations/:id"] = invitation.json().invitation.id;
    const order = await call("ownerB", "POST", `/v1/orgs/${orgB}/orders`, {
      lines: [{ productId: foreign["products/:id"], quantity: 1 }],
    });
    foreign["orders/:id"] = order.json().order.id;
  });
  afterAll(() => t.close());

  function call(who: string | null, method: string, url: string, payload?: object) {
    const u = who ? users[who]! : undefined;
    return t.app.inject({
      method: method as "GET",
      url,
      ...(payload ? { payload } : {}),
      headers: u ? { cookie: u.cookie, "x-csrf-token": u.csrf } : {},
    });
  }
  /** Fills a route pattern: the org given, and for each resource parameter organisation B's resource of that kind. */
  const fill = (url: string, org: string) =>
    url
      .replace(":orgId", org)
      .replace(
        /([a-z-]+)\/:(\w+)/g,
        (_whole: string, resource: string, param: string) =>
          `${resource}/${foreign[`${resource}/:${param}`] ?? "x"}`,
      );
  /** A valid body for the route's resource, so the request reaches the handler when it is allowed to. */
  const body = (method: string, url: string): object | undefined => {
    if (!["POST", "PUT", "PATCH"].includes(method)) return undefined;
    if (url.endsWith("/resend")) return {};
    if (url.includes("/orders"))
      return method === "PATCH"
        ? { status: "paid" }
        : { lines: [{ productId: foreign["products/:id"], quantity: 1 }] };
    if (url.includes("/invitations")) return { email: "probe@example.org", role: "VIEWER" };
    if (url.includes("/members")) return { role: "VIEWER" };
    if (url.includes("/products"))
      return method === "PATCH"
        ? { name: "probe" }
        : { name: "probe", sku: "PROBE-1", priceCents: 1, stock: 1 };
    return { name: "probe" };
  };

  it("discovers the tenant routes from the route table", () => {
    const routes = t.app.bulwark.routes.filter((r) => r.action);
    expect(routes.length).toBeGreaterThanOrEqual(10);
    expect(routes.map((r) => `${r.method} ${r.url}`)).toContain("GET /v1/orgs/:orgId/products/:id");
  });

  const routes = () => t.app.bulwark.routes.filter((r) => r.action && r.method !== "HEAD");

  it("AUTHZ-1: every tenant route refuses a caller without credentials (401)", async () => {
    for (const r of routes()) {
      const res = await call(null, r.method, fill(r.url, orgA), body(r.method, r.url));
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
    }
  });

  it("AUTHZ-2: every tenant route answers 404 to a member of another organisation, and for an unknown one", async () => {
    for (const r of routes()) {
      const foreignOrg = await call("ownerB", r.method, fill(r.url, orgA), body(r.method, r.url));
      expect(foreignOrg.statusCode, `foreign ${r.method} ${r.url}`).toBe(404);
      const unknown = await call(
        "ownerA",
        r.method,
        fill(r.url, "org_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
        body(r.method, r.url),
      );
      expect(unknown.statusCode, `unknown ${r.method} ${r.url}`).toBe(404);
    }
  });

  it("AUTHZ-1: every tenant route refuses each role that lacks its action (403)", async () => {
    const byRole: Record<Role, string> = {
      OWNER: "ownerA",
      ADMIN: "admin",
      MEMBER: "member",
      VIEWER: "viewer",
    };
    let checked = 0;
    for (const r of routes()) {
      for (const role of ROLES) {
        if (can(role, r.action as Action)) continue;
        const res = await call(byRole[role], r.method, fill(r.url, orgA), body(r.method, r.url));
        expect(res.statusCode, `${role} ${r.method} ${r.url}`).toBe(403);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it("AUTHZ-2: another organisation's resource id in the path is not found, even for an owner", async () => {
    let checked = 0;
    for (const r of routes()) {
      if (!/:(id|userId)\b/.test(r.url)) continue;
      const res = await call("ownerA", r.method, fill(r.url, orgA), body(r.method, r.url));
      expect(res.statusCode, `${r.method} ${r.url}`).toBe(404);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    // And organisation B's product is untouched.
    const still = await call("ownerB", "GET", `/v1/orgs/${orgB}/products/${foreign["products/:id"]}`);
    expect(still.json().product.name).toBe("B's secret");
  });
});
