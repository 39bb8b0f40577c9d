import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { freePort, servedApp } from "../../test/browser/console-kit.js";
import { createUser, ENGINE, type TestApp, testApp } from "../../test/harness.js";
import { FlowBrowser } from "../../test/oidc-browser.js";
import type { Mail } from "../mail/mailer.js";
import { OrgStore } from "../orgs/store.js";

const PW = "external sign-in passphrase";

/**
 * External sign-in (AUTH-11) end to end, with no network: a second Bulwark is the external OpenID
 * provider (oidc-provider, a confidential client registered there), and this Bulwark signs in through
 * it with openid-client. Each person has a browser on each side (two cookie jars, as two sites would).
 */
describe(`external sign-in (${ENGINE})`, () => {
  let idp: TestApp;
  let idpBase = "";
  let rp: TestApp;
  let rpBase = "";
  const mails: Mail[] = [];
  let org = "";
  let idpOwner: FlowBrowser;

  /** A person signed in at the provider, in their own browser there. */
  const atProvider = async (email: string) => {
    const b = new FlowBrowser(idpBase);
    await b.signIn(email, PW);
    return b;
  };
  /**
   * From `startUrl` at the relying party (a GET that answers the provider's URL, or a URL already
   * made), through the provider's consent page, back to the callback; returns the callback's answer.
   */
  const roundTrip = async (browser: FlowBrowser, person: FlowBrowser, providerUrl: string, base = rpBase) => {
    const page = await person.go(providerUrl);
    expect(page.pathname, page.href).toBe("/authorize");
    const allowed = await person.api("POST", `/authorize/${page.searchParams.get("uid")}/allow`);
    expect(allowed.status, await allowed.clone().text()).toBe(200);
    const callback = await person.go(((await allowed.json()) as { location: string }).location);
    expect(callback.origin + callback.pathname).toBe(`${base}/v1/auth/external/idp/callback`);
    const res = await browser.fetch(callback);
    expect(res.status).toBe(303);
    return { location: new URL(res.headers.get("location")!), callback };
  };
  const startAt = async (browser: FlowBrowser, next = "/app") => {
    const res = await browser.fetch(`/v1/auth/external/idp/start?next=${encodeURIComponent(next)}`);
    expect(res.status, await res.clone().text()).toBe(303);
    return res.headers.get("location")!;
  };
  /** Who the browser is signed in as (its CSRF token taken from /v1/me, as the console does), or the status. */
  const me = async (browser: FlowBrowser) => {
    const res = await browser.fetch("/v1/me");
    if (res.status !== 200) return res.status;
    const body = (await res.json()) as { user: { email: string }; csrfToken: string };
    browser.csrf = body.csrfToken;
    return body.user.email;
  };
  const actions = async () => {
    const audit = rp.app.bulwark.service("audit");
    await audit.flush();
    return (await audit.query({ log: "platform" }, 1000)).map((e) => ({
      action: e.action,
      entry: JSON.parse(e.entry!),
    }));
  };

  beforeAll(async () => {
    ({ t: idp, base: idpBase } = await servedApp());
    const owner = await createUser(idp, "owner@idp.example", PW);
    const ownerBrowser = await atProvider("owner@idp.example");
    org = (
      (await (await ownerBrowser.api("POST", "/v1/orgs", { name: "Acme ID" })).json()) as {
        org: { id: string };
      }
    ).org.id;
    idpOwner = ownerBrowser;
    const rpPort = await freePort();
    rpBase = `http://127.0.0.1:${rpPort}`;
    const made = await ownerBrowser.api("POST", `/v1/orgs/${org}/oidc-clients`, {
      name: "Bulwark relying party",
      type: "confidential",
      redirectUris: [`${rpBase}/v1/auth/external/idp/callback`],
    });
    expect(made.status, await made.clone().text()).toBe(201);
    const { client, clientSecret } = (await made.json()) as { client: { id: string }; clientSecret: string };
    const members = new OrgStore(idp.db.global, idp.db.engine);
    for (const email of ["pat@idp.example", "sam@idp.example", "tia@idp.example"])
      await members.addMember(org, await createUser(idp, email, PW), "MEMBER", Date.now());
    expect(owner).toBeTruthy();

    rp = await testApp(
      {
        PORT: String(rpPort),
        PUBLIC_URL: rpBase,
        LOG_LEVEL: "silent",
        SIGNIN_PROVIDERS: JSON.stringify([
          { id: "idp", name: "Acme ID", issuer: idpBase, clientId: client.id, clientSecret },
        ]),
      },
      undefined,
      { mailer: { send: async (m: Mail) => void mails.push(m) } },
    );
    await rp.app.listen({ port: rpPort, host: "127.0.0.1" });
  });
  afterAll(async () => {
    await rp?.close();
    await idp?.close();
  });

  it("AUTH-11: a person new here signs in with the provider: an account for the verified address, linked, signed in", async () => {
    const list = await (await fetch(`${rpBase}/v1/auth/external`)).json();
    expect(list).toEqual({ providers: [{ id: "idp", name: "Acme ID" }] });
    const browser = new FlowBrowser(rpBase);
    const url = await startAt(browser, "/app/orgs");
    // Code flow with PKCE S256, state and nonce, to the provider's authorization endpoint.
    const auth = new URL(url);
    expect(auth.origin + auth.pathname).toBe(`${idpBase}/oidc/auth`);
    expect(auth.searchParams.get("code_challenge_method")).toBe("S256");
    for (const p of ["code_challenge", "state", "nonce"])
      expect(auth.searchParams.get(p)).toMatch(/^.{20,}$/);
    const { location } = await roundTrip(browser, await atProvider("pat@idp.example"), url);
    expect(location.href).toBe(`${rpBase}/app/orgs`);
    expect(await me(browser)).toBe("pat@idp.example");
    const ids = (await (await browser.fetch("/v1/me/identities")).json()) as { identities: object[] };
    expect(ids.identities).toEqual([
      expect.objectContaining({ provider: "idp", providerName: "Acme ID", email: "pat@idp.example" }),
    ]);
    // The account has no password, and its address counts as verified (the provider verified it).
    const user = await rp.db.global
      .selectFrom("users")
      .selectAll()
      .where("email", "=", "pat@idp.example")
      .executeTakeFirstOrThrow();
    expect(user.password_hash).toBeNull();
    expect(user.email_verified_at).not.toBeNull();
    const linked = (await actions()).find((a) => a.action === "external_identity.linked");
    expect(linked?.entry.metadata).toMatchObject({ how: "signup" });
    const signedIn = (await actions()).find((a) => a.action === "auth.login_succeeded");
    expect(signedIn?.entry.metadata).toMatchObject({ method: "external", secondFactor: false });

    // Again: the same identity signs in to the same account, no second account.
    const again = new FlowBrowser(rpBase);
    await roundTrip(again, await atProvider("pat@idp.example"), await startAt(again));
    expect(await me(again)).toBe("pat@idp.example");
    const count = await rp.db.global
      .selectFrom("users")
      .select("id")
      .where("email", "=", "pat@idp.example")
      .execute();
    expect(count).toHaveLength(1);
  });

  it("AUTH-11: the answer works once, and only in the browser that started the sign-in", async () => {
    const victim = new FlowBrowser(rpBase);
    const url = await startAt(victim);
    // An attacker's browser presenting the callback (login CSRF, or a stolen code): refused.
    const attacker = new FlowBrowser(rpBase);
    const { location, callback } = await roundTrip(attacker, await atProvider("pat@idp.example"), url);
    expect(location.pathname + location.search).toBe("/?error=EXTERNAL_SIGNIN_FAILED");
    expect(await me(attacker)).toBe(401);
    // The right browser, after the refusal: the answer was not spent by the attempt, and works.
    const ok = await victim.fetch(callback);
    expect(ok.headers.get("location")).toBe(`${rpBase}/app`);
    // Presented again: spent.
    const replay = await victim.fetch(callback);
    expect(new URL(replay.headers.get("location")!).search).toBe("?error=EXTERNAL_SIGNIN_FAILED");
  });

  it("AUTH-11: an address that already has an account is linked only after its owner signs in and confirms", async () => {
    await createUser(rp, "sam@idp.example", PW);
    const browser = new FlowBrowser(rpBase);
    const { location } = await roundTrip(
      browser,
      await atProvider("sam@idp.example"),
      await startAt(browser),
    );
    // The confirmation waits in this browser's cookie, never in the link (which could be sent on).
    expect(location.href).toBe(`${rpBase}/link-account`);
    // Not signed in, nothing linked yet.
    expect(await me(browser)).toBe(401);
    expect(
      await rp.db.global
        .selectFrom("external_identities")
        .selectAll()
        .where("email", "=", "sam@idp.example")
        .execute(),
    ).toEqual([]);
    // Another browser has nothing to confirm; another account in this browser cannot take it.
    await createUser(rp, "mallory@example.org", PW);
    const mallory = new FlowBrowser(rpBase);
    await mallory.signIn("mallory@example.org", PW);
    expect((await mallory.api("POST", "/v1/me/identities/confirm", {})).status).toBe(400);
    await browser.signIn("mallory@example.org", PW);
    expect((await browser.api("POST", "/v1/me/identities/confirm", {})).status).toBe(400);
    // The owner signs in, sees what would be linked, and confirms.
    await browser.signIn("sam@idp.example", PW);
    const pending = await browser.fetch("/v1/me/identities/pending");
    expect(await pending.json()).toEqual({ provider: "idp", name: "Acme ID", email: "sam@idp.example" });
    const confirmed = await browser.api("POST", "/v1/me/identities/confirm", {});
    expect(confirmed.status, await confirmed.clone().text()).toBe(201);
    await vi.waitFor(() =>
      expect(
        mails.some(
          (m) => m.to === "sam@idp.example" && m.subject === "Acme ID sign-in was linked to your account",
        ),
      ).toBe(true),
    );
    // From now on the provider signs in to Sam's account directly.
    const next = new FlowBrowser(rpBase);
    const direct = await roundTrip(next, await atProvider("sam@idp.example"), await startAt(next));
    expect(direct.location.pathname).toBe("/app");
    expect(await me(next)).toBe("sam@idp.example");
  });

  it("AUTH-11, AUTH-14: a signed-in person links another identity and removes one, after re-authenticating; never the last way in", async () => {
    await createUser(rp, "una@example.org", PW);
    const browser = new FlowBrowser(rpBase);
    await browser.signIn("una@example.org", PW);
    const start = await browser.api("POST", "/v1/me/identities/idp", {});
    expect(start.status, await start.clone().text()).toBe(200);
    const { location } = await roundTrip(
      browser,
      await atProvider("tia@idp.example"),
      ((await start.json()) as { url: string }).url,
    );
    expect(location.pathname + location.search).toBe("/app/account?linked=idp");
    const list = (await (await browser.fetch("/v1/me/identities")).json()) as {
      identities: Array<{ id: string; email: string }>;
    };
    expect(list.identities.map((i) => i.email)).toEqual(["tia@idp.example"]);
    // The same provider identity cannot join a second account.
    await createUser(rp, "vic@example.org", PW);
    const vic = new FlowBrowser(rpBase);
    await vic.signIn("vic@example.org", PW);
    const taken = await roundTrip(
      vic,
      await atProvider("tia@idp.example"),
      ((await (await vic.api("POST", "/v1/me/identities/idp", {})).json()) as { url: string }).url,
    );
    expect(taken.location.pathname + taken.location.search).toBe(
      "/app/account?error=EXTERNAL_IDENTITY_TAKEN",
    );
    // Removing needs a fresh proof (frozen clock past the window), then works: Una still has her password.
    const id = list.identities[0]!.id;
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + rp.config.auth.reauthMs + 60_000 });
    try {
      const stale = await browser.api("DELETE", `/v1/me/identities/${id}`);
      expect(((await stale.json()) as { error: { code: string } }).error.code).toBe("REAUTH_REQUIRED");
    } finally {
      vi.useRealTimers();
    }
    expect((await browser.api("DELETE", `/v1/me/identities/${id}`)).status).toBe(204);
    // Pat's account has no password and no passkey: its only identity cannot be removed.
    const pat = new FlowBrowser(rpBase);
    await roundTrip(pat, await atProvider("pat@idp.example"), await startAt(pat));
    expect(await me(pat)).toBe("pat@idp.example");
    const patIds = (await (await pat.fetch("/v1/me/identities")).json()) as {
      identities: Array<{ id: string }>;
    };
    const last = await pat.api("DELETE", `/v1/me/identities/${patIds.identities[0]!.id}`);
    expect(((await last.json()) as { error: { code: string } }).error.code).toBe("REAUTH_REQUIRED");
    expect((await actions()).some((a) => a.action === "external_identity.removed")).toBe(true);
  });

  it("AUTH-11: a link completes only in the session that started it: signed out meanwhile, nothing is linked", async () => {
    await createUser(rp, "wes@example.org", PW);
    const browser = new FlowBrowser(rpBase);
    await browser.signIn("wes@example.org", PW);
    const url = ((await (await browser.api("POST", "/v1/me/identities/idp", {})).json()) as { url: string })
      .url;
    // The session ends (signed out, or every session revoked by a password reset) before the provider answers.
    expect((await browser.api("POST", "/v1/auth/logout", {})).status).toBe(204);
    const { location } = await roundTrip(browser, await atProvider("owner@idp.example"), url);
    expect(location.pathname + location.search).toBe("/?error=EXTERNAL_SIGNIN_FAILED");
    const wes = await rp.db.global
      .selectFrom("users")
      .select("id")
      .where("email", "=", "wes@example.org")
      .executeTakeFirstOrThrow();
    expect(
      await rp.db.global
        .selectFrom("external_identities")
        .selectAll()
        .where("user_id", "=", wes.id)
        .execute(),
    ).toEqual([]);
  });

  it("AUTH-8, AUTH-11: an account with a second factor is asked for it after the provider, and that session proves no password", async () => {
    const mfa = rp.app.bulwark.service("mfa");
    const sam = await rp.db.global
      .selectFrom("users")
      .select("id")
      .where("email", "=", "sam@idp.example")
      .executeTakeFirstOrThrow();
    await mfa.startEnrolment(sam.id, "sam@idp.example");
    const codes = await mfa.enrolConfirmed(sam.id);
    const browser = new FlowBrowser(rpBase);
    const { location } = await roundTrip(
      browser,
      await atProvider("sam@idp.example"),
      await startAt(browser),
    );
    expect(location.pathname).toBe("/");
    expect(location.searchParams.get("methods")).toBe("totp,backup_code");
    expect(await me(browser)).toBe(401);
    const done = await browser.fetch("/v1/auth/mfa/verify", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ challengeToken: location.searchParams.get("step"), code: codes[0] }),
    });
    expect(done.status, await done.clone().text()).toBe(200);
    browser.csrf = ((await done.json()) as { csrfToken: string }).csrfToken;
    expect(await me(browser)).toBe("sam@idp.example");
    // No password was typed: a sensitive change asks for it.
    const sensitive = await browser.api("POST", "/v1/me/identities/idp", {});
    expect(((await sensitive.json()) as { error: { code: string } }).error.code).toBe("REAUTH_REQUIRED");
  });

  it("AUTH-11, AUTH-12: under SIGNUP_MODE=domains a provider's verified address outside the allowed domains gets no account", async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const made = await idpOwner.api("POST", `/v1/orgs/${org}/oidc-clients`, {
      name: "Domains-only relying party",
      type: "confidential",
      redirectUris: [`${base}/v1/auth/external/idp/callback`],
    });
    const { client, clientSecret } = (await made.json()) as { client: { id: string }; clientSecret: string };
    const strict = await testApp({
      PORT: String(port),
      PUBLIC_URL: base,
      LOG_LEVEL: "silent",
      SIGNUP_MODE: "domains",
      SIGNUP_ALLOWED_DOMAINS: "example.org",
      SIGNIN_PROVIDERS: JSON.stringify([
        { id: "idp", name: "Acme ID", issuer: idpBase, clientId: client.id, clientSecret },
      ]),
    });
    try {
      await strict.app.listen({ port, host: "127.0.0.1" });
      const browser = new FlowBrowser(base);
      const start = await browser.fetch("/v1/auth/external/idp/start?next=/app");
      const { location } = await roundTrip(
        browser,
        await atProvider("pat@idp.example"),
        start.headers.get("location")!,
        base,
      );
      expect(location.href).toBe(`${base}/?error=SIGNUP_NOT_ALLOWED`);
      expect((await browser.fetch("/v1/me")).status).toBe(401);
      expect(
        await strict.db.global
          .selectFrom("users")
          .select("id")
          .where("email", "=", "pat@idp.example")
          .execute(),
      ).toEqual([]);
    } finally {
      await strict.close();
    }
  });
});
