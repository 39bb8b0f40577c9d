import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import { generate } from "selfsigned";
import { Agent, setGlobalDispatcher } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { loadConfig } from "../config/load.js";

const EMAIL = "alice.tracked@example.org";
const PW = "correct horse battery staple";

/** A Sentry-compatible receiver on 127.0.0.1: records each envelope with its path and headers. */
async function receiver(): Promise<{
  port: number;
  got: { path: string; headers: IncomingHttpHeaders; body: string }[];
  server: Server;
}> {
  const got: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      got.push({ path: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" }).end('{"id":"x"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as { port: number }).port, got, server };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe("OBS-3 error tracking", () => {
  let t: TestApp;
  let sink: Awaited<ReturnType<typeof receiver>>;
  let session: { cookie: string; csrf: string };

  beforeAll(async () => {
    sink = await receiver();
    t = await testApp({ SENTRY_DSN: `http://publickey123@127.0.0.1:${sink.port}/42` }, (app) => {
      const query = { type: "object", properties: { email: { type: "string" }, token: { type: "string" } } };
      app.get("/test/boom/:id", { schema: { querystring: query } }, async () => {
        // What a careless error message carries: a person's address, a credential, an address, a token.
        throw new Error(
          `sync failed for ${EMAIL} from 203.0.113.9 with bwk_live_0123456789abcdefghijklmnop and 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08`,
        );
      });
      app.get("/test/refused", async (_req, reply) => reply.code(422).send({ error: { code: "X" } }));
    });
    await createUser(t, EMAIL, PW);
    session = await login(t, EMAIL, PW);
  });
  afterAll(async () => {
    await t?.close();
    sink?.server.close();
  });

  it("OBS-3: a 5xx reaches the receiver as a Sentry envelope with no header, cookie, token, query or email", async () => {
    const res = await t.app.inject({
      url: `/test/boom/${EMAIL}?email=${EMAIL}&token=querytoken0123456789`,
      headers: {
        cookie: `${session.cookie}; other=cookievalue0123456789`,
        authorization: "Bearer headertoken0123456789abcdef",
        "x-api-key": "bwk_live_headerkey0123456789abcdefgh",
        "x-csrf-token": session.csrf,
        "user-agent": "Tracked/1.0 (alice)",
        "x-forwarded-for": "198.51.100.23",
      },
    });
    expect(res.statusCode, res.body).toBe(500);
    await until(() => sink.got.length > 0);
    expect(sink.got).toHaveLength(1);
    const [{ path, headers, body }] = sink.got as [(typeof sink.got)[0]];
    expect(path).toBe("/api/42/envelope/");
    expect(headers["x-sentry-auth"]).toMatch(/sentry_key=publickey123/);
    const [envelope, item, event] = body.split("\n").map((l) => JSON.parse(l));
    expect(envelope.event_id).toMatch(/^[0-9a-f]{32}$/);
    expect(item).toEqual({ type: "event" });
    expect(event.exception.values[0].type).toBe("Error");
    expect(event.exception.values[0].value).toContain("sync failed for [email] from [ip]");
    expect(event.exception.values[0].stacktrace.frames.length).toBeGreaterThan(0);
    expect(event.tags).toEqual({
      route: "/test/boom/:id",
      status: "500",
      request_id: res.json().error.requestId,
    });
    for (const secret of [
      EMAIL,
      "alice",
      session.cookie.split("=")[1]!,
      "cookievalue0123456789",
      session.csrf,
      "headertoken0123456789abcdef",
      "bwk_live_",
      "querytoken0123456789",
      "203.0.113.9",
      "198.51.100.23",
      "127.0.0.1",
      "9f86d081884c7d659a2feaa0c55ad015",
      "Tracked/1.0",
    ])
      expect(body, secret).not.toContain(secret);
  });

  it("OBS-3: a 4xx is not reported, and an unreachable receiver never changes the answer", async () => {
    sink.got.length = 0;
    expect((await t.app.inject({ url: "/test/refused" })).statusCode).toBe(422);
    await new Promise((r) => setTimeout(r, 100));
    expect(sink.got).toHaveLength(0);
    sink.server.close();
    await new Promise((r) => setTimeout(r, 50));
    const res = await t.app.inject({ url: "/test/boom/x" });
    expect(res.statusCode).toBe(500);
    expect(res.json().error.code).toBe("INTERNAL");
  });
});

/**
 * OBS-3 in production: the DSN must be https (the profile refuses http), so the receiver here speaks TLS
 * with a certificate this test process trusts; the same scrubbed envelope arrives.
 */
describe("OBS-3 error tracking in production", () => {
  let t: TestApp;
  let server: HttpsServer;
  const got: string[] = [];
  beforeAll(async () => {
    const pems = await generate([{ name: "commonName", value: "localhost" }], {
      keySize: 2048,
      notAfterDate: new Date(Date.now() + 86_400_000),
    });
    server = createHttpsServer({ cert: pems.cert, key: pems.private }, (req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        got.push(body);
        res.writeHead(200, { "content-type": "application/json" }).end('{"id":"x"}');
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    // This test process's fetch trusts the receiver's certificate (as a real deployment trusts its CA).
    setGlobalDispatcher(new Agent({ connect: { ca: pems.cert } }));
    expect(() =>
      loadConfig({ ...PRODUCTION_ENV, SENTRY_DSN: `http://publickey123@localhost:${port}/42` }),
    ).toThrow(/SENTRY_DSN/);
    t = await testApp(
      {
        ...PRODUCTION_ENV,
        LOG_LEVEL: "silent",
        TRUSTED_PROXIES: "127.0.0.1",
        SENTRY_DSN: `https://publickey123@localhost:${port}/42`,
      },
      (app) => {
        app.get("/test/boom", async () => {
          throw new Error(`sync failed for ${EMAIL} from 203.0.113.9`);
        });
      },
    );
  });
  afterAll(async () => {
    await t?.close();
    server?.close();
    setGlobalDispatcher(new Agent());
  });

  it("OBS-3: in production a 5xx reaches the https receiver, scrubbed of the address, IP and user agent", async () => {
    const res = await t.app.inject({
      url: "/test/boom",
      headers: {
        "x-forwarded-proto": "https",
        "user-agent": "Tracked/1.0 (alice)",
        cookie: "a=secretcookie123",
      },
    });
    expect(res.statusCode).toBe(500);
    await until(() => got.length > 0);
    expect(got).toHaveLength(1);
    const [, , event] = got[0]!.split("\n").map((l) => JSON.parse(l));
    expect(event.exception.values[0].value).toContain("sync failed for [email] from [ip]");
    expect(event.tags.route).toBe("/test/boom");
    for (const secret of [EMAIL, "203.0.113.9", "Tracked/1.0", "secretcookie123", "127.0.0.1"])
      expect(got[0], secret).not.toContain(secret);
  });
});
