import { afterEach, describe, expect, it, vi } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { PRODUCTION_ENV, testApp } from "../../test/harness.js";
import type { Extension } from "../orgs/extension.js";
import { type Control, PostureRegistry } from "./registry.js";

/**
 * Each requirement ID is claimed by one registration: two capabilities registering the same ID (under
 * different titles, which the registry keeps apart) would put two claims with one ID on the page, and
 * the tests titled with that ID could prove only one of them. Every registration of a whole app is
 * counted, in each profile and with an extension that adds its own claim.
 */
describe("claim registrations", () => {
  afterEach(() => vi.restoreAllMocks());

  const profiles: Array<[string, Record<string, string>, Extension[]]> = [
    ["test profile", {}, []],
    ["development", { NODE_ENV: "development", BULWARK_SECRET: "dev-only-secret-0123456789abcdefghij" }, []],
    [
      "production, every option on",
      {
        ...PRODUCTION_ENV,
        TRUSTED_PROXIES: "127.0.0.1",
        METRICS_TOKEN: "bwmt_0123456789abcdefghijklmnopqrstuv",
        SIGNUP_MODE: "domains",
        SIGNUP_ALLOWED_DOMAINS: "example.org",
      },
      [],
    ],
    ["with the catalog extension", {}, [catalog]],
  ];

  for (const [name, env, extensions] of profiles) {
    it(`POST-1: no requirement ID is registered twice (${name})`, async () => {
      const register = vi.spyOn(PostureRegistry.prototype, "register");
      const t = await testApp(env, undefined, { extensions });
      try {
        const ids = register.mock.calls
          .filter((_, i) => register.mock.contexts[i] === t.app.bulwark.posture)
          .map(([control]) => (control as Control).id);
        expect(ids.length).toBeGreaterThan(20);
        expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
        // And the page lists each ID once.
        const res = await t.app.inject({
          url: "/security.json",
          headers: { "x-forwarded-proto": "https", host: "localhost" },
        });
        expect(res.statusCode).toBe(200);
        const listed = (res.json().controls as Control[]).map((c) => c.id);
        expect(listed.filter((id, i) => listed.indexOf(id) !== i)).toEqual([]);
      } finally {
        await t.close();
      }
    });
  }
});
