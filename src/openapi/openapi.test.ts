import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testApp } from "../../test/harness.js";

describe("OpenAPI", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it("INPUT-1: /openapi.json is OpenAPI 3.1 generated from the route schemas", async () => {
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
