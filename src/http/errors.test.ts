import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type TestApp, testApp } from "../../test/harness.js";
import { ERRORS } from "./errors.js";

describe("errors and request ids", () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp({}, (app) => {
      app.get("/test/boom", async () => {
        throw new Error("secret internal detail at /srv/app/db.ts");
      });
      app.get(
        "/test/log-headers",
        { schema: { querystring: { type: "object", properties: { token: { type: "string" } } } } },
        async (req) => {
          // What a careless handler might do; redaction must still hold.
          req.log.info({ headers: req.headers, password: "hunter2hunter2" }, "debugging");
          return { ok: true };
        },
      );
    });
  });
  afterAll(() => t.close());

  it("OBS-1: a thrown error gets a 500 envelope with the request id and no stack or internal message", async () => {
    const res = await t.app.inject({ url: "/test/boom" });
    expect(res.statusCode).toBe(500);
    const body = res.json();
    expect(body).toEqual({
      error: {
        code: "INTERNAL",
        message: "An internal error occurred.",
        requestId: res.headers["x-request-id"],
      },
    });
    expect(res.body).not.toMatch(/at |secret internal|\.ts/);
    // The stack is kept on the server side, in the log line carrying the same request id.
    const line = t.logs.find((l) => l.msg === "request failed");
    expect(line?.requestId).toBe(body.error.requestId);
    expect(JSON.stringify(line)).toContain("secret internal detail");
  });

  it("OBS-1: a well-formed incoming X-Request-Id is reused in the response, the error body and the logs", async () => {
    const res = await t.app.inject({ url: "/nowhere", headers: { "x-request-id": "req-abc.123" } });
    expect(res.headers["x-request-id"]).toBe("req-abc.123");
    expect(res.json().error.requestId).toBe("req-abc.123");
    // The access line is written when the response finishes, which may be just after inject() resolves.
    await vi.waitFor(() =>
      expect(t.logs.some((l) => l.requestId === "req-abc.123" && l.msg === "request completed")).toBe(true),
    );
  });

  it("OBS-1: a malformed X-Request-Id is replaced, so it cannot inject into logs", async () => {
    const res = await t.app.inject({ url: "/health/live", headers: { "x-request-id": "bad\nid {json}" } });
    expect(res.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("OBS-2: a request's Authorization header and cookie appear in no log line", async () => {
    const auth = "Bearer sk_live_SUPERSECRETVALUE123456";
    const cookie = "__Host-bulwark_session=COOKIESECRETVALUE987654";
    await t.app.inject({
      url: "/test/log-headers?token=TOKENINURL55555",
      headers: { authorization: auth, cookie, "x-api-key": "bwk_APIKEYSECRET777" },
    });
    await t.app.inject({ url: "/test/boom", headers: { authorization: auth, cookie } });
    const all = t.rawLogs.join("");
    expect(all).toContain("debugging");
    for (const secret of ["SUPERSECRETVALUE", "COOKIESECRETVALUE", "APIKEYSECRET", "TOKENINURL", "hunter2"])
      expect(all).not.toContain(secret);
    expect(all).toContain("[REDACTED]");
  });

  it("OBS-1: every error code in the registry is documented in docs/errors.md", () => {
    const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
    for (const [code, { status }] of Object.entries(ERRORS)) {
      expect(doc, code).toMatch(new RegExp(`\\|\\s*\`${code}\`\\s*\\|\\s*${status}\\s*\\|`));
    }
  });
});
