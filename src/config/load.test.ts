import { readFileSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PRODUCTION_ENV } from "../../test/harness.js";
import { ConfigError, loadConfig } from "./load.js";
import { configSummary } from "./summary.js";
import { VARIABLES } from "./variables.js";

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
}

describe("configuration", () => {
  it("OPS-4: cluster mode refuses to start without Redis and without one shared secret", () => {
    const cluster = {
      NODE_ENV: "development",
      BULWARK_DATA_DIR: "/tmp/bulwark-cluster",
      BULWARK_CLUSTER: "true",
    };
    expect(problems(cluster).join("\n")).toMatch(/BULWARK_CLUSTER: .*REDIS_URL/);
    expect(problems(cluster).join("\n")).toMatch(/BULWARK_CLUSTER: .*BULWARK_SECRET/);
    expect(
      problems({
        ...cluster,
        REDIS_URL: "redis://127.0.0.1:6379",
        BULWARK_SECRET: "q7Vd2mX9pL4rT8wZ1cF6hJ3nB5kS0yGe",
      }),
    ).toEqual([]);
  });

  it("RATE-3, RATE-6: tiers and quotas are read from configuration, and a malformed entry is named", () => {
    const dev = { NODE_ENV: "development", BULWARK_DATA_DIR: "/tmp/bulwark-cluster" };
    expect(
      problems({ ...dev, RATE_LIMIT_TIERS: "general=100/15m,sensitive=3/1h,admin=30/1m,export=five" }),
    ).toEqual([
      'RATE_LIMIT_TIERS: "export=five" must be tier=count/window, e.g. sensitive=3/1h (tiers: general, sensitive, admin, export)',
      "RATE_LIMIT_TIERS: no limit for the export tier",
    ]);
    expect(problems({ ...dev, QUOTAS: "tokens=1000:warn,Bad=1" })).toEqual([
      'QUOTAS: "Bad=1" must be unit=allowance or unit=allowance:warn (unit: lower case, digits, _)',
    ]);
  });

  it("DATA-3: types a browser would run cannot be allowed for uploads, in production as in development", () => {
    for (const env of [{ NODE_ENV: "development", BULWARK_DATA_DIR: "/tmp/bulwark-uploads" }, PRODUCTION_ENV])
      for (const type of [
        "text/html",
        "image/svg+xml",
        "application/javascript",
        "application/x-javascript",
        "text/jscript",
        "application/x-ecmascript",
        "text/javascript1.5",
        "application/xhtml+xml",
        "application/atom+xml",
        "application/mathml+xml",
        "text/xsl",
        "application/xslt+xml",
        "multipart/x-mixed-replace",
        "text/css",
        "text/xml",
        "application/unknown",
        "unknown/unknown",
      ])
        expect(problems({ ...env, UPLOAD_CONTENT_TYPES: `image/png,${type}` })).toEqual([
          `UPLOAD_CONTENT_TYPES: "${type}" is a type a browser runs or renders as a page; it cannot be allowed`,
        ]);
    expect(
      problems({
        ...PRODUCTION_ENV,
        UPLOAD_CONTENT_TYPES:
          "image/png,text/plain,text/csv,text/vtt,text/calendar,application/postscript,model/gltf-binary,application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      }),
    ).toEqual([]);
    expect(problems({ ...PRODUCTION_ENV, S3_ENDPOINT: "http://minio.internal:9000" })).toEqual([
      "S3_ENDPOINT: must be https in production (links and credentials cross it)",
    ]);
    expect(problems({ ...PRODUCTION_ENV, S3_ACCESS_KEY_ID: "AKIA1" })).toEqual([
      "S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both, or neither (the AWS SDK's default chain)",
    ]);
  });

  it("DATA-4: production refuses to start without BULWARK_SECRET, naming the variable", () => {
    const { BULWARK_SECRET: _, ...env } = PRODUCTION_ENV;
    expect(problems(env)).toEqual([expect.stringMatching(/^BULWARK_SECRET: required in production/)]);
  });

  it("DATA-4: production refuses a known default secret, naming the variable", () => {
    for (const secret of ["changeme", "keyboard cat", "supersecret-supersecret-supersecret"]) {
      expect(problems({ ...PRODUCTION_ENV, BULWARK_SECRET: secret }), secret).toEqual([
        expect.stringMatching(/^BULWARK_SECRET: is a known default value/),
      ]);
    }
  });

  it("DATA-4: production refuses a short or low-entropy secret", () => {
    expect(problems({ ...PRODUCTION_ENV, BULWARK_SECRET: "Sh0rt-but-random" })[0]).toMatch(
      /^BULWARK_SECRET: must be at least 32 characters/,
    );
    expect(problems({ ...PRODUCTION_ENV, BULWARK_SECRET: "ab".repeat(20) })[0]).toMatch(
      /^BULWARK_SECRET: has too few distinct characters/,
    );
  });

  it("DATA-4: a weak metrics token is refused in production, naming METRICS_TOKEN", () => {
    expect(problems({ ...PRODUCTION_ENV, METRICS_TOKEN: "secret" })[0]).toMatch(/^METRICS_TOKEN:/);
  });

  it("DATA-4: secrets can come from a file (BULWARK_SECRET_FILE)", () => {
    const file = "/tmp/bulwark-test-secret";
    const value = "f1le-B4sed-S3cret-9x7c2v5b8n1m4k6j";
    writeFileSync(file, `${value}\n`);
    const { BULWARK_SECRET: _, ...env } = PRODUCTION_ENV;
    expect(loadConfig({ ...env, BULWARK_SECRET_FILE: file }).secret).toBe(value);
  });

  it("DATA-4: the start-up summary never shows a secret", () => {
    const summary = configSummary(
      loadConfig({ ...PRODUCTION_ENV, METRICS_TOKEN: "m3tr1cs-T0ken-vKq8Zp2Lr5Wn" }),
    );
    // Not even a prefix: the first characters identify a secret across logs.
    expect(summary).not.toContain(PRODUCTION_ENV.BULWARK_SECRET!.slice(0, 3));
    expect(summary).not.toContain("m3t");
    expect(summary).toMatch(/secret\s+set \(32 chars\)/);
    expect(summary).toMatch(/profile\s+production/);
  });

  it("HDR-1: production refuses HTTPS_POLICY=off and a non-https PUBLIC_URL", () => {
    expect(problems({ ...PRODUCTION_ENV, HTTPS_POLICY: "off" })).toEqual([
      "HTTPS_POLICY: cannot be off in production",
    ]);
    expect(problems({ ...PRODUCTION_ENV, PUBLIC_URL: "http://app.example.org" })).toEqual([
      "PUBLIC_URL: must be https in production",
    ]);
  });

  it("CORS-1: a wildcard origin is refused (never * with credentials)", () => {
    expect(problems({ NODE_ENV: "test", CORS_ORIGINS: "*" })[0]).toMatch(/^CORS_ORIGINS: a wildcard/);
    expect(problems({ NODE_ENV: "test", CORS_ORIGINS: "https://a.example/path" })[0]).toMatch(
      /must be an origin/,
    );
  });

  it("every problem is reported at once, each naming its variable", () => {
    const found = problems({ NODE_ENV: "production", PORT: "http", LOG_LEVEL: "loud" });
    for (const name of ["PUBLIC_URL", "BULWARK_SECRET", "PORT", "LOG_LEVEL", "SECURITY_CONTACT"]) {
      expect(
        found.some((p) => p.startsWith(`${name}:`)),
        name,
      ).toBe(true);
    }
  });

  it("the README documents every configuration variable", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const v of VARIABLES) expect(readme, v.name).toContain(`\`${v.name}\``);
  });
});
