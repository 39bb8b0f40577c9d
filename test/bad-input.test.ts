import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../examples/catalog/index.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "./harness.js";

const PW = "bad input passphrase 1";

/**
 * "Every bad input gets a 4xx with the error envelope, never a 500": every route in the route table,
 * called by a signed-in owner with hostile path parameters and bodies, answers below 500 with the
 * envelope on errors.
 */
describe(`bad input on every route (${ENGINE})`, () => {
  let t: TestApp;
  let cookie = "";
  let csrf = "";
  let orgId = "";
  beforeAll(async () => {
    t = await testApp({}, undefined, { extensions: [catalog] });
    await createUser(t, "fuzz@example.org", PW);
    ({ cookie, csrf } = await login(t, "fuzz@example.org", PW));
    orgId = (
      await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        payload: { name: "Fuzz" },
        headers: { cookie, "x-csrf-token": csrf },
      })
    ).json().org.id;
  });
  afterAll(() => t.close());

  const PARAMS = [
    "..%2f..%2fetc%2fpasswd",
    "%00",
    "x".repeat(300),
    "' OR 1=1 --",
    "usr_01ZZZZZZZZZZZZZZZZZZZZZZZZ",
  ];
  const BODIES: Array<[string, string]> = [
    ['{"broken": ', "application/json"],
    ["[1,2,3]", "application/json"],
    ['{"unknown": true}', "application/json"],
    ['{"__proto__": {"admin": true}}', "application/json"],
    [
      '{"email": 42, "password": [], "name": {}, "role": "GOD", "lines": "x", "status": null}',
      "application/json",
    ],
    ["<xml/>", "application/xml"],
  ];

  it("INPUT-1/OBS-1: no route answers 500 to hostile parameters or bodies", async () => {
    const routes = t.app.bulwark.routes.filter(
      (r) => !["HEAD", "OPTIONS"].includes(r.method) && !r.url.includes("*") && !r.url.startsWith("/docs"),
    );
    expect(routes.length).toBeGreaterThan(40);
    let calls = 0;
    const failures: string[] = [];
    for (const r of routes) {
      for (const p of PARAMS) {
        const url = r.url
          .replace(":orgId", r.url.includes(":id") || r.url.includes(":userId") ? orgId : p)
          .replace(/:\w+/g, p);
        const bodies: Array<[string, string] | undefined> = ["POST", "PUT", "PATCH", "DELETE"].includes(
          r.method,
        )
          ? BODIES
          : [undefined];
        for (const b of bodies) {
          const res = await t.app.inject({
            method: r.method as "GET",
            url,
            headers: { cookie, "x-csrf-token": csrf, ...(b ? { "content-type": b[1] } : {}) },
            ...(b ? { payload: b[0] } : {}),
          });
          calls++;
          const where = `${r.method} ${url} ${b?.[0] ?? ""} -> ${res.statusCode} ${res.body.slice(0, 120)}`;
          if (res.statusCode >= 500) failures.push(where);
          else if (res.statusCode >= 400 && !/^[A-Z_]+$/.test(String(res.json()?.error?.code)))
            failures.push(`no envelope: ${where}`);
        }
      }
    }
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(500);
  });

  it("INPUT-2: SQL metacharacters in input are data, never SQL", async () => {
    const name = "Robert'); DROP TABLE organizations;--";
    const res = await t.app.inject({
      method: "POST",
      url: "/v1/orgs",
      payload: { name },
      headers: { cookie, "x-csrf-token": csrf },
    });
    expect(res.statusCode).toBe(201);
    const again = await t.app.inject({ url: `/v1/orgs/${res.json().org.id}`, headers: { cookie } });
    expect(again.json().org.name).toBe(name);
    expect((await t.app.inject({ url: "/v1/orgs", headers: { cookie } })).json().orgs.length).toBe(2);
  });
});
