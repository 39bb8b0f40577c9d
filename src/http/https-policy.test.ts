import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";

describe("HTTPS policy", () => {
  let prod: TestApp;
  let prodProxied: TestApp;
  let dev: TestApp;
  beforeAll(async () => {
    prod = await testApp({ ...PRODUCTION_ENV });
    prodProxied = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "10.0.0.0/8" });
    dev = await testApp({
      NODE_ENV: "development",
      BULWARK_SECRET: "dev-secret-for-tests-0123456789abcdef",
      PUBLIC_URL: "http://app.example.org",
    });
  });
  afterAll(async () => {
    await prod.close();
    await prodProxied.close();
    await dev.close();
  });

  it("HDR-1: production refuses plain HTTP with 400 and a clear error envelope", async () => {
    const res = await prod.app.inject({ url: "/security.json", headers: { host: "app.example.org" } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("HTTPS_REQUIRED");
    expect(res.json().error.message).toMatch(/HTTPS/);
  });

  it("HDR-1: development redirects plain HTTP to HTTPS with 308", async () => {
    const res = await dev.app.inject({ url: "/security.json?x=1", headers: { host: "app.example.org" } });
    expect(res.statusCode).toBe(308);
    expect(res.headers.location).toBe("https://app.example.org/security.json?x=1");
  });

  it("HDR-1: development serves loopback hosts over plain HTTP (zero set-up)", async () => {
    const res = await dev.app.inject({ url: "/security.json", headers: { host: "localhost:3000" } });
    expect(res.statusCode).toBe(200);
  });

  it("HDR-1: a spoofed X-Forwarded-Proto from an untrusted address is ignored", async () => {
    // The caller (127.0.0.1 under inject) is not a trusted proxy here, so its header counts for nothing.
    const res = await prod.app.inject({ url: "/security.json", headers: { "x-forwarded-proto": "https" } });
    expect(res.statusCode).toBe(400);
    const fromOutside = await prodProxied.app.inject({
      url: "/security.json",
      remoteAddress: "203.0.113.9",
      headers: { "x-forwarded-proto": "https" },
    });
    expect(fromOutside.statusCode).toBe(400);
  });

  it("HDR-1: X-Forwarded-Proto from a configured trusted proxy is honoured", async () => {
    const res = await prodProxied.app.inject({
      url: "/security.json",
      remoteAddress: "10.1.2.3",
      headers: { "x-forwarded-proto": "https" },
    });
    expect(res.statusCode).toBe(200);
  });

  it("HDR-1: health probes are answered over plain HTTP (they come from the orchestrator, not a browser)", async () => {
    const res = await prod.app.inject({ url: "/health/live" });
    expect(res.statusCode).toBe(200);
  });

  it("HDR-1: a development redirect goes to the public host, never to the request's Host", async () => {
    for (const host of ["evil.example", "evil.example/<x>", "app.example.org.evil.example"]) {
      const res = await dev.app.inject({ url: "/security.json", headers: { host } });
      expect(res.statusCode, host).toBe(308);
      expect(res.headers.location, host).toBe("https://app.example.org/security.json");
    }
  });

  it("HDR-1: production answers only the probes over plain HTTP; every other route refuses it", async () => {
    for (const url of ["/health/live", "/health"])
      expect((await prod.app.inject({ url })).statusCode, url).toBe(200);
    for (const url of ["/security.json", "/openapi.json", "/v1/me", "/.well-known/security.txt"]) {
      const res = await prod.app.inject({ url, remoteAddress: "203.0.113.5" });
      expect(res.json().error.code, url).toBe("HTTPS_REQUIRED");
    }
  });

  it("HDR-1: development answers the probes and /metrics over plain HTTP at any host, without a redirect", async () => {
    for (const url of ["/health/live", "/health", "/metrics"]) {
      const res = await dev.app.inject({ url, headers: { host: "app.example.org" } });
      expect(res.statusCode, url).toBe(200);
    }
  });
});
