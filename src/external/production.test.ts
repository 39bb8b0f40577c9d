import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { FlowBrowser, injectFetch } from "../../test/oidc-browser.js";
import { ConfigError, loadConfig } from "../config/load.js";
import { OrgStore } from "../orgs/store.js";

const PW = "production external passphrase";
const RP = "https://app.example.org";
const IDP = "https://id.example.org";

/**
 * External sign-in in production (AUTH-11): both Bulwarks behind TLS-terminating proxies (reached
 * in-process, as X-Forwarded-Proto https from 127.0.0.1). The provider's issuer must be https; the
 * round trip's state cookie and the session it opens are Secure; the whole flow verifies.
 */
describe(`external sign-in in production (${ENGINE})`, () => {
  let idp: TestApp;
  let rp: TestApp;
  let tamper: ((url: URL, body: string) => string) | undefined;
  /** The whole round trip for `email`, from the relying party's start to its callback's answer. */
  const roundTrip = async (email: string) => {
    const browser = new FlowBrowser(RP, injectFetch(rp.app));
    const start = await browser.fetch("/v1/auth/external/example/start?next=/app");
    const person = new FlowBrowser(IDP, injectFetch(idp.app));
    await person.signIn(email, PW);
    const page = await person.go(start.headers.get("location")!);
    const allowed = await person.api("POST", `/authorize/${page.searchParams.get("uid")}/allow`);
    const callback = await person.go(((await allowed.json()) as { location: string }).location);
    return { browser, start, callback, back: await browser.fetch(callback) };
  };

  beforeAll(async () => {
    idp = await testApp({ ...PRODUCTION_ENV, PUBLIC_URL: IDP, TRUSTED_PROXIES: "127.0.0.1" });
    await createUser(idp, "owner@id.example.org", PW);
    const owner = new FlowBrowser(IDP, injectFetch(idp.app));
    await owner.signIn("owner@id.example.org", PW);
    const org = (
      (await (await owner.api("POST", "/v1/orgs", { name: "Example ID" })).json()) as { org: { id: string } }
    ).org.id;
    const made = await owner.api("POST", `/v1/orgs/${org}/oidc-clients`, {
      name: "App",
      type: "confidential",
      redirectUris: [`${RP}/v1/auth/external/example/callback`],
    });
    expect(made.status, await made.clone().text()).toBe(201);
    const { client, clientSecret } = (await made.json()) as { client: { id: string }; clientSecret: string };
    await new OrgStore(idp.db.global, idp.db.engine).addMember(
      org,
      await createUser(idp, "ria@id.example.org", PW),
      "MEMBER",
      Date.now(),
    );
    // The provider as reached over the network, with a hook to alter what it answers (a forger's reply).
    const base = injectFetch(idp.app);
    const providerFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await base(input, init);
      const url = new URL(input instanceof Request ? input.url : String(input));
      if (!tamper) return res;
      const headers = new Headers(res.headers);
      headers.delete("content-length");
      return new Response(tamper(url, await res.text()), { status: res.status, headers });
    }) as typeof fetch;
    rp = await testApp(
      {
        ...PRODUCTION_ENV,
        TRUSTED_PROXIES: "127.0.0.1",
        SIGNIN_PROVIDERS: JSON.stringify([
          { id: "example", name: "Example ID", issuer: IDP, clientId: client.id, clientSecret },
        ]),
      },
      undefined,
      { external: { fetch: providerFetch } },
    );
  });
  afterAll(async () => {
    await rp?.close();
    await idp?.close();
  });

  it("AUTH-11: production refuses a provider whose issuer is not https", () => {
    const env = {
      ...PRODUCTION_ENV,
      SIGNIN_PROVIDERS: JSON.stringify([
        { id: "plain", name: "Plain", issuer: "http://id.example.org", clientId: "c", clientSecret: "s" },
      ]),
    };
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(/SIGNIN_PROVIDERS: plain: issuer must be https in production/);
  });

  it("AUTH-11: in production the round trip is HTTPS end to end, its state cookie and the session Secure", async () => {
    const { browser, start, callback, back } = await roundTrip("ria@id.example.org");
    expect(start.status).toBe(303);
    const to = new URL(start.headers.get("location")!);
    expect(to.origin + to.pathname).toBe(`${IDP}/oidc/auth`);
    expect(to.searchParams.get("redirect_uri")).toBe(`${RP}/v1/auth/external/example/callback`);
    const state = start.headers.getSetCookie().find((l) => l.startsWith("__Host-bulwark_external="));
    expect(state).toMatch(/; Path=\/; HttpOnly; SameSite=Lax; Max-Age=600; Secure$/);
    expect(callback.origin + callback.pathname).toBe(`${RP}/v1/auth/external/example/callback`);

    expect(back.status).toBe(303);
    expect(back.headers.get("location")).toBe(`${RP}/app`);
    const session = back.headers.getSetCookie().find((l) => l.startsWith("__Host-bulwark_session="));
    expect(session).toMatch(/; Secure/);
    const me = await browser.fetch("/v1/me");
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe("ria@id.example.org");
  });

  it("AUTH-11: an ID token whose signature does not verify against the provider's keys is refused", async () => {
    let forged = 0;
    tamper = (url, body) => {
      if (!url.pathname.endsWith("/oidc/token")) return body;
      forged++;
      const json = JSON.parse(body) as { id_token: string };
      const [header, payload] = json.id_token.split(".");
      json.id_token = `${header}.${payload}.${"A".repeat(86)}`;
      return JSON.stringify(json);
    };
    try {
      const { browser, back } = await roundTrip("ria@id.example.org");
      expect(forged).toBe(1);
      expect(back.headers.get("location")).toBe(`${RP}/?error=EXTERNAL_SIGNIN_FAILED`);
      expect((await browser.fetch("/v1/me")).status).toBe(401);
    } finally {
      tamper = undefined;
    }
  });
});
