import { describe, expect, it } from "vitest";
import { type ConfigError, loadConfig } from "./load.js";
import { configSummary } from "./summary.js";

const one = {
  id: "acme",
  name: "Acme ID",
  issuer: "https://id.acme.example",
  clientId: "c1",
  clientSecret: "s3cret-value",
};
const load = (value: unknown, env: Record<string, string> = {}) =>
  loadConfig({
    NODE_ENV: "test",
    SIGNIN_PROVIDERS: typeof value === "string" ? value : JSON.stringify(value),
    ...env,
  });

describe("SIGNIN_PROVIDERS (AUTH-11)", () => {
  it("AUTH-11: parses providers; every bad entry is named at start-up, all at once", () => {
    expect(load([one]).auth.providers).toEqual([one]);
    expect(load([{ ...one, name: undefined }]).auth.providers[0]!.name).toBe("acme");
    let problems: readonly string[] = [];
    try {
      load([
        { ...one, extra: 1 },
        { ...one, id: "Bad Id" },
        one,
        one,
        { ...one, id: "x", issuer: "ftp://x" },
        { ...one, id: "y", clientSecret: "" },
      ]);
    } catch (err) {
      problems = (err as ConfigError).problems;
    }
    expect(problems).toEqual([
      "SIGNIN_PROVIDERS: provider 1: unknown key extra",
      "SIGNIN_PROVIDERS: provider 2: id must be 1-32 lower-case letters, digits or dashes",
      "SIGNIN_PROVIDERS: provider 4: id acme appears twice",
      "SIGNIN_PROVIDERS: x: issuer must be an https URL",
      "SIGNIN_PROVIDERS: y: clientId and clientSecret are required",
    ]);
    expect(() => load("{not json")).toThrow(/SIGNIN_PROVIDERS: not valid JSON/);
    expect(() => load({ id: "acme" })).toThrow(/SIGNIN_PROVIDERS: expected a JSON array/);
  });

  it("AUTH-11, OBS-2: the variable is a secret: redacted in the start-up summary", () => {
    const summary = configSummary(load([one]));
    expect(summary).toContain("sign-in with   acme (https://id.acme.example");
    expect(summary).not.toContain("s3cret-value");
  });
});
