import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";

/** Sends raw bytes to the listening server and returns everything it answers before closing. */
function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(text));
    let out = "";
    socket.on("data", (d) => {
      out += d.toString("utf8");
    });
    socket.on("end", () => resolve(out));
    socket.on("error", reject);
    socket.setTimeout(5000, () => socket.destroy(new Error("timeout")));
  });
}

describe("requests the HTTP parser cannot read, and files that do not exist", () => {
  let t: TestApp;
  let port = 0;
  beforeAll(async () => {
    t = await testApp({ ...PRODUCTION_ENV, TRUSTED_PROXIES: "127.0.0.1" });
    const url = await t.app.listen({ port: 0, host: "127.0.0.1" });
    port = Number(new URL(url).port);
  });
  afterAll(() => t.close());

  it("HDR-3/OBS-1: a malformed request line gets the envelope, a request id and the security headers", async () => {
    const answer = await raw(port, "GET /health/live HTTP/1.1 extra junk\r\nHost: x\r\n\r\n");
    const [head = "", body = ""] = answer.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 400 /);
    expect(head).toMatch(/\r\ncontent-security-policy: default-src 'none'/i);
    expect(head).toMatch(/\r\nx-content-type-options: nosniff/i);
    const id = /\r\nx-request-id: ([0-9a-f-]{36})/i.exec(head)?.[1];
    expect(id).toBeDefined();
    expect(JSON.parse(body)).toEqual({
      error: { code: "BAD_REQUEST", message: "The request could not be parsed.", requestId: id },
    });
  });

  it("HDR-3: headers too large get 431 with the envelope", async () => {
    const answer = await raw(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20_000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.split("\r\n\r\n")[1] ?? "").error.code).toBe("REQUEST_HEADERS_TOO_LARGE");
  });

  it("INPUT-1: a missing file under /docs/static answers 404, not 405", async () => {
    const res = await t.app.inject({
      url: "/docs/static/does-not-exist.js",
      headers: { "x-forwarded-proto": "https" },
      remoteAddress: "127.0.0.1",
    });
    expect(res.statusCode).toBe(404);
    expect(res.json().error.code).toBe("NOT_FOUND");
  });
});
