import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, login, type TestApp, testApp } from "../../test/harness.js";
import { buildApp } from "../app.js";

const PW = "claims passphrase 42";

/** Sentences of the AUDIT-1 and AUDIT-5 claims that the other audit tests do not exercise. */
describe("audit log claims", () => {
  let t: TestApp;
  let owner: Record<string, string>;
  let org: string;

  beforeAll(async () => {
    // The export tier at 1 an hour; every other limit out of the way (testConfig's).
    t = await testApp({
      RATE_LIMIT_TIERS: "general=1000000/1m,sensitive=1000000/1m,admin=1000000/1m,export=1/1h",
    });
    await createUser(t, "claims@example.org", PW);
    const s = await login(t, "claims@example.org", PW);
    owner = { cookie: s.cookie, "x-csrf-token": s.csrf };
    org = (
      await t.app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Claims" } })
    ).json().org.id;
  });
  afterAll(() => t.close());

  /** Whether the request record (not a domain event naming the request) of `requestId` is in the log. */
  const recorded = async (requestId: string) =>
    (await t.app.bulwark.service("audit").query({ log: org, action: "http.request" }, 50)).some(
      (r) => (JSON.parse(r.entry!) as { request: { requestId: string } }).request.requestId === requestId,
    );

  it("AUDIT-1: a request record is written within 100 ms of the response, with nobody flushing", async () => {
    const res = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org}`,
      headers: owner,
      payload: { name: "Soon" },
    });
    expect(res.statusCode).toBe(200);
    const id = String(res.headers["x-request-id"]);
    await new Promise((r) => setTimeout(r, 250));
    expect(await recorded(id)).toBe(true);
  });

  it("AUDIT-1: a clean shutdown writes the records still waiting", async () => {
    // A second node on the same database, closed right after its request: its buffer must reach the log.
    const node = await buildApp(t.config, { db: t.db, logStream: { write: () => {} } });
    await node.ready();
    const res = await node.inject({
      method: "PATCH",
      url: `/v1/orgs/${org}`,
      headers: owner,
      payload: { name: "Bye" },
    });
    expect(res.statusCode).toBe(200);
    await node.close();
    expect(await recorded(String(res.headers["x-request-id"]))).toBe(true);
  });

  it("AUDIT-5: exports have their own rate limit (the export tier), apart from the general one", async () => {
    const url = `/v1/orgs/${org}/audit-events/export?format=ndjson`;
    expect((await t.app.inject({ url, headers: owner })).statusCode).toBe(200);
    const second = await t.app.inject({ url, headers: owner });
    expect(second.statusCode).toBe(429);
    expect(second.json().error.code).toBe("RATE_LIMITED");
    // The query itself is in the general tier: still answered.
    expect((await t.app.inject({ url: `/v1/orgs/${org}/audit-events`, headers: owner })).statusCode).toBe(
      200,
    );
  });
});
