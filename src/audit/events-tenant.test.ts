import { Type } from "@sinclair/typebox";
import { AppError, type Extension, newId } from "bulwark";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { catalogStore } from "../../examples/catalog/store.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import type { Mail } from "../mail/mailer.js";
import { OrgStore } from "../orgs/store.js";
import { sha256 } from "../util/ids.js";
import type { AuditEntry } from "./entry.js";

declare module "bulwark" {
  interface Actions {
    "probe:write": true;
    "probe:read": true;
  }
}

const PW = "audit events passphrase 7";

/**
 * A probe extension for AUDIT-2's transaction guarantee: each route records through `ctx.audit`, then
 * commits, throws after a real write, or is a GET (read-only scope).
 */
const probe: Extension = {
  name: "probe",
  actions: { "probe:write": ["ADMIN"], "probe:read": ["ADMIN"] },
  routes(tenant) {
    const record = { action: "probe.touched", entity: { type: "probe", id: "p1" }, after: { n: 1 } };
    tenant.route({
      method: "POST",
      url: "/probe/ok",
      action: "probe:write",
      schema: { summary: "Records and commits", body: Type.Object({}) },
      handler: async (ctx) => void (await ctx.audit(record)),
    });
    tenant.route({
      method: "POST",
      url: "/probe/fail",
      action: "probe:write",
      schema: { summary: "Writes a product, records it, then fails", body: Type.Object({}) },
      async handler({ tx, orgId, now, audit }) {
        const id = newId("prd", now);
        const row = { id, org_id: orgId, name: "Ghost", sku: "GHOST-1", price_cents: 1, stock: 1 };
        await catalogStore.insertProduct(tx, {
          ...row,
          description_html: "",
          image_upload_id: null,
          created_at: now,
          updated_at: now,
        });
        await audit({ action: "product.created", entity: { type: "product", id }, after: { name: "Ghost" } });
        throw new AppError("CONFLICT", "Failing after the write and the record, on purpose.");
      },
    });
    tenant.route({
      method: "GET",
      url: "/probe/read",
      action: "probe:read",
      schema: { summary: "Records from a read" },
      handler: async (ctx) => void (await ctx.audit(record)),
    });
  },
};

describe(`AUDIT-2 domain events of organisations, keys and extensions (${ENGINE})`, () => {
  const mails: Mail[] = [];
  let t: TestApp;
  let owner: { cookie: string; csrf: string };
  let ownerId = "";
  let orgId = "";
  beforeAll(async () => {
    t = await testApp({}, undefined, {
      extensions: [catalog, probe],
      mailer: { send: async (m: Mail) => void mails.push(m) },
    });
    ownerId = await createUser(t, "boss@example.org", PW);
    owner = await login(t, "boss@example.org", PW);
    orgId = (await call(owner, "POST", "/v1/orgs", { name: "Audited" })).json().org.id;
  });
  afterAll(() => t.close());

  function call(who: { cookie: string; csrf: string } | null, method: string, url: string, payload?: object) {
    return t.app.inject({
      method: method as "GET",
      url,
      ...(payload ? { payload } : {}),
      headers: who ? { cookie: who.cookie, "x-csrf-token": who.csrf } : {},
    });
  }
  /**
   * The organisation's domain events, oldest first (or those of one action). Read without a flush: a
   * domain event is written in its change's transaction, so it is there once the response is.
   */
  async function events(log: string, action?: string): Promise<AuditEntry[]> {
    const rows = await t.app.bulwark.service("audit").query({ log, ...(action ? { action } : {}) }, 100);
    return rows
      .map((r) => JSON.parse(r.entry ?? "null") as AuditEntry)
      .filter((e) => e.type === "event")
      .reverse();
  }
  async function only(log: string, action: string): Promise<AuditEntry> {
    const found = await events(log, action);
    expect(found, action).toHaveLength(1);
    return found[0]!;
  }
  /** The token of the newest invitation mail to `to` (mails leave after the response). */
  async function tokenFor(to: string, after: number): Promise<string> {
    for (let i = 0; i < 100 && mails.filter((m) => m.to === to).length <= after; i++)
      await new Promise((r) => setTimeout(r, 10));
    const mail = mails.filter((m) => m.to === to)[after];
    return /[?&]token=([A-Za-z0-9_-]+)/.exec(mail?.text ?? "")?.[1] ?? "";
  }
  const boss = () => ({ type: "USER", id: ownerId, email: "boss@example.org" });

  it("AUDIT-2: invitation sent, accepted and revoked, role change and removal are recorded in the organisation's log with before and after", async () => {
    const joinerId = await createUser(t, "joiner@example.org", PW);
    const sent = await call(owner, "POST", `/v1/orgs/${orgId}/invitations`, {
      email: "joiner@example.org",
      role: "MEMBER",
    });
    expect(sent.statusCode).toBe(201);
    const invId = sent.json().invitation.id;
    const firstToken = await tokenFor("joiner@example.org", 0);
    const created = await only(orgId, "invitation.created");
    expect(created).toMatchObject({
      org: orgId,
      actor: boss(),
      impersonator: null,
      entity: { type: "invitation", id: invId },
      metadata: { email: "joiner@example.org", role: "MEMBER", requestId: sent.headers["x-request-id"] },
    });

    expect((await call(owner, "POST", `/v1/orgs/${orgId}/invitations/${invId}/resend`, {})).statusCode).toBe(
      202,
    );
    const token = await tokenFor("joiner@example.org", 1);
    const resent = await only(orgId, "invitation.resent");
    expect(resent).toMatchObject({ actor: boss(), entity: { type: "invitation", id: invId } });
    expect(resent.before).toEqual({ expiresAt: expect.any(String) });
    expect(resent.after).toEqual({ expiresAt: expect.any(String) });

    const joiner = await login(t, "joiner@example.org", PW);
    expect((await call(joiner, "POST", "/v1/invitations/accept", { orgId, token })).statusCode).toBe(200);
    expect(await only(orgId, "invitation.accepted")).toMatchObject({
      actor: { type: "USER", id: joinerId, email: "joiner@example.org" },
      entity: { type: "invitation", id: invId },
      before: { role: null },
      after: { role: "MEMBER" },
      metadata: { email: "joiner@example.org", role: "MEMBER" },
    });

    const other = await call(owner, "POST", `/v1/orgs/${orgId}/invitations`, {
      email: "nope@example.org",
      role: "VIEWER",
    });
    const otherToken = await tokenFor("nope@example.org", 0);
    expect(
      (await call(owner, "DELETE", `/v1/orgs/${orgId}/invitations/${other.json().invitation.id}`)).statusCode,
    ).toBe(204);
    expect(await only(orgId, "invitation.revoked")).toMatchObject({
      actor: boss(),
      entity: { type: "invitation", id: other.json().invitation.id },
      metadata: { email: "nope@example.org", role: "VIEWER" },
    });

    const member = `/v1/orgs/${orgId}/members/${joinerId}`;
    expect((await call(owner, "PATCH", member, { role: "ADMIN" })).statusCode).toBe(200);
    expect(await only(orgId, "member.role_changed")).toMatchObject({
      actor: boss(),
      entity: { type: "member", id: joinerId },
      before: { role: "MEMBER" },
      after: { role: "ADMIN" },
    });
    expect((await call(owner, "DELETE", member)).statusCode).toBe(204);
    // A member who leaves is recorded as their own removal.
    const leaverId = await createUser(t, "leaver@example.org", PW);
    await new OrgStore(t.db.global, t.db.engine).addMember(orgId, leaverId, "VIEWER", Date.now());
    const leaver = await login(t, "leaver@example.org", PW);
    expect((await call(leaver, "DELETE", `/v1/orgs/${orgId}/members/${leaverId}`)).statusCode).toBe(204);
    const removed = await events(orgId, "member.removed");
    expect(
      removed.map((e) => [e.actor.id, e.entity, e.before, e.after, (e.metadata as { left: boolean }).left]),
    ).toEqual([
      [ownerId, { type: "member", id: joinerId }, { role: "ADMIN" }, null, false],
      [leaverId, { type: "member", id: leaverId }, { role: "VIEWER" }, null, true],
    ]);

    // The owner reads the same, newest first; no entry holds an invitation token or its hash.
    const listed = await call(owner, "GET", `/v1/orgs/${orgId}/audit-events?limit=100`);
    const actions = (listed.json().items as AuditEntry[])
      .filter((e) => e.type === "event")
      .map((e) => e.action);
    expect(actions.slice(0, 7)).toEqual([
      "member.removed",
      "member.removed",
      "member.role_changed",
      "invitation.revoked",
      "invitation.created",
      "invitation.accepted",
      "invitation.resent",
    ]);
    const text = JSON.stringify(await events(orgId));
    for (const secret of [firstToken, token, otherToken]) {
      expect(secret.length).toBeGreaterThan(20);
      expect(text).not.toContain(secret.slice(4));
      expect(text).not.toContain(sha256(secret));
    }
  });

  it("AUDIT-2: organisation settings changes and API key create, rotate and revoke are recorded; no key or hash appears in any entry", async () => {
    const made = await call(owner, "POST", "/v1/orgs", { name: "Settings Co", slug: "settings-co" });
    const org = made.json().org.id;
    expect(await only(org, "org.created")).toMatchObject({
      actor: boss(),
      org,
      entity: { type: "org", id: org },
      after: { name: "Settings Co", slug: "settings-co", requireMfa: false },
    });
    expect((await call(owner, "PATCH", `/v1/orgs/${org}`, { name: "Settings Ltd" })).statusCode).toBe(200);
    // Unchanged: no event.
    expect(
      (await call(owner, "PATCH", `/v1/orgs/${org}`, { name: "Settings Ltd", requireMfa: false })).statusCode,
    ).toBe(200);
    const updated = await only(org, "org.updated");
    expect(updated).toMatchObject({ actor: boss(), entity: { type: "org", id: org } });
    expect([updated.before, updated.after]).toEqual([{ name: "Settings Co" }, { name: "Settings Ltd" }]);

    const keys = `/v1/orgs/${org}/api-keys`;
    const first = (await call(owner, "POST", keys, { name: "ci", scopes: ["org:read"] })).json();
    const created = await only(org, "apikey.created");
    expect(created).toMatchObject({ actor: boss(), entity: { type: "apikey", id: first.apiKey.id } });
    expect(created.after).toEqual({
      name: "ci",
      scopes: ["org:read"],
      prefix: first.key.slice(0, 12),
      expiresAt: null,
    });

    const second = (
      await call(owner, "POST", `${keys}/${first.apiKey.id}/rotate`, { gracePeriodSeconds: 60 })
    ).json();
    const rotated = await only(org, "apikey.rotated");
    expect(rotated).toMatchObject({
      actor: boss(),
      entity: { type: "apikey", id: second.apiKey.id },
      after: { name: "ci", scopes: ["org:read"], prefix: second.key.slice(0, 12), expiresAt: null },
      metadata: { replaces: first.apiKey.id, replacesPrefix: first.key.slice(0, 12) },
    });

    expect((await call(owner, "DELETE", `${keys}/${second.apiKey.id}`)).statusCode).toBe(204);
    const revoked = await only(org, "apikey.revoked");
    expect(revoked).toMatchObject({
      actor: boss(),
      entity: { type: "apikey", id: second.apiKey.id },
      before: { prefix: second.key.slice(0, 12), revokedAt: null },
      after: { prefix: second.key.slice(0, 12), revokedAt: expect.any(String) },
    });

    const rows = await t.db.global
      .selectFrom("audit_events")
      .select("entry")
      .where("log_id", "=", org)
      .execute();
    const text = rows.map((r) => r.entry).join("\n");
    for (const key of [first.key as string, second.key as string]) {
      expect(text).not.toContain(key.slice(12));
      expect(text).not.toContain(sha256(key));
    }
  });

  it("AUDIT-2: the catalog's product and order changes are recorded through the TenantContext in the same transaction", async () => {
    const base = `/v1/orgs/${orgId}`;
    const product = {
      name: "Kettle",
      sku: "KET-1",
      priceCents: 100,
      stock: 5,
      descriptionHtml: "<p>Hot</p>",
    };
    const p = (await call(owner, "POST", `${base}/products`, product)).json().product;
    expect(await only(orgId, "product.created")).toMatchObject({
      actor: boss(),
      entity: { type: "product", id: p.id },
      before: null,
      after: product,
    });
    // A refused duplicate changes nothing and records nothing.
    expect((await call(owner, "POST", `${base}/products`, product)).statusCode).toBe(409);
    expect(await events(orgId, "product.created")).toHaveLength(1);

    expect(
      (await call(owner, "PATCH", `${base}/products/${p.id}`, { priceCents: 150, name: "Kettle" }))
        .statusCode,
    ).toBe(200);
    const updated = await only(orgId, "product.updated");
    expect([updated.entity, updated.before, updated.after]).toEqual([
      { type: "product", id: p.id },
      { priceCents: 100 },
      { priceCents: 150 },
    ]);

    const order = (
      await call(owner, "POST", `${base}/orders`, { lines: [{ productId: p.id, quantity: 2 }] })
    ).json().order;
    expect(await only(orgId, "order.created")).toMatchObject({
      actor: boss(),
      entity: { type: "order", id: order.id },
      after: {
        status: "pending",
        totalCents: 300,
        lines: [{ productId: p.id, quantity: 2, unitPriceCents: 150 }],
      },
    });
    expect((await call(owner, "PATCH", `${base}/orders/${order.id}`, { status: "paid" })).statusCode).toBe(
      200,
    );
    expect((await call(owner, "PATCH", `${base}/orders/${order.id}`, { status: "pending" })).statusCode).toBe(
      409,
    );
    const moved = await only(orgId, "order.status_changed");
    expect([moved.entity, moved.before, moved.after]).toEqual([
      { type: "order", id: order.id },
      { status: "pending" },
      { status: "paid" },
    ]);

    expect((await call(owner, "DELETE", `${base}/products/${p.id}`)).statusCode).toBe(204);
    const deleted = await only(orgId, "product.deleted");
    expect([deleted.actor, deleted.entity, deleted.before, deleted.after]).toEqual([
      boss(),
      { type: "product", id: p.id },
      { ...product, priceCents: 150 },
      null,
    ]);
  });

  it("AUDIT-2: a rolled-back transaction leaves no domain event; a committed one always has one", async () => {
    const base = `/v1/orgs/${orgId}`;
    const failed = await call(owner, "POST", `${base}/probe/fail`, {});
    expect(failed.statusCode).toBe(409);
    // Neither the product the handler wrote nor the entry it recorded survived the rollback.
    const products = (await call(owner, "GET", `${base}/products`)).json().products as { sku: string }[];
    expect(products.map((x) => x.sku)).not.toContain("GHOST-1");
    expect((await events(orgId, "product.created")).map((e) => e.after)).not.toContainEqual({
      name: "Ghost",
    });

    const read = await call(owner, "GET", `${base}/probe/read`);
    expect(read.statusCode).toBe(500);
    expect(await events(orgId, "probe.touched")).toEqual([]);

    for (let i = 1; i <= 3; i++) {
      const ok = await call(owner, "POST", `${base}/probe/ok`, {});
      expect(ok.statusCode).toBe(200);
      const touched = await events(orgId, "probe.touched");
      expect(touched).toHaveLength(i);
      expect(touched[i - 1]).toMatchObject({
        actor: boss(),
        org: orgId,
        entity: { type: "probe", id: "p1" },
        after: { n: 1 },
        metadata: { requestId: ok.headers["x-request-id"] },
      });
    }
  });
});
