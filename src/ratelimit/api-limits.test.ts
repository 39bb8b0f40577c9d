import { parseItem, parseList } from "structured-headers";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import { addressKey } from "./request-limits.js";

const PW = "rate limits passphrase";
const N = 7;
/**
 * A frozen clock one second into a minute: every request of a test falls in one fixed window, and each
 * test gets a minute of its own, two after the last (so nothing of an earlier test weighs on it).
 */
const BASE = Math.floor(Date.now() / 60_000) * 60_000;
let minutes = 0;
const freeze = () => {
  minutes += 2;
  const t = BASE + minutes * 60_000 + 1000;
  vi.useFakeTimers({ toFake: ["Date"], now: t });
  return t;
};

describe("API rate limits", () => {
  let t: TestApp;
  let owner: Record<string, string>;
  let org: string;
  let nextIp = 0;
  const ip = () => `198.51.100.${++nextIp}`;
  const keyWith = async (scopes: string[]) => {
    const res = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/api-keys`,
      headers: owner,
      payload: { name: "limited", scopes },
      remoteAddress: ip(),
    });
    return res.json().key as string;
  };
  const get = (url: string, headers: Record<string, string>, remoteAddress = ip()) =>
    t.app.inject({ url, headers, remoteAddress });

  beforeAll(async () => {
    t = await testApp({
      RATE_LIMIT_KEY_PER_MINUTE: String(N),
      RATE_LIMIT_IP_PER_MINUTE: String(N + 3),
      RATE_LIMIT_ORG_PER_MINUTE: String(3 * N),
      RATE_LIMIT_TIERS: "general=4/15m,sensitive=3/1h,admin=30/1m,export=5/1h",
    });
    await createUser(t, "owner@example.org", PW);
    const s = await login(t, "owner@example.org", PW, "192.0.2.1");
    owner = { cookie: s.cookie, "x-csrf-token": s.csrf };
    org = (
      await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        headers: owner,
        payload: { name: "Rate" },
        remoteAddress: ip(),
      })
    ).json().org.id;
  });
  afterAll(() => t.close());
  afterEach(() => vi.useRealTimers());

  it("RATE-1, RATE-2: a key's limit is exact at its boundary under concurrent requests: N allowed, N+1 refused", async () => {
    freeze();
    const key = await keyWith(["org:read"]);
    // From N + 5 addresses at once, so only the key's own limit can refuse.
    const answers = await Promise.all(
      Array.from({ length: N + 5 }, () => get(`/v1/orgs/${org}`, { "x-api-key": key })),
    );
    expect(answers.filter((r) => r.statusCode === 200)).toHaveLength(N);
    const refused = answers.filter((r) => r.statusCode === 429);
    expect(refused).toHaveLength(5);
    expect(refused[0]!.json().error.code).toBe("RATE_LIMITED");
    expect(Number(refused[0]!.headers["retry-after"])).toBeGreaterThan(0);
  });

  it("RATE-2: per key and per address, whichever is reached first", async () => {
    freeze();
    const key = await keyWith(["org:read"]);
    const address = "203.0.113.50";
    // The address allows N + 3 a minute, the key N: the key is exhausted first, from one address.
    for (let i = 0; i < N; i++)
      expect((await get(`/v1/orgs/${org}`, { "x-api-key": key }, address)).statusCode).toBe(200);
    const byKey = await get(`/v1/orgs/${org}`, { "x-api-key": key }, address);
    expect(byKey.statusCode).toBe(429);
    expect(parseItem(String(byKey.headers.ratelimit))[0]).toBe("key");
    // A second key from the same address: the address has 3 left - 1 spent on the refusal above.
    const other = await keyWith(["org:read"]);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++)
      statuses.push((await get(`/v1/orgs/${org}`, { "x-api-key": other }, address)).statusCode);
    expect(statuses).toEqual([200, 200, 429, 429]);
    const byIp = await get(`/v1/orgs/${org}`, { "x-api-key": other }, address);
    expect(parseItem(String(byIp.headers.ratelimit))[0]).toBe("ip");
  });

  it("RATE-2: a key refused by its own limit does not go on spending its organisation's budget", async () => {
    freeze();
    const key = await keyWith(["org:read"]);
    for (let i = 0; i < 3 * N; i++) await get(`/v1/orgs/${org}`, { "x-api-key": key });
    // The organisation counted only the N requests served: its policy still has room.
    const other = await keyWith(["org:read"]);
    const res = await get(`/v1/orgs/${org}`, { "x-api-key": other });
    expect(res.statusCode).toBe(200);
    const policies = new Map(
      parseList(String(res.headers["ratelimit-policy"])).map(([n]) => [String(n), true]),
    );
    expect(policies.has("org")).toBe(true);
  });

  it("RATE-4: both header families are present, consistent and parseable as RFC 9651 structured fields", async () => {
    freeze();
    const key = await keyWith(["org:read"]);
    const res = await get(`/v1/orgs/${org}`, { "x-api-key": key });
    expect(res.statusCode).toBe(200);
    const policies = parseList(String(res.headers["ratelimit-policy"]));
    const byName = new Map(policies.map(([name, params]) => [String(name), params]));
    expect([...byName.keys()].sort()).toEqual(["ip", "key", "org"]);
    expect(byName.get("key")!.get("q")).toBe(N);
    expect(byName.get("key")!.get("w")).toBe(60);
    const [name, params] = parseItem(String(res.headers.ratelimit));
    // The binding policy is the key's (N - 1 of N left beats the address's N + 2 of N + 3).
    expect(name).toBe("key");
    expect(params.get("r")).toBe(N - 1);
    expect(res.headers["x-ratelimit-limit"]).toBe(String(N));
    expect(res.headers["x-ratelimit-remaining"]).toBe(String(params.get("r")));
    expect(res.headers["x-ratelimit-reset"]).toBe(String(params.get("t")));
    // Frozen one second into the minute: the window ends in 59 s.
    expect(params.get("t")).toBe(59);
    // Cross-origin scripts can read them.
    const cors = await get(`/v1/orgs/${org}`, { "x-api-key": key, origin: "https://app.example.org" });
    expect(String(cors.headers["access-control-expose-headers"])).toContain("ratelimit-policy");
  });

  it("RATE-3: a route's tier counts each sensitive operation per principal; anonymous general traffic per address", async () => {
    freeze();
    const address = "192.0.2.77";
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await get("/openapi.json", {}, address)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 200, 429]);
    // Sensitive: 3 an hour per principal and operation (starting TOTP enrolment counts, whatever its outcome).
    const enrol = () =>
      t.app.inject({ method: "POST", url: "/v1/me/mfa/totp", headers: owner, remoteAddress: ip() });
    const tries: number[] = [];
    for (let i = 0; i < 4; i++) tries.push((await enrol()).statusCode);
    expect(tries.slice(0, 3).every((s) => s !== 429)).toBe(true);
    expect(tries[3]).toBe(429);
  });

  it("AUTH-7, RATE-2: failed sign-ins from anywhere in one IPv6 /64 count together", async () => {
    const tries: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        payload: { email: "owner@example.org", password: "not the passphrase" },
        remoteAddress: `2001:db8:9:9::${i.toString(16)}`,
      });
      tries.push(res.statusCode);
    }
    expect(tries).toEqual([401, 401, 401, 401, 401, 429]);
    // Another /64 is another client.
    const elsewhere = await t.app.inject({
      method: "POST",
      url: "/v1/auth/login",
      payload: { email: "owner@example.org", password: "not the passphrase" },
      remoteAddress: "2001:db8:9:a::1",
    });
    expect(elsewhere.statusCode).toBe(401);
  });

  it("RATE-2: each signed-in user and each organisation has a budget of its own", async () => {
    const u = await testApp({ RATE_LIMIT_USER_PER_MINUTE: "4", RATE_LIMIT_ORG_PER_MINUTE: "5" });
    try {
      const sessionOf = async (email: string) => {
        const id = await createUser(u, email, PW);
        const s = await login(u, email, PW);
        return { id, headers: { cookie: s.cookie, "x-csrf-token": s.csrf } };
      };
      const alice = await sessionOf("alice@example.org");
      const bob = await sessionOf("bob@example.org");
      const orgId = (
        await u.app.inject({
          method: "POST",
          url: "/v1/orgs",
          headers: bob.headers,
          payload: { name: "Shared" },
        })
      ).json().org.id;
      const { OrgStore } = await import("../orgs/store.js");
      await new OrgStore(u.db.global, u.db.engine).addMember(orgId, alice.id, "MEMBER", Date.now());

      freeze();
      const me = (h: Record<string, string>) =>
        u.app.inject({ url: "/v1/me", headers: h, remoteAddress: ip() });
      const mine: number[] = [];
      for (let i = 0; i < 5; i++) mine.push((await me(alice.headers)).statusCode);
      expect(mine).toEqual([200, 200, 200, 200, 429]);
      expect((await me(bob.headers)).statusCode).toBe(200);

      // A fresh minute: 3 reads each, 6 in all, each user within its 4; the organisation allows 5.
      freeze();
      const read = (h: Record<string, string>) =>
        u.app.inject({ url: `/v1/orgs/${orgId}`, headers: h, remoteAddress: ip() });
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await read(alice.headers)).statusCode);
      for (let i = 0; i < 3; i++) statuses.push((await read(bob.headers)).statusCode);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    } finally {
      await u.close();
    }
  });

  it("RATE-2: IPv6 callers are counted per /64", () => {
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe(addressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"));
    expect(addressKey("2001:db8:1:2::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8:1:3::1")).not.toBe(addressKey("2001:db8:1:2::1"));
    expect(addressKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
    expect(addressKey("::1")).toBe("0:0:0:0::/64");
  });
});
