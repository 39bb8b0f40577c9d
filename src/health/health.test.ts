import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { needs } from "../../test/services.js";

describe(`health (${ENGINE})`, () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await testApp();
  });
  afterAll(() => t.close());

  it("OBS-4: /health reports the database as up, with its latency", async () => {
    const res = await t.app.inject({ url: "/health" });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.status).toBe("ok");
    expect(body.checks.database).toMatchObject({ status: "up", required: true });
    expect(typeof body.checks.database.latencyMs).toBe("number");
  });

  it("OBS-4: /health/live answers without touching a dependency", async () => {
    const res = await t.app.inject({ url: "/health/live" });
    expect(res.json()).toEqual({ status: "ok" });
  });
});

describe("health with an unreachable Redis", () => {
  let t: TestApp;
  let prod: TestApp;
  beforeAll(async () => {
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    t = await testApp({ REDIS_URL: "redis://127.0.0.1:1" });
    prod = await testApp({ ...PRODUCTION_ENV, REDIS_URL: "redis://127.0.0.1:1" });
  });
  afterAll(async () => {
    await t.close();
    await prod.close();
  });

  it("OBS-4: a required dependency that is down turns /health into 503", async () => {
    const res = await t.app.inject({ url: "/health" });
    expect(res.statusCode).toBe(503);
    const body = res.json();
    expect(body.status).toBe("unavailable");
    expect(body.checks.redis).toMatchObject({ status: "down", required: true });
    expect(body.checks.database.status).toBe("up");
  });

  it("OBS-4: production does not reveal the failure text (it names internal hosts)", async () => {
    const res = await prod.app.inject({ url: "/health" });
    expect(res.statusCode).toBe(503);
    expect(res.json().checks.redis.error).toBeUndefined();
    expect(res.body).not.toContain("127.0.0.1");
  });
});

describe.runIf(needs("redis"))("health with Redis", () => {
  let t: TestApp;
  beforeAll(async () => {
    // No REDIS_URL here: with TEST_REDIS_URL the harness gives every app Redis as its shared state.
    t = await testApp();
  });
  afterAll(() => t.close());

  it("OBS-4: /health reports a reachable Redis as up, with its latency", async () => {
    let res = await t.app.inject({ url: "/health" });
    // The client connects asynchronously; give it a moment on a cold start.
    for (let i = 0; i < 20 && res.statusCode !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      res = await t.app.inject({ url: "/health" });
    }
    expect(res.statusCode).toBe(200);
    expect(res.json().checks.redis).toMatchObject({ status: "up", required: true });
  });
});
