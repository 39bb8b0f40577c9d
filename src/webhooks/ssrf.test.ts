import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, PRODUCTION_ENV, type TestApp, testApp } from "../../test/harness.js";
import { Receiver } from "../../test/webhook-receiver.js";
import { until } from "../../test/webhook-world.js";
import { type Resolved, TargetPolicy } from "./ssrf.js";

type H = Record<string, string>;

/** Every form of a non-public target the issue names, as a URL an endpoint could be given. */
const REFUSED: [string, string][] = [
  ["loopback", "http://127.0.0.1/hook"],
  ["loopback, another form", "http://127.1.2.3/hook"],
  ["loopback as a number", "http://2130706433/hook"],
  ["loopback in hex", "http://0x7f.1/hook"],
  ["IPv6 loopback", "http://[::1]/hook"],
  ["private 10/8", "http://10.0.0.1/hook"],
  ["private 172.16/12", "http://172.16.5.4/hook"],
  ["private 192.168/16", "http://192.168.1.1/hook"],
  ["link-local (cloud metadata)", "http://169.254.169.254/latest/meta-data"],
  ["CGNAT", "http://100.64.0.1/hook"],
  ["CGNAT (Alibaba metadata)", "http://100.100.100.200/hook"],
  ["multicast", "http://224.0.0.1/hook"],
  ["unspecified", "http://0.0.0.0/hook"],
  ["broadcast", "http://255.255.255.255/hook"],
  ["IPv6 unique-local (AWS metadata)", "http://[fd00:ec2::254]/hook"],
  ["IPv6 link-local", "http://[fe80::1]/hook"],
  ["IPv6 multicast", "http://[ff02::1]/hook"],
  ["IPv4-mapped IPv6 loopback", "http://[::ffff:127.0.0.1]/hook"],
  ["IPv4-mapped IPv6 private", "http://[::ffff:10.0.0.1]/hook"],
  ["NAT64 of loopback", "http://[64:ff9b::7f00:1]/hook"],
  ["IPv4-compatible IPv6", "http://[::127.0.0.1]/hook"],
  ["IPv4-compatible IPv6 of a public address", "http://[::8.8.8.8]/hook"],
  ["6to4 of private", "http://[2002:c0a8:101::]/hook"],
  ["a name resolving to a private address", "http://private.example/hook"],
  ["a name resolving to the metadata address", "http://metadata.example/hook"],
  ["a name with one private address among public ones", "http://mixed.example/hook"],
  ["a name resolving to IPv6 unique-local", "http://ula.example/hook"],
  ["credentials in the URL", "https://user:pw@public.example/hook"],
  ["another scheme", "ftp://public.example/hook"],
];

/** A resolver for names no DNS knows: what each test needs them to resolve to. */
let rebindCalls = 0;
const names: Record<string, () => Resolved[]> = {
  "public.example": () => [{ address: "93.184.216.34", family: 4 }],
  "private.example": () => [{ address: "10.1.2.3", family: 4 }],
  "metadata.example": () => [{ address: "169.254.169.254", family: 4 }],
  "mixed.example": () => [
    { address: "93.184.216.34", family: 4 },
    { address: "192.168.0.10", family: 4 },
  ],
  "ula.example": () => [{ address: "fd12:3456::1", family: 6 }],
  // Public when the endpoint is created, loopback when a delivery connects (DNS rebinding).
  "rebind.example": () => [{ address: rebindCalls++ === 0 ? "93.184.216.34" : "127.0.0.1", family: 4 }],
  // Resolves to the allowlisted receiver: a delivery must connect to what the check saw.
  "pinned.test": () => [{ address: "127.0.0.2", family: 4 }],
};
const resolve = async (host: string) => {
  const r = names[host];
  if (!r) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: "ENOTFOUND" });
  return r();
};

describe("webhook targets (HOOK-7)", () => {
  let t: TestApp;
  let owner: H;
  let org: string;
  let rx: Receiver;
  const call = (method: string, url: string, payload?: object) =>
    t.app.inject({ method: method as "GET", url, headers: owner, ...(payload ? { payload } : {}) });

  beforeAll(async () => {
    rx = await new Receiver().start("127.0.0.2");
    t = await testApp({ WEBHOOK_WORKER: "off", BULWARK_WEBHOOK_ALLOWLIST: "127.0.0.2" }, undefined, {
      webhooks: { resolve },
    });
    await createUser(t, "owner@example.org", "webhook targets passphrase");
    const o = await login(t, "owner@example.org", "webhook targets passphrase");
    owner = { cookie: o.cookie, "x-csrf-token": o.csrf };
    org = (await call("POST", "/v1/orgs", { name: "Targets Inc" })).json().org.id;
  });
  afterAll(async () => {
    await t.close();
    await rx.close();
  });

  it.each(REFUSED)("HOOK-7: %s is refused at creation", async (_what, url) => {
    const res = await call("POST", `/v1/orgs/${org}/webhook-endpoints`, { url });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code: "VALIDATION_FAILED", details: [{ field: "url" }] });
  });

  it("HOOK-7: a public address is accepted, and a name that does not resolve is refused", async () => {
    expect(
      (await call("POST", `/v1/orgs/${org}/webhook-endpoints`, { url: "https://public.example/hook" }))
        .statusCode,
    ).toBe(201);
    const unknown = await call("POST", `/v1/orgs/${org}/webhook-endpoints`, {
      url: "https://nowhere.example/hook",
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.message).toContain("does not resolve");
  });

  it("HOOK-7: a name public at creation and loopback at delivery is refused at delivery, and nothing is sent", async () => {
    const loop = await new Receiver().start();
    try {
      const port = new URL(loop.url).port;
      const made = await call("POST", `/v1/orgs/${org}/webhook-endpoints`, {
        url: `http://rebind.example:${port}/hook`,
      });
      expect(made.statusCode, made.body).toBe(201);
      const id = made.json().endpoint.id;
      await call("POST", `/v1/orgs/${org}/webhook-endpoints/${id}/test`);
      const dispatcher = t.app.bulwark.service("webhookDispatcher");
      await dispatcher.tick();
      await until(async () => (await deliveriesOf(id))[0]?.lastError != null);
      const [d] = await deliveriesOf(id);
      expect(d.lastError).toBe("rebind.example resolves to a loopback address");
      expect(loop.got).toHaveLength(0);
      await call("PATCH", `/v1/orgs/${org}/webhook-endpoints/${id}`, { enabled: false });
    } finally {
      await loop.close();
    }
  });

  it("HOOK-7: a delivery connects to the address its check approved (a name only the check knows)", async () => {
    const port = new URL(rx.url).port;
    const made = await call("POST", `/v1/orgs/${org}/webhook-endpoints`, {
      url: `http://pinned.test:${port}/hook`,
    });
    expect(made.statusCode, made.body).toBe(201);
    await call("POST", `/v1/orgs/${org}/webhook-endpoints/${made.json().endpoint.id}/test`);
    const dispatcher = t.app.bulwark.service("webhookDispatcher");
    await dispatcher.tick();
    await until(() => rx.got.length === 1);
    expect(rx.got[0]!.headers.host).toBe(`pinned.test:${port}`);
  });

  it("HOOK-7: redirects are not followed", async () => {
    rx.got.length = 0;
    rx.answer = () => ({ status: 302, headers: { location: "http://127.0.0.1/elsewhere" } });
    const port = new URL(rx.url).port;
    const made = await call("POST", `/v1/orgs/${org}/webhook-endpoints`, {
      url: `http://127.0.0.2:${port}/moved`,
    });
    const id = made.json().endpoint.id;
    await call("POST", `/v1/orgs/${org}/webhook-endpoints/${id}/test`);
    await t.app.bulwark.service("webhookDispatcher").tick();
    await until(async () => (await deliveriesOf(id))[0]?.lastError != null);
    expect(rx.got).toHaveLength(1);
    expect((await deliveriesOf(id))[0]).toMatchObject({ status: "dead", lastStatus: 302 });
  });

  it("HOOK-7: every refused form is refused by the policy itself, also for a connection's lookup", async () => {
    const policy = new TargetPolicy([], true, resolve);
    for (const [what, url] of REFUSED.filter(([, u]) => !u.includes("@") && !u.startsWith("ftp")))
      await expect(policy.check(policy.parse(url)), what).rejects.toThrow();
    expect(policy.refusal("93.184.216.34")).toBeUndefined();
    expect(policy.refusal("2606:4700::1111")).toBeUndefined();
  });

  async function deliveriesOf(id: string) {
    return (await call("GET", `/v1/orgs/${org}/webhook-deliveries?endpointId=${id}`)).json().deliveries;
  }
});

describe("webhook targets in production (HOOK-7)", () => {
  it("HOOK-7: production refuses a plain http endpoint through the API unless its host is allowlisted", async () => {
    const t = await testApp(
      {
        ...PRODUCTION_ENV,
        TRUSTED_PROXIES: "127.0.0.1",
        WEBHOOK_WORKER: "off",
        BULWARK_WEBHOOK_ALLOWLIST: "hooks.partner.example",
      },
      undefined,
      { webhooks: { resolve: async () => [{ address: "93.184.216.34", family: 4 }] } },
    );
    try {
      const via = { "x-forwarded-proto": "https", "x-forwarded-for": "203.0.113.9" };
      await createUser(t, "prod-owner@example.org", "webhook targets passphrase");
      const signed = await t.app.inject({
        method: "POST",
        url: "/v1/auth/login",
        headers: via,
        payload: { email: "prod-owner@example.org", password: "webhook targets passphrase" },
      });
      expect(signed.statusCode, signed.body).toBe(200);
      const headers = {
        ...via,
        cookie: String(signed.headers["set-cookie"]).split(";")[0]!,
        "x-csrf-token": signed.json().csrfToken,
      };
      const call = (url: string, payload: object) => t.app.inject({ method: "POST", url, headers, payload });
      const org = (await call("/v1/orgs", { name: "Production Targets" })).json().org.id;
      const plain = await call(`/v1/orgs/${org}/webhook-endpoints`, { url: "http://public.example/hook" });
      expect(plain.statusCode, plain.body).toBe(400);
      expect(plain.json().error).toMatchObject({
        code: "VALIDATION_FAILED",
        details: [{ field: "url", message: expect.stringContaining("https") }],
      });
      const tls = await call(`/v1/orgs/${org}/webhook-endpoints`, { url: "https://public.example/hook" });
      expect(tls.statusCode, tls.body).toBe(201);
      const listed = await call(`/v1/orgs/${org}/webhook-endpoints`, {
        url: "http://hooks.partner.example/in",
      });
      expect(listed.statusCode, listed.body).toBe(201);
    } finally {
      await t.close();
    }
  });
});
