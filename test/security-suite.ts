import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ApiKeyCache } from "../src/apikeys/cache.js";
import { ApiKeyStore } from "../src/apikeys/store.js";
import type { Extension } from "../src/orgs/extension.js";
import { ROLES, type Role } from "../src/orgs/permissions.js";
import { OrgStore } from "../src/orgs/store.js";
import { accessTokenFixture } from "./access-token-fixture.js";
import { apiKeyFixture } from "./api-key-fixture.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "./harness.js";

/**
 * The shared route security suite. It reads the route table (`ctx.routes`), never a list by hand: every
 * tenant route (a row with an action) is tried, with every credential kind its row accepts, against no
 * credentials, a credential of another organisation, an unknown organisation, credentials lacking the
 * action, and another organisation's resource id in the path. A kind is covered through its fixture; a
 * route accepting a kind the suite has no fixture for fails the suite, so coverage cannot quietly shrink.
 * New credential kinds (API keys, access tokens) plug in a fixture; the suite itself does not change.
 */
export type Headers = Record<string, string>;

/** The suite's world: the app, two organisations (A is probed, B is "another organisation") and their owners. */
export interface World {
  readonly t: TestApp;
  readonly orgA: string;
  readonly orgB: string;
  /** Session headers (cookie and CSRF token) of a user who is OWNER of A, of B, or has `role` in A. */
  readonly sessions: Readonly<Record<"ownerA" | "ownerB" | Role, Headers>>;
  call(
    method: string,
    url: string,
    headers: Headers,
    payload?: object,
    remoteAddress?: string,
    // biome-ignore lint/suspicious/noExplicitAny: the suite reads arbitrary JSON bodies.
  ): Promise<{ statusCode: number; body: string; json(): any }>;
}

/** How the suite obtains credentials of one principal kind. */
export interface CredentialFixture {
  readonly kind: string;
  /** A credential that may do everything in organisation A or B. */
  full(world: World, org: "A" | "B"): Headers | Promise<Headers>;
  /** Credentials in organisation A that lack `action` (each role without it; a scope set without it). */
  lacking(
    world: World,
    action: string,
  ): Array<{ label: string; headers: Headers }> | Promise<Array<{ label: string; headers: Headers }>>;
}

/** Portal sessions: the role decides (the one permission table). */
export const userFixture: CredentialFixture = {
  kind: "user",
  full: (w, org) => (org === "A" ? w.sessions.ownerA : w.sessions.ownerB),
  lacking: (w, action) =>
    ROLES.filter((r) => r !== "OWNER" && !w.t.app.bulwark.permissions.can(r, action)).map((r) => ({
      label: r,
      headers: w.sessions[r],
    })),
};

export interface SuiteOptions {
  readonly extensions?: readonly Extension[];
  /** Fixtures beyond the portal session's, one per extra credential kind. */
  readonly fixtures?: readonly CredentialFixture[];
  /** Adds routes or credential kinds before the app is ready (a test's own). */
  readonly setup?: Parameters<typeof testApp>[1];
}

const PW = "security suite passphrase";

export function securitySuite(name: string, options: SuiteOptions = {}): void {
  describe(`shared route security suite: ${name} (${ENGINE})`, () => {
    const fixtures = new Map<string, CredentialFixture>(
      [userFixture, apiKeyFixture, accessTokenFixture, ...(options.fixtures ?? [])].map((f) => [f.kind, f]),
    );
    let w: World;
    /** A resource of organisation B per path parameter, to plant in organisation A's URLs. */
    const foreign: Record<string, string> = {};

    beforeAll(async () => {
      const t = await testApp({}, options.setup, { extensions: options.extensions ?? [] });
      const sessions: Record<string, Headers> = {};
      const ids: Record<string, string> = {};
      for (const who of ["ownerA", "ownerB", "ADMIN", "MEMBER", "VIEWER"]) {
        const email = `${who.toLowerCase()}@example.org`;
        ids[who] = await createUser(t, email, PW);
        const s = await login(t, email, PW);
        sessions[who] = { cookie: s.cookie, "x-csrf-token": s.csrf };
      }
      const call: World["call"] = (method, url, headers, payload, remoteAddress) =>
        t.app.inject({
          method: method as "GET",
          url,
          headers,
          ...(payload ? { payload } : {}),
          ...(remoteAddress ? { remoteAddress } : {}),
        });
      const orgA = (await call("POST", "/v1/orgs", sessions.ownerA!, { name: "Org A" })).json().org.id;
      const orgB = (await call("POST", "/v1/orgs", sessions.ownerB!, { name: "Org B" })).json().org.id;
      const store = new OrgStore(t.db.global, t.db.engine);
      sessions.OWNER = sessions.ownerA!;
      for (const role of ["ADMIN", "MEMBER", "VIEWER"] as const)
        await store.addMember(orgA, ids[role]!, role, Date.now());
      w = { t, orgA, orgB, sessions: sessions as World["sessions"], call };
      await seedForeign(w, ids.ownerB!);
    });
    afterAll(() => w.t.close());

    async function seedForeign(world: World, ownerB: string): Promise<void> {
      const b = world.sessions.ownerB;
      const has = (url: string) => world.t.app.bulwark.routes.some((r) => r.url === url);
      foreign["members/:userId"] = ownerB;
      const inv = await world.call("POST", `/v1/orgs/${world.orgB}/invitations`, b, {
        email: "someone@example.org",
        role: "VIEWER",
      });
      foreign["invitations/:id"] = inv.json().invitation.id;
      const key = await world.call("POST", `/v1/orgs/${world.orgB}/api-keys`, b, {
        name: "B's key",
        scopes: ["org:read"],
      });
      foreign["api-keys/:id"] = key.json().apiKey.id;
      const audit = world.t.app.bulwark.service("audit");
      await audit.flush();
      foreign["audit-events/:id"] = (await audit.query({ log: world.orgB }, 1))[0]!.id;
      const hook = await world.call("POST", `/v1/orgs/${world.orgB}/webhook-endpoints`, b, {
        url: "https://93.184.216.34/hook",
      });
      foreign["webhook-endpoints/:id"] = hook.json().endpoint.id;
      await world.call(
        "POST",
        `/v1/orgs/${world.orgB}/webhook-endpoints/${foreign["webhook-endpoints/:id"]}/test`,
        b,
        {},
      );
      // The app's own dispatcher may be fanning the test event out at the same moment (on PostgreSQL
      // this call then skips the locked message): wait for the delivery, whoever makes it.
      await vi.waitFor(async () => {
        await world.t.app.bulwark.service("webhookDispatcher").fanOut();
        const [d] = (await world.call("GET", `/v1/orgs/${world.orgB}/webhook-deliveries`, b)).json()
          .deliveries;
        expect(d).toBeDefined();
        foreign["webhook-deliveries/:id"] = d.id;
      });
      const client = await world.call("POST", `/v1/orgs/${world.orgB}/oidc-clients`, b, {
        name: "B's app",
        type: "confidential",
        redirectUris: ["https://b.example.org/callback"],
      });
      foreign["oidc-clients/:id"] = client.json().client.id;
      const upload = await world.call("POST", `/v1/orgs/${world.orgB}/uploads`, b, {
        contentType: "image/png",
        size: 10,
      });
      foreign["uploads/:id"] = upload.json().upload.id;
      if (has("/v1/orgs/:orgId/products/:id")) {
        const p = await world.call("POST", `/v1/orgs/${world.orgB}/products`, b, {
          name: "B's secret",
          sku: "B-1",
          priceCents: 100,
          stock: 1,
        });
        foreign["products/:id"] = p.json().product.id;
      }
      if (has("/v1/orgs/:orgId/orders/:id")) {
        const o = await world.call("POST", `/v1/orgs/${world.orgB}/orders`, b, {
          lines: [{ productId: foreign["products/:id"], quantity: 1 }],
        });
        foreign["orders/:id"] = o.json().order.id;
      }
    }

    /** Fills a route pattern: the org given, and for each resource parameter organisation B's resource. */
    const fill = (url: string, org: string) =>
      url
        .replace(":orgId", org)
        .replace(
          /([a-z-]+)\/:(\w+)/g,
          (_whole: string, resource: string, param: string) =>
            `${resource}/${foreign[`${resource}/:${param}`] ?? "x"}`,
        );
    /** A valid body for the route's resource, so the request reaches the handler when it is allowed to. */
    const body = (method: string, url: string): object | undefined => {
      if (!["POST", "PUT", "PATCH"].includes(method)) return undefined;
      if (url.endsWith("/resend")) return {};
      if (url.endsWith("/rotate")) return { gracePeriodSeconds: 0 };
      if (url.includes("/webhook-messages")) return { type: "probe.sent", data: {} };
      if (url.includes("/webhook-endpoints"))
        return url.endsWith("/:id") || url.endsWith("/webhook-endpoints")
          ? { url: "https://93.184.216.34/probe", description: "probe" }
          : {};
      if (url.includes("/webhook-deliveries")) return {};
      if (url.includes("/api-keys")) return { name: "probe", scopes: ["org:read"] };
      if (url.includes("/oidc-clients"))
        return url.endsWith("/oidc-clients")
          ? { name: "probe", type: "public", redirectUris: ["https://probe.example.org/cb"] }
          : url.endsWith("/:id")
            ? { name: "probe" }
            : {};
      if (url.includes("/orders"))
        return method === "PATCH"
          ? { status: "paid" }
          : { lines: [{ productId: foreign["products/:id"], quantity: 1 }] };
      if (url.includes("/invitations")) return { email: "probe@example.org", role: "VIEWER" };
      if (url.includes("/members")) return { role: "VIEWER" };
      if (url.includes("/products"))
        return method === "PATCH"
          ? { name: "probe" }
          : { name: "probe", sku: "PROBE-1", priceCents: 1, stock: 1 };
      return { name: "probe" };
    };

    const tenantRoutes = () => w.t.app.bulwark.routes.filter((r) => r.security.action && r.method !== "HEAD");
    /** Every (route, accepted kind) pair, each with its fixture; a kind without one fails the suite. */
    const pairs = () =>
      tenantRoutes().flatMap((r) =>
        r.security.accepts.map((kind) => {
          const fixture = fixtures.get(kind);
          if (!fixture)
            throw new Error(`${r.method} ${r.url} accepts "${kind}", but the suite has no fixture for it`);
          return { r, fixture, action: r.security.action! };
        }),
      );

    it("discovers the tenant routes from the route table, each with a fixture for every kind it accepts", () => {
      expect(tenantRoutes().length).toBeGreaterThanOrEqual(8);
      expect(pairs().length).toBeGreaterThanOrEqual(tenantRoutes().length);
    });

    it("AUTHZ-1: every route that needs a principal refuses a caller without credentials (401)", async () => {
      let checked = 0;
      for (const r of w.t.app.bulwark.routes) {
        if (r.security.accepts.length === 0 || r.security.optional || r.method === "HEAD") continue;
        const res = await w.call(r.method, fill(r.url, w.orgA), {}, body(r.method, r.url));
        expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
        checked++;
      }
      expect(checked).toBeGreaterThan(10);
    });

    it("AUTHZ-2: every tenant route answers 404 to another organisation's credential, and for an unknown organisation", async () => {
      for (const { r, fixture } of pairs()) {
        const label = `${fixture.kind} ${r.method} ${r.url}`;
        const other = await w.call(
          r.method,
          fill(r.url, w.orgA),
          await fixture.full(w, "B"),
          body(r.method, r.url),
        );
        expect(other.statusCode, `foreign ${label}`).toBe(404);
        const unknown = await w.call(
          r.method,
          fill(r.url, "org_01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
          await fixture.full(w, "A"),
          body(r.method, r.url),
        );
        expect(unknown.statusCode, `unknown ${label}`).toBe(404);
      }
    });

    it("AUTHZ-1: every tenant route refuses each credential that lacks its action (403)", async () => {
      let checked = 0;
      for (const { r, fixture, action } of pairs()) {
        for (const c of await fixture.lacking(w, action)) {
          const res = await w.call(r.method, fill(r.url, w.orgA), c.headers, body(r.method, r.url));
          expect(res.statusCode, `${fixture.kind} ${c.label} ${r.method} ${r.url}`).toBe(403);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(0);
    });

    it("KEY-4, KEY-5, KEY-6, KEY-7, CORS-3: every route accepting API keys refuses revoked, expired, rotated-past-grace, pinned and malformed keys; a malformed key costs no lookup", async () => {
      let refusals: Awaited<ReturnType<typeof apiKeyFixture.refusals>>;
      try {
        refusals = await apiKeyFixture.refusals(w);
        const routes = tenantRoutes().filter((r) => r.security.accepts.includes("api_key"));
        expect(routes.length).toBeGreaterThanOrEqual(3);
        const lookups = vi.spyOn(ApiKeyStore.prototype, "byHash");
        const cacheReads = vi.spyOn(ApiKeyCache.prototype, "get");
        for (const r of routes)
          for (const x of refusals) {
            const before = lookups.mock.calls.length + cacheReads.mock.calls.length;
            const res = await w.call(
              r.method,
              fill(r.url, w.orgA),
              x.headers,
              body(r.method, r.url),
              x.remoteAddress,
            );
            const label = `${x.label}: ${r.method} ${r.url}`;
            expect(res.statusCode, label).toBe(x.status);
            expect(res.json().error.code, label).toBe(x.code);
            if (x.label === "malformed" || x.label === "bad checksum")
              expect(lookups.mock.calls.length + cacheReads.mock.calls.length, label).toBe(before);
          }
        lookups.mockRestore();
        cacheReads.mockRestore();
      } finally {
        vi.useRealTimers();
      }
    });

    it("AUTHZ-2: another organisation's resource id in the path is not found, even with every right", async () => {
      for (const { r, fixture } of pairs()) {
        if (!/:(id|userId)\b/.test(r.url)) continue;
        const res = await w.call(
          r.method,
          fill(r.url, w.orgA),
          await fixture.full(w, "A"),
          body(r.method, r.url),
        );
        expect(res.statusCode, `${fixture.kind} ${r.method} ${r.url}`).toBe(404);
      }
      if (foreign["products/:id"]) {
        const still = await w.call(
          "GET",
          `/v1/orgs/${w.orgB}/products/${foreign["products/:id"]}`,
          w.sessions.ownerB,
        );
        expect(still.json().product.name).toBe("B's secret");
      }
    });
  });
}
