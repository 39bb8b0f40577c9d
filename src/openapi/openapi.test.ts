import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";

describe("OpenAPI", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it("/openapi.json is OpenAPI 3.1 generated from the route schemas", async () => {
    const res = await t.app.inject({ url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toBe("3.1.0");
    for (const path of [
      "/health",
      "/health/live",
      "/metrics",
      "/security",
      "/security.json",
      "/.well-known/security.txt",
    ]) {
      expect(doc.paths[path], path).toBeDefined();
    }
    // The response schema the route validates with is the one published.
    expect(
      doc.paths["/health/live"].get.responses["200"].content["application/json"].schema.properties.status,
    ).toBeDefined();
  });

  it("HDR-3: /docs serves the reference UI with its own CSP, still framing-proof", async () => {
    const res = await t.app.inject({ url: "/docs/" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/html");
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers["x-frame-options"]).toBe("DENY");
  });
});

describe("the API reference tells the truth", () => {
  const docOf = async (env: Record<string, string>) => {
    const t = await testApp(env, undefined, { extensions: [catalog] });
    try {
      const res = await t.app.inject({
        url: "/openapi.json",
        headers: env.NODE_ENV === "production" ? { "x-forwarded-proto": "https" } : {},
      });
      return res.json();
    } finally {
      await t.close();
    }
  };
  const operations = (doc: { paths: Record<string, Record<string, Record<string, unknown>>> }) =>
    Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
    );

  it("POST-1: every operation, core and extension, has a summary, a description and its error responses with the envelope", async () => {
    const doc = await docOf({});
    const missing: string[] = [];
    for (const { key, op } of operations(doc)) {
      if (!op.summary || !op.description) missing.push(`${key}: summary/description`);
      const responses = op.responses as Record<
        string,
        { content?: Record<string, { schema: { properties?: object } }> }
      >;
      if (!Object.keys(responses).some((s) => s.startsWith("2"))) missing.push(`${key}: no success status`);
      for (const [status, r] of Object.entries(responses))
        if (
          status >= "400" &&
          !(status === "503" && key === "GET /health") &&
          !r.content?.["application/json"]?.schema.properties
        )
          missing.push(`${key} ${status}: no envelope`);
    }
    expect(missing).toEqual([]);
    // An extension's own codes are declared with their statuses.
    expect(JSON.stringify(doc.paths["/v1/orgs/{orgId}/products"].post.responses["409"])).toContain(
      "SKU_TAKEN",
    );
  });

  it("POST-1: the security schemes name the running profile's cookies, declare the CSRF header, and offer nothing unused", async () => {
    const dev = await docOf({});
    const prod = await docOf({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" });
    expect(dev.components.securitySchemes.portalSession.name).toBe("bulwark_session");
    expect(prod.components.securitySchemes.portalSession.name).toBe("__Host-bulwark_session");
    expect(prod.components.securitySchemes.adminSession.name).toBe("__Host-bulwark_admin");
    expect(dev.components.securitySchemes.csrfToken).toMatchObject({
      type: "apiKey",
      in: "header",
      name: "X-CSRF-Token",
    });
    const used = new Set(
      operations(dev).flatMap(({ op }) => ((op.security ?? []) as object[]).flatMap((s) => Object.keys(s))),
    );
    expect(Object.keys(dev.components.securitySchemes).sort()).toEqual([...used].sort());
    // An authenticated write needs the session and the CSRF token.
    expect(dev.paths["/v1/orgs"].post.security).toEqual([{ portalSession: [], csrfToken: [] }]);
    expect(dev.paths["/v1/orgs"].get.security).toEqual([{ portalSession: [] }]);
  });

  it("POST-1: documented success statuses are the real ones (ending an impersonation answers 204)", async () => {
    const doc = await docOf({});
    const ending = doc.paths["/v1/admin/impersonations/current"].delete.responses;
    expect(ending["204"]).toBeDefined();
    expect(ending["200"]).toBeUndefined();
    expect(doc.paths["/v1/auth/logout"].post.responses["204"]).toBeDefined();
  });
});
