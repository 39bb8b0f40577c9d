import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { ConfigError, loadConfig } from "../config/load.js";

const LIST = [
  { name: "Example Cloud", purpose: "Hosting and backups", location: "EU (Frankfurt)" },
  {
    name: "Postbote GmbH",
    purpose: "Transactional mail",
    location: "Germany",
    url: "https://postbote.example",
  },
];

/** GDPR-4: the sub-processor list is configuration, shown on the security page with what the server itself uses. */
describe("sub-processors on the security page (GDPR-4)", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({
      ...PRODUCTION_ENV,
      LOG_LEVEL: "silent",
      // inject() comes from 127.0.0.1: a proxy that saw HTTPS.
      TRUSTED_PROXIES: "127.0.0.1",
      SUBPROCESSORS: JSON.stringify(LIST),
      SMTP_URL: "smtps://relay-user:r3lay-Pw-x9@smtp.postbote.example:465",
      SENTRY_DSN: "https://public@errors.example.org/7",
    });
  });
  afterAll(() => t?.close());
  const https = { "x-forwarded-proto": "https", host: "app.example.org" };

  it("GDPR-4: each configured sub-processor, the mail relay and the error tracker are on the page (production)", async () => {
    expect(t.config.production).toBe(true);
    const json = await t.app.inject({ url: "/security.json", headers: https });
    expect(json.statusCode, json.body).toBe(200);
    const control = (json.json().controls as Array<{ id: string; claim: string; settings: object }>).find(
      (c) => c.id === "GDPR-4",
    );
    expect(control?.claim).toContain(
      "The sub-processors of this deployment are: Example Cloud (Hosting and backups; EU (Frankfurt)); Postbote GmbH (Transactional mail; Germany; https://postbote.example).",
    );
    expect(control?.claim).toContain("mail to users goes through the relay smtp.postbote.example");
    expect(control?.claim).toContain(
      ENGINE === "postgres" ? "data is stored in PostgreSQL" : "data is stored in SQLite on this server",
    );
    expect(control?.claim).toContain("reported, without personal data, to errors.example.org");
    expect(control?.settings).toEqual({
      subprocessors: ["Example Cloud", "Postbote GmbH"],
      mailRelay: "smtp.postbote.example",
      errorTracking: "errors.example.org",
    });
    // The relay's credentials never reach the page.
    expect(json.body).not.toContain("r3lay-Pw-x9");
    expect(json.body).not.toContain("relay-user");
    const page = await t.app.inject({ url: "/security", headers: https });
    expect(page.body).toContain("Postbote GmbH (Transactional mail; Germany; https://postbote.example)");
  });

  it("GDPR-4: a list that is not a JSON array of complete entries stops start-up, naming the entry and field", () => {
    const load = (value: string) => () =>
      loadConfig({ NODE_ENV: "test", BULWARK_DATA_DIR: "/tmp/unused", SUBPROCESSORS: value });
    expect(load("Example Cloud, Hosting")).toThrow(ConfigError);
    expect(load("Example Cloud, Hosting")).toThrow(/SUBPROCESSORS: must be a JSON array/);
    expect(load(JSON.stringify([{ name: "A", purpose: "B" }]))).toThrow(/SUBPROCESSORS\[0\]\.location/);
    expect(load(JSON.stringify([{ ...LIST[0], url: "http://x.example" }]))).toThrow(
      /SUBPROCESSORS\[0\]\.url: must be an https URL/,
    );
    expect(load(JSON.stringify([{ ...LIST[0], contact: "x" }]))).toThrow(
      /SUBPROCESSORS\[0\]\.contact: unknown field/,
    );
    // A right-to-left override would garble the page's sentence; "https://" alone is no address.
    expect(load(JSON.stringify([{ ...LIST[0], name: "Cloud\u202Eduolc" }]))).toThrow(
      /SUBPROCESSORS\[0\]\.name/,
    );
    expect(load(JSON.stringify([{ ...LIST[0], url: "https://" }]))).toThrow(/SUBPROCESSORS\[0\]\.url/);
    expect(loadConfig({ NODE_ENV: "test", BULWARK_DATA_DIR: "/tmp/unused" }).subprocessors).toEqual([]);
  });
});
