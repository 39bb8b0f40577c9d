import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { FlowBrowser, injectFetch } from "../../test/oidc-browser.js";
import { SoftAuthenticator } from "../../test/soft-authenticator.js";

const PW = "production passkey passphrase";
const BASE = "https://app.example.org";

type Options = {
  challengeId: string;
  options: { challenge: string; rpId?: string; rp?: { id: string }; user: { id: string } };
};

/**
 * Passkeys in production (AUTH-13, AUTH-8), behind a TLS-terminating proxy on 127.0.0.1: the relying
 * party is the HTTPS public URL's host, a ceremony from any other origin (the same host over plain
 * HTTP, the console's CORS origin) is refused, the session a passkey opens has a Secure cookie, and the
 * passkey is the second factor of a password sign-in.
 */
describe(`passkeys in production (${ENGINE})`, () => {
  let t: TestApp;
  let send: typeof fetch;
  const device = new SoftAuthenticator("app.example.org", BASE);

  beforeAll(async () => {
    t = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" });
    send = injectFetch(t.app);
    await createUser(t, "prod-passkey@example.org", PW);
  });
  afterAll(() => t.close());

  const json = async <T>(res: Response): Promise<T> => {
    expect(res.status, await res.clone().text()).toBeLessThan(300);
    return (await res.json()) as T;
  };
  const sessionCookie = (b: FlowBrowser) =>
    b.setCookies.filter((l) => /^(__Host-)?bulwark_session=/.test(l)).at(-1);

  it("AUTH-13: in production a passkey is registered for the HTTPS host and signs in alone, with a Secure session cookie", async () => {
    const owner = new FlowBrowser(BASE, send);
    await owner.signIn("prod-passkey@example.org", PW);
    const opts = await json<Options>(await owner.api("POST", "/v1/me/passkeys/options", { password: PW }));
    expect(opts.options.rp?.id).toBe("app.example.org");
    // A registration from the same host over plain HTTP is refused.
    const plain = await owner.api("POST", "/v1/me/passkeys", {
      challengeId: opts.challengeId,
      name: "Laptop",
      credential: new SoftAuthenticator("app.example.org", "http://app.example.org").create(opts.options, {
        origin: "http://app.example.org",
      }),
    });
    expect(plain.status).toBe(401);
    const again = await json<Options>(await owner.api("POST", "/v1/me/passkeys/options", { password: PW }));
    const added = await owner.api("POST", "/v1/me/passkeys", {
      challengeId: again.challengeId,
      name: "Laptop",
      credential: device.create(again.options),
    });
    expect(added.status, await added.clone().text()).toBe(201);

    const visitor = new FlowBrowser(BASE, send);
    const start = await json<Options>(await visitor.api("POST", "/v1/auth/passkey/options", {}));
    expect(start.options.rpId).toBe("app.example.org");
    // The console's own CORS origin is not the relying party's: refused.
    const foreign = await visitor.api("POST", "/v1/auth/passkey", {
      challengeId: start.challengeId,
      credential: device.get(start.options, { origin: "https://console.example.org" }),
    });
    expect(foreign.status).toBe(401);
    const next = await json<Options>(await visitor.api("POST", "/v1/auth/passkey/options", {}));
    const signedIn = await visitor.api("POST", "/v1/auth/passkey", {
      challengeId: next.challengeId,
      credential: device.get(next.options),
    });
    expect(signedIn.status, await signedIn.clone().text()).toBe(200);
    const cookie = sessionCookie(visitor);
    expect(cookie).toMatch(/;\s*secure/i);
    expect(cookie).toMatch(/;\s*httponly/i);
    expect((await json<{ user: { email: string } }>(await visitor.fetch("/v1/me"))).user.email).toBe(
      "prod-passkey@example.org",
    );
  });

  it("AUTH-8, AUTH-13: in production the password then needs the passkey as the second factor", async () => {
    const b = new FlowBrowser(BASE, send);
    const step = await json<{ mfaRequired: true; challengeToken: string; methods: string[] }>(
      await b.fetch("/v1/auth/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: "prod-passkey@example.org", password: PW }),
      }),
    );
    expect(step).toMatchObject({ mfaRequired: true, methods: ["passkey", "backup_code"] });
    expect(sessionCookie(b)).toBeUndefined();
    const opts = await json<Options>(
      await b.api("POST", "/v1/auth/mfa/passkey/options", { challengeToken: step.challengeToken }),
    );
    const done = await b.api("POST", "/v1/auth/mfa/passkey", {
      challengeToken: step.challengeToken,
      challengeId: opts.challengeId,
      credential: device.get(opts.options),
    });
    expect(done.status, await done.clone().text()).toBe(200);
    expect(sessionCookie(b)).toMatch(/;\s*secure/i);
  });
});
