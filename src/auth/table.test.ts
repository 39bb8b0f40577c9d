import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { type TestApp, testApp } from "../../test/harness.js";
import { routesMarkdown } from "./table.js";

const DOC = new URL("../../docs/routes.md", import.meta.url);

describe("route table", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [catalog] });
  });
  afterAll(() => t.close());

  it("AUTHZ-1: docs/routes.md shows every route's row as the pipeline enforces it", () => {
    const table = routesMarkdown(t.app.bulwark.routes);
    if (process.env.UPDATE_DOCS === "1") {
      const doc = readFileSync(DOC, "utf8");
      writeFileSync(DOC, doc.replace(/\| route \|[\s\S]*?(?=\n\n|$)/, table));
    }
    expect(readFileSync(DOC, "utf8")).toContain(table);
  });

  it("AUTHZ-1: a family row covers its own path and below, never a sibling route", async () => {
    const other = await testApp({}, (app) => {
      expect(() => app.get("/docs-internal", async () => ({}))).toThrow(/not in the route table/);
      expect(() => app.get("/assetsx", async () => ({}))).toThrow(/not in the route table/);
      // The console's wildcard screens are exact rows: an app's own route below /admin/ or /app/ is not theirs.
      expect(() => app.get("/admin/export.csv", async () => ({}))).toThrow(/not in the route table/);
      expect(() => app.get("/app/billing/:invoiceId", async () => ({}))).toThrow(/not in the route table/);
    });
    await other.close();
  });

  it("AUTHZ-1: a second, different row for a declared route is refused", () => {
    expect(() =>
      t.app.bulwark.routeTable.declare("GET /v1/me", { ...t.app.bulwark.routes[0]!.security, accepts: [] }),
    ).toThrow(/declared twice, differently/);
  });

  it("AUTHZ-1: every tenant route accepts the tenant kinds once ready, and the OpenAPI document states each row", async () => {
    const tenantRoute = t.app.bulwark.routes.find((r) => r.url === "/v1/orgs/:orgId/products/:id")!;
    // Header credentials first: a token or key presented on purpose wins over a cookie the browser sent.
    expect(tenantRoute.security.accepts).toEqual(["access_token", "api_key", "user"]);
    const doc = (await t.app.inject({ url: "/openapi.json" })).json();
    const op = doc.paths["/v1/orgs/{orgId}/products/{id}"].get;
    expect(op["x-bulwark-security"]).toMatchObject({ accepts: "tenant", action: "products:read" });
    expect(op.security).toEqual([{ accessToken: [] }, { apiKey: [] }, { portalSession: [] }]);
  });
});
