import type { FastifyInstance } from "fastify";
import { catalog } from "../examples/catalog/index.js";
import type { RegisteredRoute } from "../src/auth/table.js";
import { OrgStore } from "../src/orgs/store.js";
import { createAdmin } from "./admins.js";
import { createUser, type TestApp, testApp } from "./harness.js";
import type { Json, RawBody } from "./hostile-inputs.js";
import { throughProxy } from "./profiles.js";

/**
 * The world the hostile sweep (test/bad-input.test.ts) runs in: the whole app with the catalog extension,
 * in one profile, with a real principal of every surface and real ids for every path parameter, and two
 * probes that tell how far each request got: past the guard pipeline (authentication, CSRF,
 * impersonation, re-auth, tenant and permission checks), and into the handler (past parsing and
 * validation).
 */

/** The surfaces a request can come from: each is a real principal (or none). */
export type Surface = "anonymous" | "portal" | "impersonation" | "admin" | "apikey" | "token";
export const SURFACES: readonly Surface[] = [
  "anonymous",
  "portal",
  "impersonation",
  "admin",
  "apikey",
  "token",
];

export const PW = "hostile sweep passphrase 9";

/** Real ids for the path parameters, each created through the API (or the store, for a second member). */
export interface Ids {
  /** The organisation the portal user owns. */
  org: string;
  /** The portal user (OWNER of `org`), also the user the admin impersonates. */
  owner: string;
  /** A second member of `org`, for `:userId`. */
  member: string;
  /** Another session of the portal user, for `DELETE /v1/me/sessions/:id`. */
  session: string;
  invitation: string;
  product: string;
  order: string;
  /** A key of `org` for the key management routes (not the one the apikey surface calls with). */
  apiKey: string;
  /** An entry of the organisation's audit log. */
  auditEvent: string;
  /** A webhook endpoint of `org`, and a delivery to it. */
  webhookEndpoint: string;
  webhookDelivery: string;
  /** An OpenID Connect client of `org`. */
  oidcClient: string;
  /** An upload link of `org` (DATA-3), its file never sent. */
  upload: string;
}

/** One request of the sweep and what became of it. */
export interface Sent {
  readonly key: string;
  readonly surface: Surface;
  readonly label: string;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly code: string | undefined;
  /** The response's media type (no parameters), or undefined for an empty body. */
  readonly media: string | undefined;
  /** An error status with `{ error: { code, message, requestId } }`, the request id matching the header. */
  readonly envelope: boolean;
  readonly pastGuard: boolean;
  readonly reached: boolean;
  readonly body: string;
}

export interface SendOptions {
  readonly label: string;
  readonly method: string;
  readonly url: string;
  /** JSON to send, or a raw body with its Content-Type. */
  readonly body?: Json | RawBody;
  readonly headers?: Record<string, string>;
  /** The client address (through the proxy in production); a fresh one per request by default. */
  readonly ip?: string;
}

type Doc = {
  paths: Record<string, Record<string, Record<string, unknown>>>;
  components: { securitySchemes: Record<string, unknown> };
};

const isRaw = (b: Json | RawBody | undefined): b is RawBody =>
  typeof b === "object" &&
  b !== null &&
  !Array.isArray(b) &&
  Object.keys(b).sort().join() === "name,text,type";

export class SweepWorld {
  readonly sent: Sent[] = [];
  readonly ids = {} as Ids;
  readonly headers: Record<Surface, Record<string, string>> = {
    anonymous: {},
    portal: {},
    impersonation: {},
    admin: {},
    apikey: {},
    token: {},
  };
  doc!: Doc;
  private adminCode!: (offsetMs?: number) => string;
  private adminLogins = 0;
  private nextIp = 0;

  private constructor(
    readonly t: TestApp,
    readonly profile: string,
    private readonly pastGuard: Set<string>,
    private readonly reached: Set<string>,
  ) {}

  get app(): FastifyInstance {
    return this.t.app;
  }

  static async build(profile: string, env: Record<string, string>): Promise<SweepWorld> {
    const pastGuard = new Set<string>();
    const reached = new Set<string>();
    // Root hooks run in the order they were added, so these two run after the app's own: the onRequest
    // probe after the HTTPS policy and the guard pipeline (a refusal there ends the request first), the
    // preHandler probe after parsing and validation. The first says "the guard let it through", the
    // second "the handler ran". (test/bad-input.test.ts checks both against known refusals.)
    const t = throughProxy(
      await testApp(
        env,
        (app) => {
          app.addHook("onRequest", (req, _reply, done) => {
            pastGuard.add(req.id);
            done();
          });
          app.addHook("preHandler", (req, _reply, done) => {
            reached.add(req.id);
            done();
          });
        },
        { extensions: [catalog] },
      ),
      profile,
    );
    const w = new SweepWorld(t, profile, pastGuard, reached);
    await w.setUp();
    return w;
  }

  close(): Promise<void> {
    return this.t.close();
  }

  /** Every route of the route table the sweep calls: all but preflights, static files and the docs UI. */
  routes(): RegisteredRoute[] {
    return this.app.bulwark.routes.filter(
      (r) =>
        !["HEAD", "OPTIONS"].includes(r.method) &&
        !r.url.includes("*") &&
        !r.url.startsWith("/docs") &&
        !r.url.startsWith("/assets"),
    );
  }

  /** The surfaces whose principal a route accepts (an optional credential: anonymous too). */
  surfacesOf(r: RegisteredRoute): Surface[] {
    const s = r.security;
    const out: Surface[] = [];
    if (s.accepts.length === 0 || s.optional) out.push("anonymous");
    if (s.accepts.includes("user")) {
      out.push("portal");
      if (s.impersonation === "allow") out.push("impersonation");
    }
    if (s.accepts.includes("admin")) out.push("admin");
    if (s.accepts.includes("api_key")) out.push("apikey");
    if (s.accepts.includes("access_token")) out.push("token");
    return out;
  }

  /** The route's URL with real ids in its path parameters. */
  realUrl(template: string): string {
    return (
      template
        .replace(":orgId", this.ids.org)
        .replace(":userId", this.ids.member)
        .replace(/\/sessions\/:id$/, `/sessions/${this.ids.session}`)
        .replace(/\/invitations\/:id/, `/invitations/${this.ids.invitation}`)
        .replace(/\/api-keys\/:id/, `/api-keys/${this.ids.apiKey}`)
        .replace(/\/audit-events\/:id/, `/audit-events/${this.ids.auditEvent}`)
        .replace(/\/webhook-endpoints\/:id/, `/webhook-endpoints/${this.ids.webhookEndpoint}`)
        .replace(/\/oidc-clients\/:id/, `/oidc-clients/${this.ids.oidcClient}`)
        // The sweep's user has no passkey: the handler answers that this one is not found.
        .replace(/\/passkeys\/:id$/, "/passkeys/bWFkZS11cC1jcmVkZW50aWFsLWlk")
        // No external provider is configured: the handler answers that this one does not exist.
        .replace(/\/:provider(\/|$)/, "/google$1")
        .replace(/\/identities\/:id$/, "/identities/xid_01JD8X5K2M3N4P5Q6R7S8T9V0W")
        // No sign-in request is under way: the handler answers that it has expired.
        .replace(/^\/authorize\/:uid/, "/authorize/yQ3kX9bLr2TnW8cVd5HmA")
        .replace(/\/webhook-deliveries\/:id/, `/webhook-deliveries/${this.ids.webhookDelivery}`)
        .replace(/\/quotas\/:unit$/, "/quotas/api_requests")
        .replace(/\/products\/:id$/, `/products/${this.ids.product}`)
        .replace(/\/orders\/:id$/, `/orders/${this.ids.order}`)
        .replace(/\/uploads\/:id$/, `/uploads/${this.ids.upload}`)
        .replace(/^(\/v1\/storage\/orgs\/[^/]+)\/:id$/, `$1/${this.ids.upload}`)
    );
  }

  /** The document's operation for a route. */
  operation(key: string): Record<string, unknown> | undefined {
    const [method = "", url = ""] = key.split(" ");
    return this.doc.paths[url.replace(/:(\w+)/g, "{$1}")]?.[method.toLowerCase()];
  }

  /** A fresh client address: per-address limits then count each request on its own. */
  private ip(): string {
    const n = ++this.nextIp;
    return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  }

  /** Sends one request as `surface` and records what became of it; `json()` parses the whole answer. */
  async send(
    key: string,
    surface: Surface,
    o: SendOptions,
  ): Promise<Sent & { json(): Record<string, unknown> }> {
    const { sent, res } = await this.request(key, surface, o);
    return { ...sent, json: () => res.json() };
  }

  private async request(key: string, surface: Surface, o: SendOptions) {
    const raw = isRaw(o.body) ? o.body : undefined;
    const payload = o.body === undefined ? undefined : raw ? raw.text : JSON.stringify(o.body);
    const type = o.body === undefined ? undefined : (raw?.type ?? "application/json");
    const res = await this.app.inject({
      method: o.method as "GET",
      url: o.url,
      remoteAddress: o.ip ?? this.ip(),
      headers: {
        ...this.headers[surface],
        ...(type ? { "content-type": type } : {}),
        ...o.headers,
      },
      ...(payload !== undefined ? { payload } : {}),
    });
    const id = String(res.headers["x-request-id"] ?? "");
    const media = res.body.length
      ? String(res.headers["content-type"] ?? "")
          .split(";")[0]
          ?.trim()
      : undefined;
    let error: { code?: unknown; message?: unknown; requestId?: unknown } | undefined;
    try {
      error = res.statusCode >= 400 ? JSON.parse(res.body)?.error : undefined;
    } catch {
      error = undefined;
    }
    const sent: Sent = {
      key,
      surface,
      label: o.label,
      method: o.method,
      url: o.url.length > 120 ? `${o.url.slice(0, 120)}…` : o.url,
      status: res.statusCode,
      code: typeof error?.code === "string" ? error.code : undefined,
      media,
      envelope:
        typeof error?.code === "string" &&
        typeof error.message === "string" &&
        error.requestId === id &&
        id.length > 0,
      pastGuard: this.pastGuard.has(id),
      reached: this.reached.has(id),
      body: res.body.slice(0, 200),
    };
    this.sent.push(sent);
    return { sent, res };
  }

  /** A set-up or liveness request, recorded like the others (its statuses are real ones too). */
  private async call(
    method: string,
    template: string,
    surface: Surface,
    payload?: Json,
  ): Promise<{ status: number; json: () => Record<string, unknown>; headers: Record<string, unknown> }> {
    const { res } = await this.request(`${method} ${template}`, surface, {
      label: "set-up",
      method,
      url: this.ids.org ? this.realUrl(template) : template,
      ip: "127.0.0.1",
      ...(payload !== undefined ? { body: payload } : {}),
    });
    return { status: res.statusCode, json: () => res.json(), headers: res.headers };
  }

  private async signIn(surface: "portal" | "admin"): Promise<void> {
    const admin = surface === "admin";
    const res = await this.call(
      "POST",
      admin ? "/v1/admin/auth/login" : "/v1/auth/login",
      "anonymous",
      admin
        ? { email: "sweeper@example.org", password: PW, code: this.adminCode(30_000 * this.adminLogins++) }
        : { email: "owner@example.org", password: PW },
    );
    if (res.status !== 200) throw new Error(`${surface} sign-in: ${res.status}`);
    this.headers[surface] = {
      cookie: String(res.headers["set-cookie"]).split(";")[0]!,
      "x-csrf-token": String(res.json().csrfToken),
    };
  }

  private async impersonate(): Promise<void> {
    const res = await this.call("POST", "/v1/admin/impersonations", "admin", {
      userId: this.ids.owner,
      reason: "Hostile sweep: every route as the impersonated owner",
    });
    if (res.status !== 201) throw new Error(`impersonation: ${res.status}`);
    this.headers.impersonation = {
      cookie: String(res.headers["set-cookie"]).split(";")[0]!,
      "x-csrf-token": String(res.json().csrfToken),
    };
  }

  /** Signs a surface in again if an earlier request ended its session (sign-out, "end other sessions"). */
  async ensure(surface: Surface): Promise<void> {
    if (surface === "anonymous" || surface === "apikey" || surface === "token") return;
    const probe = surface === "admin" ? "/v1/admin/orgs" : "/v1/me";
    if ((await this.call("GET", probe, surface)).status === 200) return;
    if (surface === "impersonation") {
      await this.ensure("admin");
      await this.impersonate();
    } else await this.signIn(surface);
  }

  private async setUp(): Promise<void> {
    const t = this.t;
    this.ids.owner = await createUser(t, "owner@example.org", PW);
    this.ids.member = await createUser(t, "member@example.org", PW);
    await this.signIn("portal");
    // A second session of the owner, for DELETE /v1/me/sessions/:id.
    const second = await this.call("POST", "/v1/auth/login", "anonymous", {
      email: "owner@example.org",
      password: PW,
    });
    if (second.status !== 200) throw new Error(`second session: ${second.status}`);
    const sweeper = await createAdmin(t, "sweeper@example.org", PW);
    this.adminCode = sweeper.code;
    await this.signIn("admin");
    const as = async (method: string, url: string, payload?: Json) => {
      const res = await this.call(method, url, "portal", payload);
      if (res.status >= 300) throw new Error(`${method} ${url}: ${res.status}`);
      return res.json() as Record<string, Record<string, string>>;
    };
    this.ids.org = (await as("POST", "/v1/orgs", { name: "Sweep" })).org!.id!;
    // From here on, set-up requests name their route by its template (realUrl fills in the ids).
    await new OrgStore(t.db.global, t.db.engine).addMember(
      this.ids.org,
      this.ids.member,
      "MEMBER",
      Date.now(),
    );
    this.ids.invitation = (
      await as("POST", "/v1/orgs/:orgId/invitations", { email: "invitee@example.org", role: "VIEWER" })
    ).invitation!.id!;
    const sessions = (await as("GET", "/v1/me/sessions")).sessions as unknown as Array<{
      id: string;
      current: boolean;
    }>;
    this.ids.session = sessions.find((s) => !s.current)!.id;
    this.ids.product = (
      await as("POST", "/v1/orgs/:orgId/products", {
        name: "Tea",
        sku: "TEA-1",
        priceCents: 100,
        stock: 500,
      })
    ).product!.id!;
    this.ids.upload = (await as("POST", "/v1/orgs/:orgId/uploads", { contentType: "image/png", size: 10 }))
      .upload!.id!;
    this.ids.order = (
      await as("POST", "/v1/orgs/:orgId/orders", {
        lines: [{ productId: this.ids.product, quantity: 1 }],
      })
    ).order!.id!;
    // The apikey surface: a key holding every scope; and a second key for the management routes' :id.
    const scopes = t.app.bulwark.service("apiKeys").scopes();
    const key = await as("POST", "/v1/orgs/:orgId/api-keys", { name: "sweep", scopes } as unknown as Json);
    this.headers.apikey = { "x-api-key": key.key as unknown as string };
    // The token surface: the owner's access token with every scope (a JWT: no session to end).
    const token = await as("POST", "/v1/auth/token", { orgId: this.ids.org });
    this.headers.token = { authorization: `Bearer ${token.accessToken as unknown as string}` };
    this.ids.apiKey = (
      await as("POST", "/v1/orgs/:orgId/api-keys", { name: "managed", scopes: ["org:read"] })
    ).apiKey!.id!;
    // A public address given literally: no resolver is asked (the sweep runs without a network).
    this.ids.webhookEndpoint = (
      await as("POST", "/v1/orgs/:orgId/webhook-endpoints", { url: "https://93.184.216.34/sweep" })
    ).endpoint!.id!;
    await as("POST", "/v1/orgs/:orgId/webhook-endpoints/:id/test", {});
    this.ids.oidcClient = (
      await as("POST", "/v1/orgs/:orgId/oidc-clients", {
        name: "sweep",
        type: "confidential",
        redirectUris: ["https://app.example.org/callback"],
      })
    ).client!.id!;
    // The app's own dispatcher may be fanning it out at the same moment: wait for the delivery.
    for (let tries = 0; !this.ids.webhookDelivery; tries++) {
      await t.app.bulwark.service("webhookDispatcher").fanOut();
      const list = (await as("GET", "/v1/orgs/:orgId/webhook-deliveries")).deliveries as unknown as {
        id: string;
      }[];
      if (list[0]) this.ids.webhookDelivery = list[0].id;
      else if (tries > 100) throw new Error("the sweep's webhook delivery never appeared");
      else await new Promise((r) => setTimeout(r, 20));
    }
    const audit = t.app.bulwark.service("audit");
    await audit.flush();
    this.ids.auditEvent = (await audit.query({ log: this.ids.org }, 1))[0]!.id;
    await this.impersonate();
    const doc = await this.call("GET", "/openapi.json", "anonymous");
    if (doc.status !== 200) throw new Error(`/openapi.json: ${doc.status}`);
    this.doc = doc.json() as unknown as Doc;
  }
}
