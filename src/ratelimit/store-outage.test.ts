import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, type TestApp, testApp } from "../../test/harness.js";
import { needs } from "../../test/services.js";

const PW = "store outage passphrase";

/** A free TCP port on loopback. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

/** A Redis of this test's own, so killing it disturbs no other test. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => null });
  probe.on("error", () => {});
  for (let i = 0; i < 50; i++) {
    if (
      await probe.connect().then(
        () => true,
        () => false,
      )
    )
      break;
    await sleep(100);
  }
  probe.disconnect();
  return child;
}

describe.runIf(needs("redis"))("rate-limit store outage (Redis)", () => {
  let t: TestApp;
  let port: number;
  let redis: ChildProcess;
  let org: string;
  let key: string;
  const login = () =>
    t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "outage@example.org", password: PW },
    });
  const health = async () => (await t.app.inject({ url: "/health" })).json();
  const storeUp = async () =>
    /^bulwark_ratelimit_store_up (\d)$/m.exec((await t.app.inject({ url: "/metrics" })).body)?.[1];

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    t = await testApp({ REDIS_URL: `redis://127.0.0.1:${port}`, QUOTAS: "api_requests=100000" });
    await createUser(t, "outage@example.org", PW);
    const s = await login();
    const owner = {
      cookie: String(s.headers["set-cookie"]).split(";")[0]!,
      "x-csrf-token": s.json().csrfToken,
    };
    org = (
      await t.app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Outage" } })
    ).json().org.id;
    key = (
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org}/api-keys`,
        headers: owner,
        payload: { name: "outage", scopes: ["org:read"] },
      })
    ).json().key;
  });
  afterAll(async () => {
    await t.close();
    redis.kill("SIGKILL");
  });

  it("RATE-5: Redis killed → general routes serve, sign-in answers 503, /health and /metrics say so; all recovers when it returns", async () => {
    expect((await login()).statusCode).toBe(200);
    expect(await storeUp()).toBe("1");

    redis.kill("SIGKILL");
    await new Promise((r) => redis.once("exit", r));
    for (let i = 0; i < 3; i++) expect((await t.app.inject({ url: "/security.json" })).statusCode).toBe(200);
    // An API-key read too: its limits and its organisation's usage quota are let through uncounted.
    expect((await t.app.inject({ url: `/v1/orgs/${org}`, headers: { "x-api-key": key } })).statusCode).toBe(
      200,
    );
    const refused = await login();
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe("SERVICE_UNAVAILABLE");
    expect(refused.headers["retry-after"]).toBe("5");
    expect((await login()).statusCode).toBe(503);
    const down = await health();
    expect(down.checks.ratelimit.status).toBe("down");
    expect(down.checks.ratelimit.error).toMatch(/redis unreachable since/);
    expect(await storeUp()).toBe("0");
    // Logged once for the episode, not once per request.
    expect(t.logs.filter((l) => l.msg === "rate-limit store unreachable")).toHaveLength(1);

    redis = await startRedis(port);
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await sleep(200);
      status = (await login()).statusCode;
    }
    expect(status).toBe(200);
    expect((await health()).checks.ratelimit.status).toBe("up");
    expect(await storeUp()).toBe("1");
    expect(t.logs.filter((l) => l.msg === "rate-limit store reachable again")).toHaveLength(1);
  });
});
