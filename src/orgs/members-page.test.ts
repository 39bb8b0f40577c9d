import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { OrgStore } from "./store.js";

const PW = "members paging passphrase";
const T0 = Date.UTC(2031, 4, 6, 7, 8, 9, 10);

describe(`GET /v1/orgs/:orgId/members pages by cursor (${ENGINE})`, () => {
  let t: TestApp;
  let orgId = "";
  const ids: Record<string, string> = {};
  const cookies: Record<string, string> = {};
  /** Every member as the route must show it, ordered as the pages walk them (by user id). */
  let everyone: Array<{ userId: string; email: string; role: string; joinedAt: string }> = [];
  beforeAll(async () => {
    t = await testApp();
    for (const name of ["owner", "admin", "viewer", "outsider", "elsewhere"]) {
      ids[name] = await createUser(t, `${name}@paging.example`, PW);
      cookies[name] = (await login(t, `${name}@paging.example`, PW)).cookie;
    }
    const create = async (who: string, name: string): Promise<string> => {
      const { csrf, cookie } = await login(t, `${who}@paging.example`, PW);
      const res = await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        payload: { name },
        headers: { cookie, "x-csrf-token": csrf },
      });
      expect(res.statusCode).toBe(201);
      return res.json().org.id;
    };
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(T0);
    orgId = await create("owner", "Paged Members");
    vi.useRealTimers();
    // Another organisation with a member of its own: never on this organisation's pages.
    await create("elsewhere", "Somewhere Else");
    const store = new OrgStore(t.db.global, t.db.engine);
    await store.addMember(orgId, ids.admin!, "ADMIN", T0 + 1000);
    await store.addMember(orgId, ids.viewer!, "VIEWER", T0 + 2000);
    everyone = [
      {
        userId: ids.owner!,
        email: "owner@paging.example",
        role: "OWNER",
        joinedAt: new Date(T0).toISOString(),
      },
      {
        userId: ids.admin!,
        email: "admin@paging.example",
        role: "ADMIN",
        joinedAt: new Date(T0 + 1000).toISOString(),
      },
      {
        userId: ids.viewer!,
        email: "viewer@paging.example",
        role: "VIEWER",
        joinedAt: new Date(T0 + 2000).toISOString(),
      },
    ].sort((a, b) => (a.userId < b.userId ? -1 : 1));
  });
  afterAll(() => t.close());

  const members = (who: string, query = "") =>
    t.app.inject({ url: `/v1/orgs/${orgId}/members${query}`, headers: { cookie: cookies[who]! } });

  it("AUTHZ-1: with 3 members and limit=2, two pages cover everyone exactly once; the last page's nextCursor is null", async () => {
    const first = await members("owner", "?limit=2");
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ members: everyone.slice(0, 2), nextCursor: everyone[1]!.userId });
    const second = await members("owner", `?limit=2&after=${first.json().nextCursor}`);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual({ members: everyone.slice(2), nextCursor: null });
  });

  it("AUTHZ-2: without a limit one page holds every member and no one from another organisation, with nextCursor null", async () => {
    const res = await members("owner");
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ members: everyone, nextCursor: null });
  });

  it("AUTHZ-1: a VIEWER (members:read) walks the same pages one member at a time", async () => {
    const seen: string[] = [];
    const cursors: Array<string | null> = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const res = await members("viewer", `?limit=1${after ? `&after=${after}` : ""}`);
      expect(res.statusCode).toBe(200);
      seen.push(...res.json().members.map((m: { userId: string }) => m.userId));
      after = res.json().nextCursor;
      cursors.push(after);
      if (!after) break;
    }
    expect(seen).toEqual(everyone.map((m) => m.userId));
    // A full last page cannot know it is the last: one more, empty page ends the walk.
    expect(cursors).toEqual([...everyone.map((m) => m.userId), null]);
  });

  it("AUTHZ-2: an outsider gets 404 on the members pages, whatever the cursor", async () => {
    for (const query of ["?limit=2", `?limit=2&after=${everyone[0]!.userId}`]) {
      const res = await members("outsider", query);
      expect(res.statusCode, query).toBe(404);
      expect(res.json().error.code).toBe("NOT_FOUND");
    }
  });

  it("INPUT-1: a limit outside 1..200 or a cursor that is not a user id is a 400 naming the field", async () => {
    for (const [query, field] of [
      ["?limit=0", "limit"],
      ["?limit=201", "limit"],
      ["?after=org_01ZZZZZZZZZZZZZZZZZZZZZZZZ", "after"],
      ["?after=usr_x'--", "after"],
    ] as const) {
      const res = await members("owner", query);
      expect(res.statusCode, query).toBe(400);
      expect(res.json().error).toMatchObject({
        code: "VALIDATION_FAILED",
        details: [{ in: "querystring", field }],
      });
    }
  });
});
