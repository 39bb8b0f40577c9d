import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";

const EXPECTED = {
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "strict-origin-when-cross-origin",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

function expectSecurityHeaders(headers: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(EXPECTED)) expect(headers[k], k).toBe(v);
  expect(String(headers["content-security-policy"])).toMatch(/default-src 'none'|default-src 'self'/);
  expect(String(headers["content-security-policy"])).toContain("frame-ancestors 'none'");
  expect(headers["permissions-policy"]).toBe(
    "camera=(), microphone=(), geolocation=(), interest-cohort=(), browsing-topics=()",
  );
  expect(headers["x-powered-by"]).toBeUndefined();
  expect(typeof headers["x-request-id"]).toBe("string");
}

describe("security headers", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({}, (app) => {
      app.get("/test/boom", async () => {
        throw new Error("kaboom: internal detail");
      });
    });
  });
  afterAll(() => t.close());

  it("HDR-3: a 200 carries every security header", async () => {
    const res = await t.app.inject({ url: "/health/live" });
    expect(res.statusCode).toBe(200);
    expectSecurityHeaders(res.headers);
  });

  it("HDR-3: a 404 carries every security header", async () => {
    const res = await t.app.inject({ url: "/no/such/path" });
    expect(res.statusCode).toBe(404);
    expectSecurityHeaders(res.headers);
  });

  it("HDR-3: a 500 carries every security header", async () => {
    const res = await t.app.inject({ url: "/test/boom" });
    expect(res.statusCode).toBe(500);
    expectSecurityHeaders(res.headers);
  });

  it("HDR-3: static files (the docs UI's scripts) carry the security headers", async () => {
    const res = await t.app.inject({ url: "/docs/static/swagger-ui.css" });
    expect(res.statusCode).toBe(200);
    expectSecurityHeaders(res.headers);
    const js = await t.app.inject({ url: "/docs/static/swagger-ui-bundle.js" });
    expect(js.statusCode).toBe(200);
    expectSecurityHeaders(js.headers);
  });

  it("HDR-3/OBS-1: router-level errors (a malformed URL, an over-long parameter) get the headers and the envelope", async () => {
    const bad = await t.app.inject({ url: "/v1/orgs/%E0%A4%A" });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("BAD_REQUEST");
    expectSecurityHeaders(bad.headers);
    const long = await t.app.inject({ url: `/v1/orgs/${"x".repeat(300)}` });
    expect(long.statusCode).toBe(414);
    expect(long.json().error).toMatchObject({
      code: "URI_TOO_LONG",
      requestId: long.headers["x-request-id"],
    });
    expect(long.body).not.toContain("xxxxxxxxxx");
    expectSecurityHeaders(long.headers);
  });

  it("HDR-2: no HSTS in development (HSTS=false by default there)", async () => {
    const res = await t.app.inject({ url: "/health/live" });
    expect(res.headers["strict-transport-security"]).toBeUndefined();
  });
});

describe("production headers", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" });
  });
  afterAll(() => t.close());

  it("HDR-2: production sends HSTS with two years, subdomains and preload", async () => {
    const res = await t.app.inject({ url: "/health/live", headers: { "x-forwarded-proto": "https" } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["strict-transport-security"]).toBe("max-age=63072000; includeSubDomains; preload");
  });

  it("HDR-2/HDR-3: an error response in production carries HSTS and the headers too", async () => {
    const res = await t.app.inject({ url: "/missing", headers: { "x-forwarded-proto": "https" } });
    expect(res.statusCode).toBe(404);
    expect(res.headers["strict-transport-security"]).toContain("max-age=63072000");
    expectSecurityHeaders(res.headers);
  });
});

describe("cross-origin isolation toggles", () => {
  it("HDR-3: COOP, COEP and CORP follow their settings, and the claim names exactly what is sent", async () => {
    const t = await testApp({
      CROSS_ORIGIN_OPENER_POLICY: "same-origin-allow-popups",
      CROSS_ORIGIN_EMBEDDER_POLICY: "require-corp",
      CROSS_ORIGIN_RESOURCE_POLICY: "off",
    });
    try {
      const res = await t.app.inject({ url: "/health/live" });
      expect(res.headers["cross-origin-opener-policy"]).toBe("same-origin-allow-popups");
      expect(res.headers["cross-origin-embedder-policy"]).toBe("require-corp");
      expect(res.headers["cross-origin-resource-policy"]).toBeUndefined();
      const claim = (await t.app.inject({ url: "/security.json" }))
        .json()
        .controls.find((c: { id: string }) => c.id === "HDR-3").claim;
      expect(claim).toContain(
        "Cross-origin isolation: Cross-Origin-Opener-Policy same-origin-allow-popups, Cross-Origin-Embedder-Policy require-corp.",
      );
    } finally {
      await t.close();
    }
  });
});
