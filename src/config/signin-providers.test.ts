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
    expect(load([one]).auth.providers).toEqual([{ ...one, type: "oidc" }]);
    // GitHub (OAuth 2 without OpenID Connect): github.com unless an Enterprise Server's address is given.
    const github = { id: "github", type: "github", clientId: "c2", clientSecret: "s2" };
    expect(load([github]).auth.providers[0]).toMatchObject({ type: "github", issuer: "https://github.com" });
    // One spelling per GitHub: identities are keyed by the issuer.
    for (const spelling of [
      "https://GHE.acme.example/",
      "https://ghe.acme.example:443",
      "HTTPS://ghe.acme.example",
    ])
      expect(load([{ ...github, issuer: spelling }]).auth.providers[0]!.issuer).toBe(
        "https://ghe.acme.example",
      );
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
        { ...one, id: "z", type: "saml" },
        { ...one, id: "gh", type: "github", issuer: "https://ghe.acme.example/login" },
        { ...one, id: "gh2", type: "github", issuer: "https://ghe.acme.example?" },
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
      "SIGNIN_PROVIDERS: z: type must be oidc or github",
      "SIGNIN_PROVIDERS: gh: a GitHub issuer is the server's address (https://github.com, or your GitHub Enterprise Server's), without a path",
      "SIGNIN_PROVIDERS: gh2: a GitHub issuer is the server's address (https://github.com, or your GitHub Enterprise Server's), without a path",
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
