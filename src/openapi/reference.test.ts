import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { exampleOf, valid } from "../../test/hostile-inputs.js";
import { errorDefinition } from "../http/errors.js";
import type { Extension } from "../orgs/extension.js";
import { needsExample } from "./examples.js";
import { operationSchema, UNDOCUMENTED } from "./transform.js";

/**
 * The API reference tells the truth and can be used (issue 8): /openapi.json and /docs as each profile
 * serves them. What the running server really answers is compared with this document by the hostile
 * sweep (test/bad-input.test.ts); here, the document itself: examples a client can send, error codes
 * under the status they really have, credentials a client can present.
 */

type Schema = Record<string, unknown>;
type Op = Record<string, unknown> & {
  summary?: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; schema: Schema; example?: unknown }>;
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
  responses: Record<string, { content?: Record<string, { schema: Schema }> }>;
};
type Doc = {
  paths: Record<string, Record<string, Op>>;
  components: { securitySchemes: Record<string, Record<string, string>> };
  info: { description: string };
};

const METRICS_TOKEN = "mt-Zq8vR3nX6wL1cT9bY4kP7sD2fH5jG0aE";
const PROFILES = [
  ["development", {}],
  ["production", { ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1", METRICS_TOKEN }],
] as const;

const operations = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, op })),
  );

/** Every schema below `schema` with the path to it (properties and items). */
function* schemas(schema: Schema | undefined, at: string): Generator<[string, Schema]> {
  if (!schema || typeof schema !== "object") return;
  yield [at, schema];
  for (const [k, v] of Object.entries((schema.properties ?? {}) as Record<string, Schema>))
    yield* schemas(v, `${at}.${k}`);
  if (schema.items) yield* schemas(schema.items as Schema, `${at}[]`);
}

/** The request parts and responses of an operation, as schemas. */
function* partsOf(key: string, op: Op): Generator<[string, Schema, "body" | "query"]> {
  for (const p of op.parameters ?? [])
    yield [
      `${key} ${p.in} ${p.name}`,
      { ...p.schema, ...(p.example !== undefined ? { examples: [p.example] } : {}) },
      "query",
    ];
  const body = op.requestBody?.content["application/json"]?.schema;
  if (body) yield [`${key} body`, body, "body"];
  for (const [status, r] of Object.entries(op.responses))
    if (r.content?.["application/json"])
      yield [`${key} ${status}`, r.content["application/json"].schema, "body"];
}

describe.each(PROFILES)("the API reference (%s)", (profile, env) => {
  let t: TestApp;
  let doc: Doc;
  beforeAll(async () => {
    t = await testApp(env, undefined, { extensions: [catalog] });
    const res = await t.app.inject({ url: "/openapi.json", headers: { "x-forwarded-proto": "https" } });
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(() => t.close());

  it("every operation has a summary, a description that says who may call it, and its security requirement", () => {
    const wrong: string[] = [];
    for (const { key, op } of operations(doc)) {
      if (!op.summary || !op.description || op.description.startsWith(UNDOCUMENTED))
        wrong.push(`${key}: no summary or description`);
      if (!op.description?.includes("**Access:**"))
        wrong.push(`${key}: the description does not say who may call it`);
      if (!Array.isArray(op.security)) wrong.push(`${key}: no security requirement`);
      for (const requirement of op.security ?? [])
        for (const scheme of Object.keys(requirement))
          if (!doc.components.securitySchemes[scheme]) wrong.push(`${key}: undeclared scheme ${scheme}`);
    }
    expect(wrong).toEqual([]);
    // Public: an explicit empty requirement. An optional session: anonymous, or the session with its token.
    expect(doc.paths["/v1/auth/login"]!.post!.security).toEqual([]);
    expect(doc.paths["/v1/invitations/accept"]!.post!.security).toEqual([
      {},
      { portalSession: [], csrfToken: [] },
    ]);
    expect(doc.paths["/v1/admin/users"]!.get!.security).toEqual([{ adminSession: [] }]);
    // Header credentials first (no CSRF token), an access token or an API key, or a session with its token.
    expect(doc.paths["/v1/orgs/{orgId}/products"]!.post!.security).toEqual([
      { accessToken: [] },
      { apiKey: [] },
      { portalSession: [], csrfToken: [] },
    ]);
  });

  it("the security schemes are the cookies this profile sets, the CSRF header, and nothing no route accepts", async () => {
    const schemes = doc.components.securitySchemes;
    const prod = profile === "production";
    expect(schemes.portalSession).toMatchObject({
      type: "apiKey",
      in: "cookie",
      name: prod ? "__Host-bulwark_session" : "bulwark_session",
    });
    expect(schemes.adminSession).toMatchObject({
      type: "apiKey",
      in: "cookie",
      name: prod ? "__Host-bulwark_admin" : "bulwark_admin",
    });
    expect(schemes.csrfToken).toMatchObject({ type: "apiKey", in: "header", name: "X-CSRF-Token" });
    // The names are the ones sign-in really sets.
    const { createUser } = await import("../../test/harness.js");
    await createUser(t, "cookie@example.org", "reference cookie passphrase 7");
    const signIn = await t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      headers: { "x-forwarded-proto": "https" },
      payload: { email: "cookie@example.org", password: "reference cookie passphrase 7" },
    });
    expect(String(signIn.headers["set-cookie"]).split("=")[0]).toBe(schemes.portalSession!.name);
    // The metrics token is offered where one is configured, on the one route that takes it.
    if (prod) {
      expect(schemes.metricsToken).toMatchObject({ type: "http", scheme: "bearer" });
      expect(doc.paths["/metrics"]!.get!.security).toEqual([{}, { metricsToken: [] }]);
    } else expect(schemes.metricsToken).toBeUndefined();
    const used = new Set(
      operations(doc).flatMap(({ op }) => (op.security ?? []).flatMap((s) => Object.keys(s))),
    );
    expect(Object.keys(schemes).sort()).toEqual([...used].sort());
    // /docs reads the same document.
    const ui = await t.app.inject({ url: "/docs/json", headers: { "x-forwarded-proto": "https" } });
    expect(ui.json().components.securitySchemes).toEqual(schemes);
    expect(doc.info.description).toContain("X-CSRF-Token");
  });

  it("every error response carries the envelope, its codes listed under the status each code really has", () => {
    const wrong: string[] = [];
    for (const { key, op } of operations(doc))
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) < 400 || (key === "GET /health" && status === "503")) continue;
        const schema = r.content?.["application/json"]?.schema as
          | { required?: string[]; properties?: { error?: { properties?: { code?: { enum?: string[] } } } } }
          | undefined;
        const codes = schema?.properties?.error?.properties?.code?.enum;
        if (!schema?.required?.includes("error") || !codes?.length) {
          wrong.push(`${key} ${status}: no envelope with its codes`);
          continue;
        }
        for (const code of codes)
          if (errorDefinition(code).status !== Number(status))
            wrong.push(`${key} ${status}: ${code} is a ${errorDefinition(code).status}`);
      }
    expect(wrong).toEqual([]);
    // An extension's own codes, under their own status.
    expect(
      doc.paths["/v1/orgs/{orgId}/products"]!.post!.responses["409"]!.content!["application/json"]!.schema,
    ).toMatchObject({
      properties: { error: { properties: { code: { enum: expect.arrayContaining(["SKU_TAKEN"]) } } } },
    });
  });

  it("success statuses and media types are the real ones; a body that may be left out is not required", () => {
    const ops = doc.paths;
    expect(
      Object.keys(ops["/v1/admin/impersonations/current"]!.delete!.responses).filter((s) => s < "300"),
    ).toEqual(["204"]);
    expect(Object.keys(ops["/v1/auth/logout"]!.post!.responses).filter((s) => s < "300")).toEqual(["204"]);
    expect(Object.keys(ops["/security"]!.get!.responses["200"]!.content!)).toEqual(["text/html"]);
    expect(Object.keys(ops["/metrics"]!.get!.responses["200"]!.content!)).toEqual(["text/plain"]);
    expect(Object.keys(ops["/verify-email"]!.get!.responses["200"]!.content!)).toEqual(["text/html"]);
    expect(ops["/v1/auth/logout"]!.post!.requestBody!.required).toBe(false);
    expect(ops["/v1/orgs/{orgId}/invitations/{id}/resend"]!.post!.requestBody!.required).toBe(false);
    expect(ops["/v1/orgs/{orgId}"]!.patch!.requestBody!.required).toBe(true);
    expect(ops["/v1/auth/login"]!.post!.requestBody!.required).toBe(true);
  });

  it("examples are realistic and valid: no field is left to a pattern generator, each example passes its schema", () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const { key, op } of operations(doc))
      for (const [at, part, kind] of partsOf(key, op))
        for (const [path, s] of schemas(part, at)) {
          const examples = (s.examples as unknown[] | undefined) ?? [];
          const isRequest = !/ \d{3}/.test(at);
          if (needsExample(s) && isRequest && examples.length === 0) wrong.push(`${path}: no example`);
          for (const e of examples) {
            checked++;
            if (!valid(s, e, kind)) wrong.push(`${path}: example ${JSON.stringify(e)} fails its schema`);
            const field = path.split(/[ .]/).pop() ?? "";
            if (/email$/i.test(field) && typeof e === "string" && !/@example\.(org|com|net)$/.test(e))
              wrong.push(`${path}: ${e} is not at a reserved example domain`);
          }
        }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(50);
    // Every request body the examples make (what "Try it out" starts from) passes the route's schema.
    for (const { key, op } of operations(doc)) {
      const body = op.requestBody?.content["application/json"]?.schema;
      if (body) expect(valid(body, exampleOf(body)), key).toBe(true);
    }
    expect(JSON.stringify(doc)).not.toMatch(/"examples":\["(?:string|user@example\.com)"\]/);
  });
});

describe("a route the document cannot describe", () => {
  const undocumented: Extension = {
    name: "undocumented",
    routes: (tenant) =>
      tenant.route({
        method: "GET",
        url: "/undocumented",
        action: "org:read",
        handler: async () => ({ ok: true }),
      }),
  };
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({ LOG_LEVEL: "error" }, undefined, { extensions: [undocumented] });
  });
  afterAll(() => t.close());

  it("an app's route without a summary is published marked undocumented (never a 500 of the document)", async () => {
    const res = await t.app.inject({ url: "/openapi.json" });
    expect(res.statusCode).toBe(200);
    const op = res.json().paths["/v1/orgs/{orgId}/undocumented"].get;
    expect(op.summary).toBe("GET /v1/orgs/:orgId/undocumented");
    expect(op.description.startsWith(UNDOCUMENTED)).toBe(true);
  });

  it("a route accepting a credential kind with no security scheme yet names the kind as its requirement", () => {
    const sec = {
      accepts: ["robot"],
      tenantKinds: false,
      impersonation: "allow",
      cors: "session",
      https: "required",
      rate: "general",
    } as never;
    const op = operationSchema(
      "GET",
      "/v1/robots",
      { summary: "Robots", description: "All of them." },
      sec,
      t.config,
      undefined,
    );
    expect(op.security).toEqual([{ robot: [] }]);
  });
});
