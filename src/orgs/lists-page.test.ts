import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";

const PW = "list paging passphrase";

/** Walks a list route page by page with `limit` and `after`; returns every item's id, in order, and the pages' sizes. */
async function walk(
  t: TestApp,
  url: string,
  key: string,
  id: (item: Record<string, string>) => string,
  headers: Record<string, string>,
): Promise<{ ids: string[]; sizes: number[] }> {
  const ids: string[] = [];
  const sizes: number[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 10; guard++) {
    const res = await t.app.inject({ url: `${url}?limit=2${after ? `&after=${after}` : ""}`, headers });
    expect(res.statusCode).toBe(200);
    const body = res.json() as Record<string, unknown>;
    const items = body[key] as Array<Record<string, string>>;
    ids.push(...items.map(id));
    sizes.push(items.length);
    after = body.nextCursor as string | null;
    if (after === null) break;
    expect(after).toBe(id(items[items.length - 1]!));
  }
  return { ids, sizes };
}

/** The console pages every list (issue 9): a user's organisations and an organisation's pending invitations page by cursor too. */
describe(`the user's organisations and pending invitations page by cursor (${ENGINE})`, () => {
  let t: TestApp;
  let headers: Record<string, string>;
  const orgIds: string[] = [];
  beforeAll(async () => {
    t = await testApp();
    await createUser(t, "pager@lists.example", PW);
    const { cookie, csrf } = await login(t, "pager@lists.example", PW);
    headers = { cookie, "x-csrf-token": csrf };
    for (const name of ["One", "Two", "Three"]) {
      const res = await t.app.inject({ method: "POST", url: "/v1/orgs", payload: { name }, headers });
      expect(res.statusCode).toBe(201);
      orgIds.push(res.json().org.id);
    }
    for (const who of ["a", "b", "c"]) {
      const res = await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${orgIds[0]}/invitations`,
        payload: { email: `${who}@lists.example`, role: "MEMBER" },
        headers,
      });
      expect(res.statusCode).toBe(201);
    }
  });
  afterAll(() => t.close());

  it("AUTHZ-1: GET /v1/orgs pages by organisation id: every organisation once, in order, the last cursor null", async () => {
    const { ids, sizes } = await walk(t, "/v1/orgs", "orgs", (o) => o.id!, headers);
    expect(ids).toEqual([...orgIds].sort());
    expect(sizes).toEqual([2, 1]);
  });

  it("AUTHZ-5: GET …/invitations pages by invitation id: every pending invitation once, the last cursor null", async () => {
    const { ids, sizes } = await walk(
      t,
      `/v1/orgs/${orgIds[0]}/invitations`,
      "invitations",
      (i) => i.id!,
      headers,
    );
    expect(ids).toHaveLength(3);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(3);
    expect(sizes).toEqual([2, 1]);
  });

  it("INPUT-1: a cursor of the wrong kind is refused with the field named", async () => {
    const res = await t.app.inject({ url: `/v1/orgs?after=inv_01HZZZZZZZZZZZZZZZZZZZZZZZ`, headers });
    expect(res.statusCode).toBe(400);
    expect(res.json().error.details).toEqual([
      expect.objectContaining({ in: "querystring", field: "after" }),
    ]);
  });
});
