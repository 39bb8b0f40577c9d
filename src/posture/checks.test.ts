import type { FastifyInstance } from "fastify";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { SELF_CHECK_ADDRESS, SELF_CHECK_HEADER, SELF_CHECK_TOKEN } from "../http/self-check.js";

interface Checked {
  id: string;
  check?: { holds: boolean; checkedAt: string; detail?: string };
}

const claims = async (app: FastifyInstance): Promise<Checked[]> => {
  await app.bulwark.posture.settled();
  const res = await app.inject({ url: "/security.json", ...HTTPS });
  if (!res.json().controls) throw new Error(res.body);
  return res.json().controls;
};
/** In process, as the self-checks send it: over HTTPS (production refuses plain HTTP). */
const HTTPS = { headers: { [SELF_CHECK_HEADER]: SELF_CHECK_TOKEN }, remoteAddress: SELF_CHECK_ADDRESS };
const check = (list: Checked[], id: string) => list.find((c) => c.id === id)?.check;

/** A test-only hook standing in for a regression: it strips one security header from every answer. */
const stripNosniff = (when: () => boolean) => (app: FastifyInstance) => {
  app.addHook("onSend", async (_request, reply, payload) => {
    if (when()) reply.removeHeader("x-content-type-options");
    return payload;
  });
};

describe("live self-checks", () => {
  let prod: TestApp;
  beforeAll(async () => {
    prod = await testApp({ ...PRODUCTION_ENV });
  });
  afterAll(async () => prod.close());
  afterEach(() => vi.useRealTimers());

  it("POST-3: in production every probed claim is checked at start-up and holds", async () => {
    const list = await claims(prod.app);
    const checked = list.filter((c) => c.check).map((c) => c.id);
    expect(checked).toEqual(
      expect.arrayContaining(["HDR-1", "HDR-2", "HDR-3", "CORS-1", "RATE-4", "KEY-3", "POST-2", "AUDIT-4"]),
    );
    for (const c of list.filter((c) => c.check))
      expect({ id: c.id, ...c.check }).toMatchObject({ holds: true });
    const health = (await prod.app.inject({ url: "/health", ...HTTPS })).json();
    expect(health.failingClaims).toEqual([]);
  });

  it("POST-3: a claim whose probe fails shows as not holding on the page, in /security.json, /health and /metrics", async () => {
    const t = await testApp(
      {},
      stripNosniff(() => true),
    );
    try {
      const hdr3 = check(await claims(t.app), "HDR-3");
      expect(hdr3).toMatchObject({ holds: false, detail: "a 404 lacked or changed x-content-type-options" });
      const page = (await t.app.inject({ url: "/security" })).body;
      expect(page).toMatch(
        /id="HDR-3"[\s\S]*?DOES NOT HOLD\. a 404 lacked or changed x-content-type-options/,
      );
      expect(page).toMatch(/DO NOT HOLD \(<a href="#HDR-3">HDR-3<\/a>\)/);
      const health = await t.app.inject({ url: "/health" });
      expect(health.statusCode).toBe(200);
      expect(health.json()).toMatchObject({
        status: "degraded",
        failingClaims: ["HDR-3"],
        checks: { "security-claims": { status: "down", required: false } },
      });
      const metrics = (await t.app.inject({ url: "/metrics" })).body;
      expect(metrics).toMatch(/^bulwark_security_claim_holds\{control="HDR-3",title="[^"]+"\} 0$/m);
      expect(metrics).toMatch(/^bulwark_security_claim_holds\{control="CORS-1",title="[^"]+"\} 1$/m);
      // The failure is logged once, as a warning naming the claim.
      expect(t.logs.filter((l) => l.msg === "security claim does not hold")).toMatchObject([
        { control: "HDR-3" },
      ]);
    } finally {
      await t.close();
    }
  });

  it("POST-3: the checks run again every configured interval, and a claim that recovers holds again", async () => {
    vi.useFakeTimers({ toFake: ["setInterval", "Date"] });
    let broken = true;
    const t = await testApp(
      { SECURITY_CHECK_INTERVAL_SECONDS: "60" },
      stripNosniff(() => broken),
    );
    try {
      const first = check(await claims(t.app), "HDR-3");
      expect(first?.holds).toBe(false);
      broken = false;
      vi.advanceTimersByTime(59_999);
      expect(check(await claims(t.app), "HDR-3")).toEqual(first);
      vi.advanceTimersByTime(1);
      const again = check(await claims(t.app), "HDR-3");
      expect(again).toMatchObject({ holds: true });
      expect(Date.parse(again!.checkedAt) - Date.parse(first!.checkedAt)).toBe(60_000);
      expect((await t.app.inject({ url: "/health" })).json().failingClaims).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it("POST-3: a client cannot exhaust the self-checks' rate limit by claiming their address through a proxy", async () => {
    vi.useFakeTimers({ toFake: ["setInterval"] });
    const t = await testApp({
      TRUSTED_PROXIES: "127.0.0.1",
      RATE_LIMIT_IP_PER_MINUTE: "30",
      SECURITY_CHECK_INTERVAL_SECONDS: "60",
    });
    try {
      await claims(t.app);
      for (let i = 0; i < 30; i++)
        await t.app.inject({
          url: "/.well-known/security.txt",
          headers: { "x-forwarded-for": SELF_CHECK_ADDRESS },
        });
      const drained = await t.app.inject({
        url: "/.well-known/security.txt",
        headers: { "x-forwarded-for": SELF_CHECK_ADDRESS },
      });
      expect(drained.statusCode).toBe(429);
      vi.advanceTimersByTime(60_000);
      const list = await claims(t.app);
      for (const id of ["KEY-3", "POST-2", "RATE-4"])
        expect({ id, ...check(list, id) }).toMatchObject({ id, holds: true });
    } finally {
      await t.close();
    }
  });

  it("POST-3: the self-check marker counts only in process: from the network, plain HTTP carrying it is still refused", async () => {
    const address = await prod.app.listen({ host: "127.0.0.1", port: 0 });
    const res = await fetch(`${address}/security.json`, {
      headers: { [SELF_CHECK_HEADER]: SELF_CHECK_TOKEN },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("HTTPS_REQUIRED");
  });
});
