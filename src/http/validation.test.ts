import { Type } from "@sinclair/typebox";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TestApp, testApp, testConfig, testDb } from "../../test/harness.js";
import { buildApp } from "../app.js";

const Item = Type.Object({
  name: Type.String({ minLength: 1, maxLength: 50 }),
  qty: Type.Integer({ minimum: 1 }),
  tags: Type.Optional(Type.Array(Type.String())),
});

describe("input validation", () => {
  let t: TestApp;
  let seen: unknown[] = [];
  beforeAll(async () => {
    t = await testApp({ BODY_LIMIT_BYTES: "4096", JSON_MAX_DEPTH: "32" }, (app) => {
      app.post("/test/items", { schema: { body: Item } }, async (req) => {
        seen.push(req.body);
        return { ok: true };
      });
      app.get(
        "/test/search",
        {
          schema: {
            querystring: Type.Object({
              q: Type.String(),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
            }),
          },
        },
        async (req) => req.query,
      );
      app.get("/test/plain", async () => ({ ok: true }));
      app.delete("/test/items/:id", async () => ({ deleted: true }));
      app.post(
        "/test/optional",
        { schema: { body: Type.Object({ reason: Type.Optional(Type.String()) }) } },
        async (req) => ({ body: req.body }),
      );
    });
  });
  afterAll(() => t.close());

  const post = (payload: string, contentType = "application/json") =>
    t.app.inject({ method: "POST", url: "/test/items", payload, headers: { "content-type": contentType } });

  it("INPUT-1: a valid body reaches the handler", async () => {
    const res = await post(JSON.stringify({ name: "x", qty: 2 }));
    expect(res.statusCode).toBe(200);
  });

  it("INPUT-1: a malformed JSON body gets 400 INVALID_JSON", async () => {
    const res = await post('{"name": "x",');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("INVALID_JSON");
  });

  it("INPUT-1: an unknown property gets 400 with a field-level error, and never reaches the handler", async () => {
    seen = [];
    const res = await post(JSON.stringify({ name: "x", qty: 2, isAdmin: true }));
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe("VALIDATION_FAILED");
    expect(body.error.details).toEqual([{ in: "body", field: "isAdmin", message: "unknown property" }]);
    expect(seen).toEqual([]);
  });

  it("INPUT-1: a wrong type names the field", async () => {
    const res = await post(JSON.stringify({ name: "x", qty: "many" }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0]).toMatchObject({ in: "body", field: "qty" });
  });

  it("INPUT-1: a missing required field names the field", async () => {
    const res = await post(JSON.stringify({ qty: 1 }));
    expect(res.json().error.details[0]).toMatchObject({ in: "body", field: "name" });
  });

  it("INPUT-1: an unknown query parameter is rejected on a route that declared none", async () => {
    const res = await t.app.inject({ url: "/test/plain?debug=1" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0]).toMatchObject({ in: "querystring", field: "debug" });
  });

  it("INPUT-3: a duplicated query parameter cannot smuggle an array past validation", async () => {
    const res = await t.app.inject({ url: "/test/search?q=a&q=b" });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details[0]).toMatchObject({ in: "querystring", field: "q" });
    const ok = await t.app.inject({ url: "/test/search?q=a&limit=5" });
    expect(ok.json()).toEqual({ q: "a", limit: 5 });
  });

  it("INPUT-5: an oversized body gets 413", async () => {
    const res = await post(JSON.stringify({ name: "x", qty: 1, tags: ["y".repeat(5000)] }));
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("INPUT-5: a 1000-deep JSON document gets 400 JSON_TOO_DEEP", async () => {
    const res = await post(`${"[".repeat(1000)}${"]".repeat(1000)}`);
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("JSON_TOO_DEEP");
  });

  it("INPUT-5: brackets inside strings do not count towards depth", async () => {
    const res = await post(JSON.stringify({ name: "[[[[".repeat(10), qty: 1 }));
    expect(res.statusCode).toBe(200);
  });

  it("INPUT-5: a __proto__ payload gets 400 and pollutes nothing", async () => {
    const res = await post('{"name":"x","qty":1,"__proto__":{"polluted":"yes"}}');
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("FORBIDDEN_PROPERTY");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const ctor = await post('{"name":"x","qty":1,"constructor":{"prototype":{"polluted":"yes"}}}');
    expect(ctor.statusCode).toBe(400);
    expect(ctor.json().error.code).toBe("FORBIDDEN_PROPERTY");
  });

  it("INPUT-5: a body that is not JSON gets 415", async () => {
    const res = await post("name=x&qty=1", "application/x-www-form-urlencoded");
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });

  it("INPUT-1: an empty JSON body gets 400", async () => {
    const res = await post("");
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe("INVALID_JSON");
  });

  it("INPUT-1: a method that the path does not serve gets 405 with Allow", async () => {
    const res = await t.app.inject({ method: "DELETE", url: "/test/items" });
    expect(res.statusCode).toBe(405);
    expect(res.json().error.code).toBe("METHOD_NOT_ALLOWED");
    expect(res.headers.allow).toBe("POST");
  });

  it("INPUT-1: a route that accepts a body without a schema cannot start", async () => {
    const { db, cleanup } = await testDb();
    const app = await buildApp(testConfig(), { db, logStream: { write: () => {} } });
    expect(() => app.post("/test/unvalidated", async () => ({}))).toThrow(/no body schema/);
    await app.close();
    await cleanup();
  });

  it("INPUT-1: a body on a route that declares none is refused, whatever the method", async () => {
    for (const [method, url] of [
      ["DELETE", "/test/items/1"],
      ["GET", "/test/plain"],
    ] as const) {
      const res = await t.app.inject({ method, url, payload: { isAdmin: true } });
      expect(res.statusCode, method).toBe(400);
      expect(res.json().error.code, method).toBe("VALIDATION_FAILED");
      expect(res.json().error.message, method).toMatch(/no request body/);
    }
    // The same route without a body works.
    expect((await t.app.inject({ method: "DELETE", url: "/test/items/1" })).json()).toEqual({
      deleted: true,
    });
  });

  it("INPUT-1: a body whose fields are all optional may be left out entirely", async () => {
    const res = await t.app.inject({ method: "POST", url: "/test/optional" });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ body: {} });
  });

  it("INPUT-1: JSON bodies are taken as typed (no coercion); query parameters are coerced from text", async () => {
    seen = [];
    const res = await post(JSON.stringify({ name: "tea", qty: "5" }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([expect.objectContaining({ in: "body", field: "qty" })]);
    expect(seen).toEqual([]);
    const q = await t.app.inject({ url: "/test/search?q=x&limit=5" });
    expect(q.json()).toEqual({ q: "x", limit: 5 });
  });

  it("INPUT-5: nesting is accepted up to the configured depth (32) and refused one level deeper", async () => {
    const nest = (levels: number) =>
      `{"name":"x","qty":1,"tags":${"[".repeat(levels - 1)}${"]".repeat(levels - 1)}}`;
    // The object itself is level 1; the tags array and its nested arrays add the rest.
    const ok = await post(nest(32));
    expect(ok.json().error?.code).not.toBe("JSON_TOO_DEEP");
    expect((await post(nest(33))).json().error.code).toBe("JSON_TOO_DEEP");
  });
});
