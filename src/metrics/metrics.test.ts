import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";

const TOKEN = "mEtr1cs-t0ken-Zx8vQ2pL5nR7wK";

describe("metrics", () => {
  let dev: TestApp;
  let prod: TestApp;
  beforeAll(async () => {
    dev = await testApp();
    prod = await testApp({ ...PRODUCTION_ENV, METRICS_TOKEN: TOKEN, TRUSTED_PROXIES: "10.0.0.0/8" });
  });
  afterAll(async () => {
    await dev.close();
    await prod.close();
  });

  it("OBS-5: requests are counted by method, route and status, with a latency histogram", async () => {
    await dev.app.inject({ url: "/health/live" });
    await dev.app.inject({ url: "/health/live" });
    await dev.app.inject({ url: "/nope" });
    const res = await dev.app.inject({ url: "/metrics" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/plain");
    expect(res.body).toContain('http_requests_total{method="GET",route="/health/live",status="200"} 2');
    expect(res.body).toContain('http_requests_total{method="GET",route="unmatched",status="404"} 1');
    expect(res.body).toMatch(
      /http_request_duration_seconds_bucket\{method="GET",route="\/health\/live",le="\+Inf"\} 2/,
    );
    expect(res.body).toContain('http_request_duration_seconds_count{method="GET",route="/health/live"} 2');
  });

  it("OBS-5: failed sign-ins, rate-limited requests and CSRF refusals are counted by code", async () => {
    const t = await testApp({ LOGIN_MAX_ATTEMPTS: "2" });
    try {
      for (let i = 0; i < 3; i++)
        await t.app.inject({
          method: "POST",
          url: "/v1/auth/login",
          remoteAddress: "192.0.2.50",
          payload: { email: "nobody@example.org", password: `wrong guess number ${i}` },
        });
      await createUser(t, "counted@example.org", "metrics counted passphrase 5");
      const s = await login(t, "counted@example.org", "metrics counted passphrase 5");
      await t.app.inject({ method: "POST", url: "/v1/auth/logout", headers: { cookie: s.cookie } });
      const body = (await t.app.inject({ url: "/metrics" })).body;
      expect(body).toContain('http_errors_total{route="/v1/auth/login",code="INVALID_CREDENTIALS"} 2');
      expect(body).toContain('http_errors_total{route="/v1/auth/login",code="RATE_LIMITED"} 1');
      expect(body).toContain('http_errors_total{route="/v1/auth/logout",code="CSRF_FAILED"} 1');
    } finally {
      await t.close();
    }
  });

  it("OBS-5: production serves metrics only to a direct loopback caller, or with the bearer token over HTTPS", async () => {
    const outside = await prod.app.inject({ url: "/metrics", remoteAddress: "203.0.113.5" });
    expect(outside.statusCode).toBe(403);
    expect(outside.json().error.code).toBe("METRICS_FORBIDDEN");
    const wrong = await prod.app.inject({
      url: "/metrics",
      remoteAddress: "10.0.0.7",
      headers: { authorization: "Bearer nope", "x-forwarded-proto": "https" },
    });
    expect(wrong.json().error.code).toBe("METRICS_FORBIDDEN");
    // The token over HTTPS (a trusted proxy terminated TLS): served.
    const withToken = await prod.app.inject({
      url: "/metrics",
      remoteAddress: "10.0.0.7",
      headers: { authorization: `Bearer ${TOKEN}`, "x-forwarded-proto": "https" },
    });
    expect(withToken.statusCode).toBe(200);
    const loopback = await prod.app.inject({ url: "/metrics", remoteAddress: "127.0.0.1" });
    expect(loopback.statusCode).toBe(200);
  });

  it("HDR-1/OBS-5: the metrics token is refused over plain HTTP from outside (it has crossed the network in clear)", async () => {
    for (const remoteAddress of ["203.0.113.5", "10.0.0.7"]) {
      const res = await prod.app.inject({
        url: "/metrics",
        remoteAddress,
        headers: { authorization: `Bearer ${TOKEN}` },
      });
      expect(res.json().error.code, remoteAddress).toBe("METRICS_FORBIDDEN");
    }
  });

  it("OBS-5: any forwarding header means the caller is not a direct loopback caller", async () => {
    for (const [name, value] of [
      ["x-forwarded-for", "203.0.113.5"],
      ["x-real-ip", "203.0.113.5"],
      ["forwarded", "for=203.0.113.5"],
      ["x-forwarded-host", "evil.example"],
      ["true-client-ip", "203.0.113.5"],
    ] as const) {
      const res = await prod.app.inject({
        url: "/metrics",
        remoteAddress: "127.0.0.1",
        headers: { [name]: value },
      });
      expect(res.json().error.code, name).toBe("METRICS_FORBIDDEN");
    }
  });
});
