import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { PUBLIC } from "../auth/requirements.js";

const ALLOWED = "https://console.example.org";
const https = { "x-forwarded-proto": "https" };

describe("CORS", () => {
  let t: TestApp;
  let closed: TestApp;
  beforeAll(async () => {
    const routes = (app: import("fastify").FastifyInstance) => {
      app.get("/test/public", { config: { security: { ...PUBLIC, cors: "public" } } }, async () => ({
        ok: true,
      }));
      app.post("/test/session", { schema: { body: { type: "object", properties: {} } } }, async () => ({
        ok: true,
      }));
    };
    t = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1", CORS_ORIGINS: ALLOWED }, routes);
    closed = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1", CORS_ORIGINS: "" }, routes);
  });
  afterAll(async () => {
    await t.close();
    await closed.close();
  });

  it("CORS-1: the listed origin is allowed, with credentials, and never with a wildcard", async () => {
    const res = await t.app.inject({ url: "/security.json", headers: { ...https, origin: ALLOWED } });
    expect(res.statusCode).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(res.headers["access-control-allow-credentials"]).toBe("true");
    expect(res.headers.vary).toContain("Origin");
  });

  it("CORS-1: an origin that is not listed is refused with 403 and no CORS headers", async () => {
    const res = await t.app.inject({
      url: "/security.json",
      headers: { ...https, origin: "https://evil.example" },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe("CORS_ORIGIN_DENIED");
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
  });

  it("CORS-1: preflight for the listed origin succeeds; for another origin it is refused", async () => {
    const ok = await t.app.inject({
      method: "OPTIONS",
      url: "/test/session",
      headers: { ...https, origin: ALLOWED, "access-control-request-method": "POST" },
    });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers["access-control-allow-origin"]).toBe(ALLOWED);
    expect(ok.headers["access-control-allow-credentials"]).toBe("true");
    expect(String(ok.headers["access-control-allow-methods"])).toContain("POST");
    const bad = await t.app.inject({
      method: "OPTIONS",
      url: "/test/session",
      headers: { ...https, origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    expect(bad.statusCode).toBe(403);
    expect(bad.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("CORS-1: with no allowlist in production, every cross-origin request is refused (fail closed) and start-up warns", async () => {
    expect(closed.config.warnings.join(" ")).toMatch(/CORS_ORIGINS is empty/);
    for (const origin of [ALLOWED, "http://localhost:3000", "null"]) {
      const res = await closed.app.inject({ url: "/security.json", headers: { ...https, origin } });
      expect(res.statusCode, origin).toBe(403);
      const pre = await closed.app.inject({
        method: "OPTIONS",
        url: "/test/session",
        headers: { ...https, origin, "access-control-request-method": "POST" },
      });
      expect(pre.statusCode, origin).toBe(403);
    }
    const sameOrigin = await closed.app.inject({
      url: "/security.json",
      headers: { ...https, origin: "https://app.example.org" },
    });
    expect(sameOrigin.statusCode).toBe(200);
  });

  it("CORS-2: a public (API-key) route answers any origin, without credentials", async () => {
    const res = await closed.app.inject({
      url: "/test/public",
      headers: { ...https, origin: "https://anyone.example" },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers["access-control-allow-origin"]).toBe("*");
    expect(res.headers["access-control-allow-credentials"]).toBeUndefined();
    const pre = await closed.app.inject({
      method: "OPTIONS",
      url: "/test/public",
      headers: { ...https, origin: "https://anyone.example", "access-control-request-method": "GET" },
    });
    expect(pre.statusCode).toBe(204);
    expect(pre.headers["access-control-allow-origin"]).toBe("*");
    // The preflight carries the actual request's query string (a page, a signed link): answered alike.
    const withQuery = await closed.app.inject({
      method: "OPTIONS",
      url: `/test/public?limit=5&after=prd_01&signature=abc&a=1&a=2&b[]=x&long=${"x".repeat(5000)}`,
      headers: { ...https, origin: "https://anyone.example", "access-control-request-method": "GET" },
    });
    expect(withQuery.statusCode, withQuery.body).toBe(204);
    expect(withQuery.headers["access-control-allow-origin"]).toBe("*");
    expect(pre.headers["access-control-allow-credentials"]).toBeUndefined();
  });
});
