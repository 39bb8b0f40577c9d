import { writeFileSync } from "node:fs";
import { Secret, TOTP } from "otpauth";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RegisteredRoute } from "../src/auth/table.js";
import { CONSOLE_PAGES } from "../src/console/capability.js";
import { createUser, ENGINE, type TestApp, testApp } from "./harness.js";
import {
  exampleOf,
  hostileValidBodies,
  hostileValidQueries,
  invalidBodies,
  invalidQueries,
  type Json,
  PARAMS,
  QUERIES,
  rawBodies,
} from "./hostile-inputs.js";
import { PROFILES } from "./profiles.js";
import { PW, type Sent, type Surface, SweepWorld } from "./sweep-world.js";

const CONSOLE_ROUTES: ReadonlySet<string> = new Set(CONSOLE_PAGES);

/**
 * The hostile-input sweep (INPUT-1, INPUT-2, OBS-1). For every route of the route table and every surface
 * it accepts (anonymous, a portal session with its CSRF token, an admin impersonating that user, a
 * platform admin), with a real organisation the user owns and real ids in every path parameter: hostile
 * queries, bodies (every method) and path parameters are refused at parsing or validation, past the
 * guard; realistic bodies (the document's own examples) and schema-valid bodies with hostile content
 * reach the handler. Two probes tell how far each request got (test/sweep-world.ts). No request may get a
 * 5xx, or an error without the envelope. Every status, code and media type observed is declared for its
 * route in /openapi.json.
 */

/** Codes of a refusal at parsing or validation: the guard let the request through, the handler did not run. */
const INPUT = new Set([
  "VALIDATION_FAILED",
  "INVALID_JSON",
  "FORBIDDEN_PROPERTY",
  "JSON_TOO_DEEP",
  "UNSUPPORTED_MEDIA_TYPE",
  "PAYLOAD_TOO_LARGE",
]);

/**
 * Known open defects the sweep found in code outside it, each with the exact request: reported, to be
 * fixed by the owner of that code, and removed from here then. The sweep stays green while they are
 * open, and a test fails once one no longer occurs, so this list cannot go stale.
 */
interface Defect {
  readonly profile?: "development" | "production";
  readonly key: string;
  /** Matches the failing request's label (a substring). */
  readonly label: string;
  readonly why: string;
}
const KNOWN_DEFECTS: readonly Defect[] = [];

interface Failure {
  readonly key: string;
  readonly label: string;
  readonly text: string;
}

const METRICS_TOKEN = "mt-Zq8vR3nX6wL1cT9bY4kP7sD2fH5jG0aE";

for (const [profile, env] of PROFILES) {
  describe(`hostile input on every route, past the guard (${profile}, ${ENGINE})`, () => {
    let w: SweepWorld;
    const failures: Failure[] = [];
    /** The failures of one test, less the known defects (each of which is marked as seen). */
    const seen = new Set<Defect>();
    const unexpected = (from: number): string[] =>
      failures.slice(from).flatMap((f) => {
        const known = KNOWN_DEFECTS.find(
          (d) => d.key === f.key && f.label.includes(d.label) && (!d.profile || d.profile === profile),
        );
        if (known) seen.add(known);
        return known ? [] : [f.text];
      });

    beforeAll(async () => {
      w = await SweepWorld.build(profile, {
        ...env,
        ...(profile === "production" ? { METRICS_TOKEN } : {}),
      });
    });
    afterAll(() => w?.close());

    const STREAMED = new Set(["PUT /v1/storage/orgs/:orgId/:id"]);
    const keyOf = (r: RegisteredRoute) => `${r.method} ${r.url}`;
    const describeSent = (s: Sent) =>
      `${s.key} as ${s.surface}, ${s.label}: ${s.status} ${s.code ?? ""} ${s.status >= 400 && !s.envelope ? `(no envelope) ${s.body}` : ""}`.trim();

    /** No 5xx, and the envelope on every error: the rule for every request of the sweep. */
    function sound(s: Sent): boolean {
      if (s.status >= 500 || (s.status >= 400 && !s.envelope)) {
        failures.push({ key: s.key, label: s.label, text: `broken: ${describeSent(s)} ${s.body}` });
        return false;
      }
      return true;
    }
    /** Refused at parsing or validation: past the guard, short of the handler, with an input code. */
    function refusedAtInput(s: Sent): void {
      if (!sound(s)) return;
      if (!s.pastGuard || s.reached || !s.code || !INPUT.has(s.code))
        failures.push({
          key: s.key,
          label: s.label,
          text: `not refused at input: ${describeSent(s)} (past guard: ${s.pastGuard}, handler: ${s.reached})`,
        });
    }
    /**
     * A route whose body is a file, not JSON (the local store's signed upload, DATA-3): nothing parses
     * it, and without a valid link the handler refuses it before reading a byte.
     */
    function refusedByLink(s: Sent): void {
      if (!sound(s)) return;
      if (s.code !== "UPLOAD_LINK_INVALID")
        failures.push({
          key: s.key,
          label: s.label,
          text: `not refused by the link check: ${describeSent(s)}`,
        });
    }
    /** Reached the handler. */
    function reachedHandler(s: Sent): void {
      if (!sound(s)) return;
      if (!s.reached)
        failures.push({
          key: s.key,
          label: s.label,
          text: `did not reach the handler: ${describeSent(s)} (past guard: ${s.pastGuard}) ${s.body}`,
        });
    }

    /** The route's body schema and query schema, as /openapi.json publishes them. */
    const bodySchemaOf = (key: string) =>
      (w.operation(key)?.requestBody as { content?: Record<string, { schema?: Record<string, unknown> }> })
        ?.content?.["application/json"]?.schema;
    const querySchemaOf = (key: string) => {
      const params = (
        (w.operation(key)?.parameters ?? []) as Array<{
          in: string;
          name: string;
          required?: boolean;
          schema: Record<string, unknown>;
        }>
      ).filter((p) => p.in === "query");
      return {
        type: "object",
        properties: Object.fromEntries(params.map((p) => [p.name, p.schema])),
        required: params.filter((p) => p.required).map((p) => p.name),
        additionalProperties: false,
      };
    };
    /** The document's example ids replaced by real ones, so an example body acts on real rows. */
    const withRealIds = (v: Json): Json =>
      JSON.parse(
        JSON.stringify(v)
          .replaceAll(/"org_[0-9A-Z]{26}"/g, JSON.stringify(w.ids.org))
          .replaceAll(/"prd_[0-9A-Z]{26}"/g, JSON.stringify(w.ids.product)),
      );
    /** A valid body for the route, from the document's examples: what "Try it out" sends. */
    const exampleBody = (key: string): Json | undefined => {
      const schema = bodySchemaOf(key);
      return schema ? withRealIds(exampleOf(schema) as Json) : undefined;
    };
    const bodyLimit = () => w.t.config.http.bodyLimit;
    /** Headers a route needs beyond the surface's own: the metrics token in production. */
    const extra = (key: string): Record<string, string> =>
      key === "GET /metrics" && profile === "production" ? { authorization: `Bearer ${METRICS_TOKEN}` } : {};

    it("the probes: a request the guard refuses is not past it; one it lets through reaches the handler", async () => {
      const cases: Array<[Surface, string, string, boolean]> = [
        ["anonymous", "GET /v1/me", "/v1/me", false],
        ["portal", "GET /v1/me", "/v1/me", true],
        // Someone else's (here: no one's) organisation: the tenant check's 404.
        ["portal", "GET /v1/orgs/:orgId", "/v1/orgs/org_01JD8X3YQ6V2M4K7N9P5R0S1TW", false],
        ["impersonation", "DELETE /v1/me/sessions", "/v1/me/sessions", false],
        ["admin", "GET /v1/me", "/v1/me", false],
        ["portal", "GET /v1/orgs/:orgId", w.realUrl("/v1/orgs/:orgId"), true],
      ];
      for (const [surface, key, url, passes] of cases) {
        const [method = ""] = key.split(" ");
        const s = await w.send(key, surface, { label: "probe check", method, url });
        expect([s.pastGuard, s.reached], describeSent(s)).toEqual([passes, passes]);
      }
      // A write without the CSRF token is refused by the guard.
      const csrf = await w.send("POST /v1/orgs", "portal", {
        label: "probe check",
        method: "POST",
        url: "/v1/orgs",
        body: { name: "No token" },
        headers: { "x-csrf-token": "" },
      });
      expect([csrf.code, csrf.pastGuard], describeSent(csrf)).toEqual(["CSRF_FAILED", false]);
    });

    it("INPUT-1/INPUT-3: hostile query strings are refused at validation on every route, for every surface", async () => {
      const from = failures.length;
      let refused = 0;
      for (const r of w.routes()) {
        const key = keyOf(r);
        const schema = querySchemaOf(key);
        for (const surface of w.surfacesOf(r)) {
          await w.ensure(surface);
          const url = w.realUrl(r.url);
          // The console's pages ignore parameters they do not read (a static shell; a tracker's utm_source
          // must not break a mail link): only their own parameters' bad values are refused there.
          const generic = CONSOLE_ROUTES.has(r.url) ? [] : QUERIES;
          for (const q of [...generic, ...invalidQueries(schema)]) {
            const s = await w.send(key, surface, {
              label: `query ${q.slice(0, 40)}`,
              method: r.method,
              url: `${url}?${q}`,
              headers: extra(key),
            });
            refusedAtInput(s);
            if (s.code === "VALIDATION_FAILED") refused++;
          }
        }
      }
      expect(unexpected(from)).toEqual([]);
      expect(refused).toBeGreaterThan(w.routes().length * QUERIES.length);
    });

    it("INPUT-1/INPUT-5: hostile bodies are refused at parsing or validation on every route and method, for every surface", async () => {
      const from = failures.length;
      const raw = rawBodies(bodyLimit());
      for (const r of w.routes()) {
        const key = keyOf(r);
        const schema = bodySchemaOf(key);
        const base = exampleBody(key);
        const bodies = [
          ...raw.map((b) => ({ label: `body: ${b.name}`, body: b as Json | (typeof raw)[number] })),
          // A body on a route that declares none is refused, even an empty object (INPUT-1).
          ...(schema
            ? invalidBodies(schema, base as Json).map((m) => ({ label: `body: ${m.name}`, body: m.body }))
            : [{ label: "body: {} on a route without one", body: {} }]),
        ];
        for (const surface of w.surfacesOf(r)) {
          await w.ensure(surface);
          for (const b of bodies) {
            const s = await w.send(key, surface, {
              label: b.label,
              method: r.method,
              url: w.realUrl(r.url),
              body: b.body,
              headers: extra(key),
            });
            if (STREAMED.has(key)) refusedByLink(s);
            else refusedAtInput(s);
            // A hostile body that got through may have ended the session (a sign-out): sign in again.
            if (s.reached) await w.ensure(surface);
          }
        }
      }
      expect(unexpected(from)).toEqual([]);
    });

    it("INPUT-1: hostile path parameters get a 4xx with the envelope; past the organisation, validation refuses them", async () => {
      const from = failures.length;
      for (const r of w.routes().filter((r) => r.url.includes(":"))) {
        const key = keyOf(r);
        for (const surface of w.surfacesOf(r)) {
          await w.ensure(surface);
          for (const name of r.url.match(/:\w+/g) ?? [])
            for (const p of PARAMS) {
              const url = w.realUrl(r.url.replace(name, p));
              const s = await w.send(key, surface, {
                label: `param ${name}=${p.slice(0, 30)}`,
                method: r.method,
                url,
              });
              if (!sound(s)) continue;
              if (s.status < 400)
                failures.push({ key, label: s.label, text: `accepted: ${describeSent(s)} ${s.body}` });
              // The router answers an undecodable or over-long segment before any hook; the organisation
              // is the tenant check's (a 404); any other parameter is the validation's or the handler's.
              const router = s.code === "URI_TOO_LONG" || s.code === "BAD_REQUEST";
              if (name !== ":orgId" && !router && !s.pastGuard)
                failures.push({ key, label: s.label, text: `stopped at the guard: ${describeSent(s)}` });
            }
        }
      }
      expect(unexpected(from)).toEqual([]);
    });

    /** Order of the calls that act: reads, then writes, then what removes things, then what ends sessions. */
    const LAST = [
      "DELETE /v1/me/sessions/:id",
      "DELETE /v1/me/sessions",
      "POST /v1/auth/logout",
      "DELETE /v1/admin/impersonations/current",
      "POST /v1/admin/auth/logout",
    ];
    const rank = (key: string) =>
      LAST.includes(key)
        ? 3 + LAST.indexOf(key)
        : key.startsWith("GET ")
          ? 0
          : key.startsWith("DELETE ")
            ? 2
            : 1;
    /** Bodies that succeed where the example (deliberately unknown ids and passwords) is refused. */
    const successBodies = (): Record<string, Json> => ({
      "POST /v1/auth/login": { email: "owner@example.org", password: PW },
      "POST /v1/auth/reauth": { password: PW },
      "POST /v1/me/mfa/totp": { password: PW },
      "POST /v1/admin/impersonations": {
        userId: w.ids.member,
        reason: "Hostile sweep: a second impersonation",
      },
      "PATCH /v1/orgs/:orgId/products/:id": { stock: 7 },
      "PATCH /v1/orgs/:orgId/orders/:id": { status: "paid" },
    });

    /** Calls each route as a client would, with the document's example body; then with a succeeding one. */
    async function controls(which: (rank: number) => boolean): Promise<void> {
      const routes = w
        .routes()
        .filter((r) => which(rank(keyOf(r))))
        .sort((a, b) => rank(keyOf(a)) - rank(keyOf(b)));
      for (const r of routes) {
        const key = keyOf(r);
        for (const surface of w.surfacesOf(r)) {
          if (key === "DELETE /v1/admin/impersonations/current") await w.ensure("impersonation");
          await w.ensure(surface);
          const example = exampleBody(key);
          const url = w.realUrl(r.url);
          const call = (label: string, body: Json | undefined) =>
            w.send(key, surface, {
              label,
              method: r.method,
              url,
              headers: extra(key),
              ...(body !== undefined ? { body } : {}),
            });
          reachedHandler(await call("example", example));
          const success = successBodies()[key];
          if (success) reachedHandler(await call("succeeding body", success));
        }
      }
    }

    it("every route, for every surface it accepts, reaches its handler with the document's example (reads and writes)", async () => {
      const from = failures.length;
      await controls((n) => n < 2);
      expect(unexpected(from)).toEqual([]);
    });

    it("schema-valid bodies and queries with hostile content (markup, SQL, controls, odd Unicode) reach the handler and never break it", async () => {
      const from = failures.length;
      for (const r of w.routes()) {
        const key = keyOf(r);
        const schema = bodySchemaOf(key);
        const url = w.realUrl(r.url);
        for (const surface of w.surfacesOf(r)) {
          await w.ensure(surface);
          if (schema && rank(key) < 3)
            for (const m of hostileValidBodies(schema, exampleBody(key) as Json))
              reachedHandler(
                await w.send(key, surface, {
                  label: `hostile content ${m.name}`,
                  method: r.method,
                  url,
                  body: m.body,
                }),
              );
          if (r.method === "GET")
            for (const q of hostileValidQueries(querySchemaOf(key)))
              reachedHandler(
                await w.send(key, surface, {
                  label: `hostile query ${q}`,
                  method: r.method,
                  url: `${url}?${q}`,
                  headers: extra(key),
                }),
              );
        }
      }
      expect(unexpected(from)).toEqual([]);
    });

    it("hostile headers (foreign Origin and Host, doubled cookies and tokens, overrides, huge values) never break a route", async () => {
      const from = failures.length;
      const cookie = (w.doc.components.securitySchemes.portalSession as { name: string }).name;
      const variants: Array<[string, (h: Record<string, string>) => Record<string, string | string[]>]> = [
        ["a foreign Origin", () => ({ origin: "https://evil.example" })],
        ["a foreign Host", () => ({ host: "evil.example" })],
        ["a cross-site fetch", () => ({ "sec-fetch-site": "cross-site" })],
        [
          "a second, forged session cookie",
          (h) => ({ cookie: `${h.cookie ?? ""}; ${cookie}=forged-${"A".repeat(40)}` }),
        ],
        ["a session cookie with markup", () => ({ cookie: `${cookie}=<script>alert(1)</script>` })],
        ["two CSRF tokens", (h) => ({ "x-csrf-token": [h["x-csrf-token"] ?? "", "forged"] })],
        [
          "method and URL overrides",
          () => ({
            "x-http-method-override": "DELETE",
            "x-original-url": "/v1/admin/users",
            "x-rewrite-url": "/v1/admin/users",
          }),
        ],
        [
          "forwarding headers from an untrusted client",
          () => ({
            "x-forwarded-host": "evil.example",
            forwarded: "for=1.2.3.4;host=evil.example;proto=http",
            "x-real-ip": "1.2.3.4",
          }),
        ],
        ["a 16 KB header", () => ({ "x-padding": "a".repeat(16_000) })],
        ["an odd Accept", () => ({ accept: "application/xml;q=1, text/html;q=0.1" })],
      ];
      for (const r of w.routes().filter((r) => rank(keyOf(r)) < 2)) {
        const key = keyOf(r);
        const body = exampleBody(key);
        for (const surface of w.surfacesOf(r)) {
          for (const [label, headers] of variants) {
            await w.ensure(surface);
            sound(
              await w.send(key, surface, {
                label: `header: ${label}`,
                method: r.method,
                url: w.realUrl(r.url),
                headers: { ...extra(key), ...(headers(w.headers[surface]) as Record<string, string>) },
                ...(body !== undefined ? { body } : {}),
              }),
            );
          }
        }
      }
      expect(unexpected(from)).toEqual([]);
      // Eleven variants on every route and surface, one after another: about 20 s on SQLite and past 30 s
      // on PostgreSQL on a 2-vCPU machine while the rest of the suite runs beside it.
    }, 120_000);

    it("AUTHZ-4: where the route table refuses impersonation, the impersonating admin is stopped by the guard", async () => {
      const from = failures.length;
      for (const r of w
        .routes()
        .filter((r) => r.security.accepts.includes("user") && r.security.impersonation === "refuse")) {
        const key = keyOf(r);
        await w.ensure("impersonation");
        const s = await w.send(key, "impersonation", {
          label: "impersonation refused",
          method: r.method,
          url: w.realUrl(r.url),
          ...(exampleBody(key) !== undefined ? { body: exampleBody(key) as Json } : {}),
        });
        if (sound(s) && (s.code !== "IMPERSONATION_FORBIDDEN" || s.pastGuard))
          failures.push({ key, label: s.label, text: `not refused: ${describeSent(s)}` });
      }
      expect(unexpected(from)).toEqual([]);
    });

    it("AUTH-8: the second-factor routes succeed as documented for a user who turns TOTP on, signs in with it and off", async () => {
      const from = failures.length;
      await createUser(w.t, "mfa@example.org", PW);
      const as = async (surface: Surface, key: string, body: Json): Promise<Record<string, unknown>> => {
        const [method = "", url = ""] = key.split(" ");
        const s = await w.send(key, surface, { label: "second factor flow", method, url, body });
        reachedHandler(s);
        if (s.status >= 300)
          failures.push({ key, label: s.label, text: `failed: ${describeSent(s)} ${s.body}` });
        return s.status < 300 && s.status !== 204 ? s.json() : {};
      };
      // A session of the MFA user, in the portal surface's place for this test.
      const saved = w.headers.portal;
      const signIn = await w.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: { email: "mfa@example.org", password: PW },
      });
      w.headers.portal = {
        cookie: String(signIn.headers["set-cookie"]).split(";")[0]!,
        "x-csrf-token": signIn.json().csrfToken,
      };
      try {
        const started = await as("portal", "POST /v1/me/mfa/totp", { password: PW });
        const totp = new TOTP({ secret: Secret.fromBase32(String(started.secret)), digits: 6, period: 30 });
        const backup = (await as("portal", "POST /v1/me/mfa/totp/confirm", { code: totp.generate() }))
          .backupCodes as string[];
        expect(backup?.length).toBeGreaterThan(3);
        const challenge = await as("anonymous", "POST /v1/auth/login", {
          email: "mfa@example.org",
          password: PW,
        });
        await as("anonymous", "POST /v1/auth/mfa/verify", {
          challengeToken: String(challenge.challengeToken),
          code: backup[0]!,
        });
        const fresh = (await as("portal", "POST /v1/me/mfa/backup-codes", { password: PW, code: backup[1]! }))
          .backupCodes as string[];
        await as("portal", "DELETE /v1/me/mfa/totp", { password: PW, code: fresh[0]! });
      } finally {
        w.headers.portal = saved;
      }
      expect(unexpected(from)).toEqual([]);
    });

    it("every route, for every surface it accepts, reaches its handler with the document's example (removals and sign-outs)", async () => {
      const from = failures.length;
      await controls((n) => n >= 2);
      expect(unexpected(from)).toEqual([]);
    });

    it("every route × surface reached its handler, and its validation with a hostile request", () => {
      const missing: string[] = [];
      let pairs = 0;
      for (const r of w.routes())
        for (const surface of w.surfacesOf(r)) {
          pairs++;
          const mine = w.sent.filter((s) => s.key === keyOf(r) && s.surface === surface);
          if (!mine.some((s) => s.reached)) missing.push(`${keyOf(r)} as ${surface}: handler never reached`);
          if (!mine.some((s) => s.pastGuard && s.code === "VALIDATION_FAILED"))
            missing.push(`${keyOf(r)} as ${surface}: validation never reached`);
        }
      expect(missing).toEqual([]);
      expect(pairs).toBeGreaterThan(w.routes().length);
      if (process.env.SWEEP_REPORT) {
        const table: Record<string, Record<string, number>> = {};
        for (const s of w.sent) {
          const row = table[s.key] ?? {};
          table[s.key] = row;
          const cell = `${s.status}${s.code ? ` ${s.code}` : ""}`;
          row[cell] = (row[cell] ?? 0) + 1;
        }
        writeFileSync(
          `${process.env.SWEEP_REPORT}.${profile}.json`,
          JSON.stringify(
            { profile, engine: ENGINE, requests: w.sent.length, routes: w.routes().length, pairs, table },
            null,
            1,
          ),
        );
      }
    });

    it("every status, error code and media type a route answered in the sweep is declared for it in /openapi.json", () => {
      const missing = new Set<string>();
      const success = new Map<string, Set<string>>();
      for (const s of w.sent) {
        // A 5xx is never declared: the sweep reports it as broken (a known defect, or a failure above).
        if (s.status >= 500) continue;
        const op = w.operation(s.key);
        if (!op) {
          missing.add(`${s.key}: not in the document`);
          continue;
        }
        const responses = op.responses as Record<
          string,
          { content?: Record<string, { schema?: Record<string, unknown> }> }
        >;
        const declared = responses[String(s.status)];
        if (!declared) {
          missing.add(`${s.key} ${s.status}${s.code ? ` ${s.code}` : ""}: status not declared`);
          continue;
        }
        if (s.status < 300) success.set(s.key, (success.get(s.key) ?? new Set()).add(String(s.status)));
        if (s.media && !declared.content?.[s.media])
          missing.add(
            `${s.key} ${s.status}: answered ${s.media}, declared ${Object.keys(declared.content ?? {}).join(", ") || "no content"}`,
          );
        // An empty NDJSON stream (an export that matched nothing) is a complete answer.
        if (!s.media && s.status !== 204 && s.status < 300 && !declared.content?.["application/x-ndjson"])
          missing.add(`${s.key} ${s.status}: an empty answer`);
        const codes = (
          declared.content?.["application/json"]?.schema as
            | { properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }
            | undefined
        )?.properties?.error?.properties?.code?.enum;
        if (s.code && codes && !codes.includes(s.code))
          missing.add(`${s.key} ${s.status}: code ${s.code} not declared (declared: ${codes.join(", ")})`);
      }
      // A route's documented success statuses are the ones it answers (no 200 for a 204).
      for (const [key, seen] of success) {
        const responses = w.operation(key)!.responses as Record<string, unknown>;
        const declared = Object.keys(responses).filter((s) => s.startsWith("2"));
        if (declared.sort().join() !== [...seen].sort().join())
          missing.add(`${key}: declares success ${declared.join(", ")}, answered ${[...seen].join(", ")}`);
      }
      expect([...missing].sort()).toEqual([]);
    });

    it("the known defects listed in this file still occur (remove one once it is fixed)", () => {
      const open = KNOWN_DEFECTS.filter((d) => !d.profile || d.profile === profile);
      expect(open.filter((d) => !seen.has(d)).map((d) => `${d.key} ${d.label}: ${d.why}`)).toEqual([]);
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
