import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { loadSbom } from "./sbom.js";

const https = { "x-forwarded-proto": "https" };

describe("security page", () => {
  let on: TestApp;
  let off: TestApp;
  beforeAll(async () => {
    on = await testApp({
      ...PRODUCTION_ENV,
      TRUSTED_PROXIES: "127.0.0.1",
      HSTS_MAX_AGE: "31536000",
      BODY_LIMIT_BYTES: "65536",
    });
    off = await testApp({
      NODE_ENV: "development",
      BULWARK_SECRET: "dev-only-secret-0123456789abcdefghij",
      HSTS: "false",
      HTTPS_POLICY: "off",
      SECURITY_CONTACT: "",
    });
  });
  afterAll(async () => {
    await on.close();
    await off.close();
  });

  const ids = async (t: TestApp): Promise<string[]> => {
    const res = await t.app.inject({ url: "/security.json", headers: { ...https, host: "localhost" } });
    expect(res.statusCode).toBe(200);
    return res.json().controls.map((c: { id: string }) => c.id);
  };

  it("POST-1: /security.json lists exactly the controls that are on, with their configured values", async () => {
    const res = await on.app.inject({ url: "/security.json", headers: https });
    const controls = res.json().controls as Array<{
      id: string;
      claim: string;
      settings: Record<string, unknown>;
    }>;
    const byId = Object.fromEntries(controls.map((c) => [c.id, c]));
    expect(Object.keys(byId).sort()).toEqual(
      [
        "AUDIT-1",
        "AUDIT-2",
        "AUDIT-3",
        "AUDIT-4",
        "AUDIT-5",
        "AUDIT-6",
        "AUTH-1",
        "AUTH-2",
        "AUTH-3",
        "AUTH-4",
        "AUTH-5",
        "AUTH-6",
        "AUTH-7",
        "AUTH-8",
        "AUTH-9",
        "AUTH-10",
        "AUTH-12",
        "AUTH-13",
        "AUTH-14",
        "AUTHZ-1",
        "AUTHZ-2",
        "AUTHZ-3",
        "AUTHZ-4",
        "AUTHZ-5",
        "AUTHZ-6",
        "CORS-1",
        // Tenant routes answer API keys for any origin, without credentials.
        "CORS-2",
        "DATA-1",
        "DATA-3",
        "DATA-4",
        "GDPR-1",
        "GDPR-2",
        "GDPR-3",
        "GDPR-4",
        "HDR-1",
        "HDR-2",
        "HDR-3",
        "HOOK-1",
        "HOOK-2",
        "HOOK-3",
        "HOOK-4",
        "HOOK-5",
        "HOOK-6",
        "HOOK-7",
        "HOOK-8",
        "IDEM-1",
        "INPUT-1",
        "INPUT-2",
        "INPUT-3",
        "INPUT-5",
        "KEY-1",
        "KEY-3",
        "KEY-4",
        "KEY-6",
        "OBS-1",
        "OBS-4",
        "OBS-5",
        // OPS-1 (waiting for and reconnecting to the database) is PostgreSQL's claim.
        ...(ENGINE === "postgres" ? ["OPS-1"] : []),
        "OPS-2",
        "OPS-3",
        "POST-1",
        "POST-2",
        "POST-3",
        "POST-4",
        "RATE-1",
        "RATE-2",
        "RATE-3",
        "RATE-4",
        "RATE-5",
        // The build writes the SBOM (npm ci runs it); a checkout never built has none, and no claim.
        ...(loadSbom() ? ["SUPPLY-1"] : []),
      ].sort(),
    );
    expect(byId["HDR-2"]?.settings["strict-transport-security"]).toBe(
      "max-age=31536000; includeSubDomains; preload",
    );
    expect(byId["HDR-2"]?.claim).toContain("365 days");
    expect(byId["INPUT-5"]?.settings.bodyLimitBytes).toBe(65536);
    expect(byId["HDR-1"]?.settings.policy).toBe("reject");
    // No built-in TLS configured: not claimed.
    expect(byId["HDR-4"]).toBeUndefined();
  });

  it("POST-1: turning a control off in configuration removes its claim", async () => {
    const list = await ids(off);
    expect(list).not.toContain("HDR-1");
    expect(list).not.toContain("HDR-2");
    expect(list).not.toContain("POST-2");
    expect(list).not.toContain("DATA-4");
    expect(list).toContain("HDR-3");
  });

  it("POST-1: /security is an HTML page with no script, whose only inline style is allowed by its own CSP hash", async () => {
    const res = await on.app.inject({ url: "/security", headers: https });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toContain("text/html");
    expect(res.body).not.toMatch(/<script/i);
    expect(res.body).toContain("HDR-2");
    const style = /<style>([\s\S]*?)<\/style>/.exec(res.body)?.[1] ?? "";
    const hash = createHash("sha256").update(style).digest("base64");
    const csp = String(res.headers["content-security-policy"]);
    expect(csp).toContain(`style-src 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
  });

  it("POST-2: security.txt follows RFC 9116 from configuration", async () => {
    const res = await on.app.inject({ url: "/.well-known/security.txt", headers: https });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(res.body).toContain("Contact: mailto:security@example.org\n");
    expect(res.body).toContain("Canonical: https://app.example.org/.well-known/security.txt\n");
    expect(res.body).toContain("Preferred-Languages: en\n");
    const expires = new Date(/Expires: (.+)\n/.exec(res.body)?.[1] ?? "");
    const days = (expires.getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(179);
    expect(days).toBeLessThan(181);
  });
});
