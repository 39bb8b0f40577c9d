import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../examples/catalog/index.js";
import { OrgStore } from "../src/orgs/store.js";
import { createAdmin } from "./admins.js";
import { createUser, ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "./harness.js";

const PW = "hostile sweep passphrase 9";

/** Statuses each route answered in the sweep, by "METHOD /template": compared with /openapi.json below. */
type Observed = Map<string, Set<number>>;

const PARAMS = [
  "..%2f..%2fetc%2fpasswd",
  "%00",
  "x".repeat(300),
  "' OR 1=1 --",
  "usr_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
];
const BODIES: Array<[string, string]> = [
  ['{"broken": ', "application/json"],
  ["[1,2,3]", "application/json"],
  ['{"unknown": true}', "application/json"],
  ['{"__proto__": {"admin": true}}', "application/json"],
  ['{"constructor": {"prototype": {"admin": true}}}', "application/json"],
  [
    '{"email": 42, "password": [], "name": {}, "role": "GOD", "lines": "x", "status": null}',
    "application/json",
  ],
  [`{"a":${"[".repeat(100)}${"]".repeat(100)}}`, "application/json"],
  ['{"name": "\\u0000\\ud800 bad surrogate"}', "application/json"],
  ["<xml/>", "application/xml"],
  ["name=x", "application/x-www-form-urlencoded"],
];
/** Codes that mean the guard refused: a hostile body or query must get past them to validation. */
const GUARD = new Set([
  "UNAUTHENTICATED",
  "CSRF_FAILED",
  "IMPERSONATION_FORBIDDEN",
  "REAUTH_REQUIRED",
  "HTTPS_REQUIRED",
]);
const INPUT = new Set([
  "VALIDATION_FAILED",
  "INVALID_JSON",
  "FORBIDDEN_PROPERTY",
  "JSON_TOO_DEEP",
  "UNSUPPORTED_MEDIA_TYPE",
]);

/**
 * Schema-valid bodies with hostile content: markup, SQL, bidi controls, odd Unicode, the longest values
 * allowed. They pass validation, so they reach the handler; the answer must still be below 500.
 */
const EVIL = "<img src=x onerror=alert(1)> ' OR 1=1 -- \u202e\u0301 𝕏";
function validBodies(ids: Ids): Record<string, object> {
  return {
    "POST /v1/orgs": { name: EVIL },
    "PATCH /v1/orgs/:orgId": { name: `${EVIL} renamed` },
    "POST /v1/orgs/:orgId/invitations": { email: "o'hara+<b>@example.org", role: "VIEWER" },
    "PATCH /v1/orgs/:orgId/members/:userId": { role: "VIEWER" },
    "POST /v1/orgs/:orgId/products": {
      name: EVIL,
      sku: "EVIL-1",
      priceCents: 1,
      stock: 0,
      descriptionHtml: `<p onclick="x()">${EVIL}</p><script>alert(1)</script>`,
    },
    "PATCH /v1/orgs/:orgId/products/:id": { descriptionHtml: '<a href="javascript:alert(1)">x</a>' },
    "POST /v1/orgs/:orgId/orders": { lines: [{ productId: ids.product, quantity: 10_000 }] },
    "POST /v1/auth/signup": { email: "evil'--@example.org", password: `${EVIL} long enough 42` },
    "POST /v1/auth/login": { email: "o'hara+x@example.org", password: EVIL },
    "POST /v1/auth/password/forgot": { email: "nobody+'--@example.org" },
    "POST /v1/auth/verify-email/resend": { email: "nobody+'--@example.org" },
    "POST /v1/auth/verify-email": { token: `bwv_${"A".repeat(43)}` },
    "POST /v1/auth/password/reset": { token: `bwr_${"A".repeat(43)}`, password: `${EVIL} long enough 42` },
    "POST /v1/auth/reauth": { password: EVIL },
    "POST /v1/invitations/accept": { orgId: ids.org, token: `bwi_${"A".repeat(43)}` },
    "POST /v1/admin/auth/login": { email: "o'hara+x@example.org", password: EVIL, code: "000000" },
    "POST /v1/admin/impersonations": { userId: "usr_01ZZZZZZZZZZZZZZZZZZZZZZZZ", reason: EVIL },
  };
}

const NOT_IN_DOCUMENT = new Set([
  "GET /openapi.json",
  "GET /verify-email",
  "GET /reset-password",
  "GET /forgot-password",
  "GET /accept-invitation",
]);

interface Ids {
  org: string;
  member: string;
  session: string;
  invitation: string;
  product: string;
  order: string;
}

for (const [profile, env] of [
  ["development", {}],
  ["production", { ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" }],
] as const) {
  describe(`hostile input on every route, past the guard (${profile}, ${ENGINE})`, () => {
    let t: TestApp;
    const https = profile === "production" ? { "x-forwarded-proto": "https" } : {};
    let portal: Record<string, string>;
    let admin: Record<string, string>;
    const ids = {} as Ids;
    const observed: Observed = new Map();

    async function signIn(url: string, payload: object): Promise<Record<string, string>> {
      const res = await t.app.inject({ method: "POST", url, payload, headers: https });
      if (res.statusCode !== 200) throw new Error(`${url}: ${res.body}`);
      return {
        cookie: String(res.headers["set-cookie"]).split(";")[0]!,
        "x-csrf-token": res.json().csrfToken,
      };
    }

    beforeAll(async () => {
      t = await testApp(env, undefined, { extensions: [catalog] });
      await createUser(t, "owner@example.org", PW);
      ids.member = await createUser(t, "member@example.org", PW);
      portal = await signIn("/v1/auth/login", { email: "owner@example.org", password: PW });
      await signIn("/v1/auth/login", { email: "owner@example.org", password: PW }); // a second session
      const sweeper = await createAdmin(t, "sweeper@example.org", PW);
      admin = await signIn("/v1/admin/auth/login", {
        email: "sweeper@example.org",
        password: PW,
        code: sweeper.code(),
      });
      const call = async (method: "POST" | "GET", url: string, payload?: object) =>
        (
          await t.app.inject({
            method,
            url,
            ...(payload ? { payload } : {}),
            headers: { ...https, ...portal },
          })
        ).json();
      ids.org = (await call("POST", "/v1/orgs", { name: "Sweep" })).org.id;
      await new OrgStore(t.db.global, t.db.engine).addMember(ids.org, ids.member, "MEMBER", Date.now());
      ids.invitation = (
        await call("POST", `/v1/orgs/${ids.org}/invitations`, {
          email: "invitee@example.org",
          role: "VIEWER",
        })
      ).invitation.id;
      ids.session = (await call("GET", "/v1/me/sessions")).sessions.find(
        (s: { current: boolean }) => !s.current,
      ).id;
      ids.product = (
        await call("POST", `/v1/orgs/${ids.org}/products`, {
          name: "Tea",
          sku: "TEA-1",
          priceCents: 100,
          stock: 5,
        })
      ).product.id;
      ids.order = (
        await call("POST", `/v1/orgs/${ids.org}/orders`, { lines: [{ productId: ids.product, quantity: 1 }] })
      ).order.id;
    });
    afterAll(() => t.close());

    const routes = () =>
      t.app.bulwark.routes.filter(
        (r) =>
          !["HEAD", "OPTIONS"].includes(r.method) &&
          !r.url.includes("*") &&
          !r.url.startsWith("/docs") &&
          !r.url.startsWith("/assets"),
      );
    /** The principal a route accepts: the admin's session, the owner's, or nobody. */
    const principalOf = (accepts: readonly string[]) =>
      accepts.includes("admin") ? admin : accepts.includes("user") ? portal : {};
    const realUrl = (url: string) =>
      url
        .replace(":orgId", ids.org)
        .replace(":userId", ids.member)
        .replace(/\/sessions\/:id$/, `/sessions/${ids.session}`)
        .replace(/\/invitations\/:id/, `/invitations/${ids.invitation}`)
        .replace(/\/products\/:id$/, `/products/${ids.product}`)
        .replace(/\/orders\/:id$/, `/orders/${ids.order}`);

    async function send(
      key: string,
      method: string,
      url: string,
      headers: Record<string, string>,
      body?: [string, string],
    ) {
      const res = await t.app.inject({
        method: method as "GET",
        url,
        headers: { ...https, ...headers, ...(body ? { "content-type": body[1] } : {}) },
        ...(body ? { payload: body[0] } : {}),
      });
      const set = observed.get(key) ?? new Set<number>();
      observed.set(key, set.add(res.statusCode));
      const envelope = res.statusCode >= 400 ? res.json()?.error : undefined;
      return {
        status: res.statusCode,
        code: envelope?.code as string | undefined,
        body: res.body.slice(0, 160),
      };
    }

    it("INPUT-1/OBS-1: every route, called with the principal it accepts, refuses hostile query and bodies at validation, with the envelope", async () => {
      const failures: string[] = [];
      let reached = 0;
      for (const r of routes()) {
        const key = `${r.method} ${r.url}`;
        const who = principalOf(r.security.accepts);
        const url = realUrl(r.url);
        // A hostile query string: every route's query is closed, so this is refused by validation, past the guard.
        const q = await send(key, r.method, `${url}?evil=%3Cscript%3E&__proto__%5Badmin%5D=1`, who);
        if (q.code !== "VALIDATION_FAILED") failures.push(`query ${key}: ${q.status} ${q.body}`);
        else reached++;
        // Hostile bodies: every method, a body-less route included (a body there is refused too).
        for (const b of BODIES) {
          const res = await send(key, r.method, url, who, b);
          if (res.status >= 500 || !res.code)
            failures.push(`body ${key} ${b[0].slice(0, 30)}: ${res.status} ${res.body}`);
          else if (GUARD.has(res.code) || !INPUT.has(res.code))
            failures.push(`guard ${key} ${b[0].slice(0, 30)}: ${res.code}`);
          else reached++;
        }
      }
      expect(failures).toEqual([]);
      expect(reached).toBeGreaterThan(routes().length * 10);
    });

    it("INPUT-1/OBS-1: hostile path parameters get a 4xx with the envelope on every route", async () => {
      const failures: string[] = [];
      for (const r of routes().filter((r) => r.url.includes(":"))) {
        const key = `${r.method} ${r.url}`;
        const params = r.url.match(/:\w+/g) ?? [];
        for (const name of params)
          for (const p of PARAMS) {
            const url = realUrl(r.url.replace(name, p));
            const res = await send(key, r.method, url, principalOf(r.security.accepts));
            if (res.status >= 500 || (res.status >= 400 && !res.code))
              failures.push(`${key} ${name}=${p}: ${res.status} ${res.body}`);
          }
      }
      expect(failures).toEqual([]);
    });

    it("INPUT-1/INPUT-2: schema-valid bodies with hostile content reach the handler and never get a 500", async () => {
      const bodies = validBodies(ids);
      const failures: string[] = [];
      for (const r of routes()) {
        const key = `${r.method} ${r.url}`;
        const body = bodies[key];
        if (!body) continue;
        const res = await send(key, r.method, realUrl(r.url), principalOf(r.security.accepts), [
          JSON.stringify(body),
          "application/json",
        ]);
        if (res.status >= 500 || (res.status >= 400 && !res.code))
          failures.push(`${key}: ${res.status} ${res.body}`);
        else if (
          res.code &&
          (GUARD.has(res.code) || (res.code === "VALIDATION_FAILED" && !/password|email/.test(res.body)))
        )
          failures.push(`not reached ${key}: ${res.code} ${res.body}`);
      }
      // Every route without a body, called as a client would: reads first, then what ends things.
      const bodiless = routes().filter((r) => !bodies[`${r.method} ${r.url}`] && !r.url.includes("/mfa/"));
      const order = (r: { method: string; url: string }) =>
        r.method === "GET" ? 0 : r.url.endsWith("/logout") ? 3 : r.url.startsWith("/v1/admin") ? 2 : 1;
      for (const r of bodiless.sort((a, b) => order(a) - order(b))) {
        if (!["GET", "DELETE"].includes(r.method) && !r.url.endsWith("/logout") && !r.url.endsWith("/resend"))
          continue;
        const key = `${r.method} ${r.url}`;
        const res = await send(key, r.method, realUrl(r.url), principalOf(r.security.accepts));
        if (res.status >= 500 || (res.status >= 400 && !res.code))
          failures.push(`${key}: ${res.status} ${res.body}`);
      }
      expect(failures).toEqual([]);
      expect(Object.keys(bodies).every((k) => observed.has(k))).toBe(true);
    });

    it("INPUT-1: every status a route answered above is declared for it in /openapi.json", async () => {
      const doc = (await t.app.inject({ url: "/openapi.json", headers: https })).json();
      const missing: string[] = [];
      for (const [key, statuses] of observed) {
        const [method = "", url = ""] = key.split(" ");
        const op = doc.paths[url.replace(/:(\w+)/g, "{$1}")]?.[method.toLowerCase()];
        // Not API operations: the document itself and the HTML pages the mails link to.
        if (!op && NOT_IN_DOCUMENT.has(key)) continue;
        for (const s of statuses) if (!op?.responses?.[String(s)]) missing.push(`${key} ${s}`);
      }
      expect(missing).toEqual([]);
    });
  });
}

describe(`SQL metacharacters (${ENGINE})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it("INPUT-2: SQL metacharacters in input are data, never SQL", async () => {
    await createUser(t, "fuzz@example.org", PW);
    const s = await t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "fuzz@example.org", password: PW },
    });
    const cookie = String(s.headers["set-cookie"]).split(";")[0]!;
    const csrf = s.json().csrfToken;
    const name = "Robert'); DROP TABLE organizations;--";
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      payload: { name },
      headers: { cookie, "x-csrf-token": csrf },
    });
    expect(res.statusCode).toBe(201);
    const again = await t.app.inject({ url: `/v1/orgs/${res.json().org.id}`, headers: { cookie } });
    expect(again.json().org.name).toBe(name);
    expect((await t.app.inject({ url: "/v1/orgs", headers: { cookie } })).json().orgs.length).toBe(1);
  });
});
