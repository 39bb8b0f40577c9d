import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../../test/browser/console-kit.js";
import { GitHubServer } from "../../test/github-server.js";
import { createUser, ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { FlowBrowser, injectFetch } from "../../test/oidc-browser.js";

const PW = "github sign-in passphrase";

/**
 * Sign-in with GitHub (AUTH-11): OAuth 2 without OpenID Connect, against a GitHub laid out as an
 * Enterprise Server is (test/github-server.ts), which checks the client, the code and the PKCE verifier
 * as GitHub does.
 */
describe(`external sign-in with GitHub (${ENGINE})`, () => {
  const github = new GitHubServer("Iv1.0123456789abcdef", "github-client-secret-0123456789");
  let rp: TestApp;
  let rpBase = "";

  /** The round trip from the start, with `account` signed in at GitHub: where the callback sends the browser. */
  const signIn = async (browser: FlowBrowser, account: GitHubServer["account"]) => {
    github.account = account;
    const start = await browser.fetch("/v1/auth/external/github/start?next=%2Fapp");
    expect(start.status, await start.clone().text()).toBe(303);
    const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
    expect(authorize.status).toBe(302);
    const callback = await browser.fetch(authorize.headers.get("location")!);
    expect(callback.status).toBe(303);
    return new URL(callback.headers.get("location")!, rpBase);
  };
  const me = async (browser: FlowBrowser) => {
    const res = await browser.fetch("/v1/me");
    return res.status === 200 ? ((await res.json()) as { user: { email: string } }).user.email : res.status;
  };
  const identities = (email: string) =>
    rp.db.global
      .selectFrom("external_identities")
      .select(["provider", "issuer", "subject", "email"])
      .where("email", "=", email)
      .execute();

  beforeAll(async () => {
    const gh = await github.start();
    const port = await freePort();
    rpBase = `http://127.0.0.1:${port}`;
    rp = await testApp({
      PORT: String(port),
      PUBLIC_URL: rpBase,
      LOG_LEVEL: "silent",
      // This file's refused round trips all come from 127.0.0.1: room for them under the per-address limit.
      LOGIN_MAX_ATTEMPTS: "20",
      SIGNIN_PROVIDERS: JSON.stringify([
        {
          id: "github",
          name: "GitHub",
          type: "github",
          issuer: gh,
          clientId: github.clientId,
          clientSecret: github.clientSecret,
        },
      ]),
    });
    await rp.app.listen({ port, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await rp?.close();
    await github.stop();
  });

  it("AUTH-11: a person new here signs in with GitHub (PKCE S256, state): an account for the primary verified address, keyed by the numeric account id", async () => {
    const browser = new FlowBrowser(rpBase);
    const at = await signIn(browser, {
      id: 583231,
      login: "octocat",
      emails: [
        { email: "old@octo.example", primary: false, verified: true },
        { email: "octo@octo.example", primary: true, verified: true },
      ],
    });
    expect(at.href).toBe(`${rpBase}/app`);
    expect(await me(browser)).toBe("octo@octo.example");
    // What GitHub was asked: the authorization code flow with PKCE S256, the state, the scopes, no nonce.
    const q = github.authorizations.at(-1)!;
    expect(q.get("response_type")).toBe("code");
    expect(q.get("scope")).toBe("user:email");
    expect(q.get("code_challenge_method")).toBe("S256");
    expect(q.get("state")).toMatch(/^.{20,}$/);
    expect(q.get("redirect_uri")).toBe(`${rpBase}/v1/auth/external/github/callback`);
    expect(q.has("nonce")).toBe(false);
    // The code was redeemed with the verifier (GitHub checked it against the challenge) and the secret in the body.
    expect(github.tokenRequests.at(-1)!.get("code_verifier")).toMatch(/^[\w-]{43,}$/);
    expect(await identities("octo@octo.example")).toEqual([
      { provider: "github", issuer: github.base, subject: "583231", email: "octo@octo.example" },
    ]);
    // A new login name and a new primary address at GitHub: still the same account here (the id is the key).
    const again = new FlowBrowser(rpBase);
    await signIn(again, {
      id: 583231,
      login: "octocat-renamed",
      emails: [{ email: "new@octo.example", primary: true, verified: true }],
    });
    expect(await me(again)).toBe("octo@octo.example");
  });

  it("AUTH-11: GitHub's primary address unverified gets no account, even with another address verified", async () => {
    const browser = new FlowBrowser(rpBase);
    const at = await signIn(browser, {
      id: 7001,
      login: "unverified",
      emails: [
        { email: "main@unverified.example", primary: true, verified: false },
        { email: "other@unverified.example", primary: false, verified: true },
      ],
    });
    expect(at.pathname + at.search).toBe("/?error=EXTERNAL_EMAIL_UNVERIFIED");
    expect(await me(browser)).toBe(401);
    expect(await identities("main@unverified.example")).toEqual([]);
    expect(await identities("other@unverified.example")).toEqual([]);
  });

  it("AUTH-11: an address that already has an account is linked only after its owner confirms", async () => {
    await createUser(rp, "owner@octo.example", PW);
    const browser = new FlowBrowser(rpBase);
    const at = await signIn(browser, {
      id: 7002,
      login: "owner",
      emails: [{ email: "owner@octo.example", primary: true, verified: true }],
    });
    expect(at.href).toBe(`${rpBase}/link-account`);
    expect(await me(browser)).toBe(401);
    expect(await identities("owner@octo.example")).toEqual([]);
    await browser.signIn("owner@octo.example", PW);
    const confirmed = await browser.api("POST", "/v1/me/identities/confirm", {});
    expect(confirmed.status, await confirmed.clone().text()).toBe(201);
    expect(await identities("owner@octo.example")).toEqual([
      { provider: "github", issuer: github.base, subject: "7002", email: "owner@octo.example" },
    ]);
  });

  it("AUTH-11: a code GitHub refuses (its 200 carrying an error) signs nobody in", async () => {
    const browser = new FlowBrowser(rpBase);
    github.account = {
      id: 7003,
      login: "x",
      emails: [{ email: "x@octo.example", primary: true, verified: true }],
    };
    const start = await browser.fetch("/v1/auth/external/github/start");
    const authorize = await fetch(start.headers.get("location")!, { redirect: "manual" });
    const back = new URL(authorize.headers.get("location")!);
    // A code GitHub never issued, with the right state: GitHub answers {"error":"bad_verification_code"}.
    back.searchParams.set("code", "0000forged0000");
    const apiBefore = github.apiRequests.length;
    const callback = await browser.fetch(back);
    expect(new URL(callback.headers.get("location")!, rpBase).search).toBe("?error=EXTERNAL_SIGNIN_FAILED");
    expect(github.tokenRequests.at(-1)!.get("code")).toBe("0000forged0000");
    // Refused at the token answer: no token, so GitHub's API was never asked who it was.
    expect(github.apiRequests.length).toBe(apiBefore);
    expect(await me(browser)).toBe(401);
  });

  it("AUTH-11: an answer from GitHub that is not a token, or not an account with its address list, signs nobody in", async () => {
    const account = {
      id: 7004,
      login: "broken",
      emails: [{ email: "broken@octo.example", primary: true, verified: true }],
    };
    const big = (path: string, chunked: boolean) => (p: string) =>
      p === path
        ? { status: 200, body: `{"id":7004,"access_token":"${"x".repeat(300_000)}"}`, chunked }
        : undefined;
    const cases: [string, NonNullable<GitHubServer["override"]>][] = [
      [
        "an account without a numeric id",
        (p) => (p === "/api/v3/user" ? { status: 200, body: '{"id":"7004"}' } : undefined),
      ],
      ["an account id of 0", (p) => (p === "/api/v3/user" ? { status: 200, body: '{"id":0}' } : undefined)],
      ["the API refusing the token", (p) => (p === "/api/v3/user" ? { status: 401, body: "{}" } : undefined)],
      [
        "an address list that is no list",
        (p) =>
          p === "/api/v3/user/emails"
            ? { status: 200, body: '{"email":"broken@octo.example","primary":true,"verified":true}' }
            : undefined,
      ],
      ["an API answer over 256 KB", big("/api/v3/user", false)],
      ["an API answer over 256 KB, in pieces with no length", big("/api/v3/user", true)],
      ["a token answer over 256 KB", big("/login/oauth/access_token", false)],
      ["a token answer over 256 KB, in pieces with no length", big("/login/oauth/access_token", true)],
    ];
    for (const [what, override] of cases) {
      github.override = override;
      try {
        const browser = new FlowBrowser(rpBase);
        const at = await signIn(browser, account);
        expect(at.pathname + at.search, what).toBe("/?error=EXTERNAL_SIGNIN_FAILED");
        expect(await me(browser), what).toBe(401);
      } finally {
        github.override = undefined;
      }
    }
    expect(await identities("broken@octo.example")).toEqual([]);
    // The same account, answered properly: signed in (the refusals were the answers, not the account).
    expect((await signIn(new FlowBrowser(rpBase), account)).href).toBe(`${rpBase}/app`);
    expect(github.apiRequests.at(-1)).toBe("/api/v3/user/emails?per_page=100");
  });
});

/**
 * GitHub in production, at its real addresses: the provider is `"type": "github"` with no issuer, so
 * github.com (OAuth) and api.github.com (REST API). Requests to those go to the local GitHub instead,
 * through the fetch external sign-in is given, which is how the test sees each address Bulwark used.
 */
describe(`external sign-in with GitHub in production (${ENGINE})`, () => {
  const RP = "https://app.example.org";
  const github = new GitHubServer("Iv1.prod0123456789ab", "github-production-secret-0123456789");
  const reached: string[] = [];
  let rp: TestApp;

  beforeAll(async () => {
    const local = await github.start();
    const toLocal = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      reached.push(url.origin + url.pathname);
      const path = url.host === "api.github.com" ? `/api/v3${url.pathname}` : url.pathname;
      if (url.protocol !== "https:" || !["github.com", "api.github.com"].includes(url.host))
        throw new Error(`not GitHub: ${url.href}`);
      return fetch(`${local}${path}${url.search}`, init);
    }) as typeof fetch;
    rp = await testApp(
      {
        ...PRODUCTION_ENV,
        TRUSTED_PROXIES: "127.0.0.1",
        SIGNIN_PROVIDERS: JSON.stringify([
          {
            id: "github",
            name: "GitHub",
            type: "github",
            clientId: github.clientId,
            clientSecret: github.clientSecret,
          },
        ]),
      },
      undefined,
      { external: { fetch: toLocal } },
    );
  });
  afterAll(async () => {
    await rp?.close();
    await github.stop();
  });

  it("AUTH-11: in production GitHub is reached at github.com and api.github.com over HTTPS, and the session is Secure", async () => {
    github.account = {
      id: 9001,
      login: "prod",
      emails: [{ email: "prod@octo.example", primary: true, verified: true }],
    };
    const browser = new FlowBrowser(RP, injectFetch(rp.app));
    const start = await browser.fetch("/v1/auth/external/github/start?next=/app");
    expect(start.status).toBe(303);
    const to = new URL(start.headers.get("location")!);
    expect(to.origin + to.pathname).toBe("https://github.com/login/oauth/authorize");
    expect(to.searchParams.get("redirect_uri")).toBe(`${RP}/v1/auth/external/github/callback`);
    // The person approves at GitHub, which sends the browser back with the code.
    const approved = await fetch(`${github.base}${to.pathname}${to.search}`, { redirect: "manual" });
    const back = await browser.fetch(approved.headers.get("location")!);
    expect(back.headers.get("location")).toBe(`${RP}/app`);
    expect(back.headers.getSetCookie().find((l) => l.startsWith("__Host-bulwark_session="))).toMatch(
      /; Secure/,
    );
    expect(reached).toEqual([
      "https://github.com/login/oauth/access_token",
      "https://api.github.com/user",
      "https://api.github.com/user/emails",
    ]);
    const me = await browser.fetch("/v1/me");
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe("prod@octo.example");
  });
});
