import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyRequest } from "fastify";
import { sql } from "kysely";
import * as OTPAuth from "otpauth";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { catalog } from "../../examples/catalog/index.js";
import { everyRow as scanTables } from "../../test/every-row.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { verifyBundle, verifyDatabase } from "../audit/cli.js";
import { PLATFORM_LOG } from "../audit/entry.js";

type H = Record<string, string>;
const PW = "erasure passphrase 42";
const DAY = 86_400_000;
const MINUTE = 60_000;
const ALICE = { email: "alice@example.org", ip: "10.0.0.1", name: "Alice Liddell" };
const BOB = { email: "bob@example.org", ip: "10.0.0.2" };
/** An address that contains Alice's: a substring match would erase Mallory's data with hers. */
const MALLORY = { email: "m.alice@example.org", ip: "10.0.0.3" };
const GUESSER_IP = "10.9.9.9";

/**
 * GDPR-2: a deletion request waits DELETION_COOLING_OFF_DAYS (here 10) and may be cancelled until then;
 * then the job erases the account. The clock is frozen and moved across the boundary; after erasure,
 * every column of every table is scanned for the person's id, address, name and network address, and
 * the audit log is verified as `bulwark audit verify` does.
 */
describe(`account deletion (GDPR-2, ${ENGINE})`, () => {
  let t: TestApp;
  let alice: H;
  let aliceId: string;
  let bobId: string;
  let wonderland: string;
  let aliceKey: string;
  let solo: string;
  const call = (method: string, url: string, headers: H, payload?: object, remoteAddress?: string) =>
    t.app.inject({
      method: method as "GET",
      url,
      headers,
      ...(payload ? { payload } : {}),
      ...(remoteAddress ? { remoteAddress } : {}),
    });
  const ok = async (res: Promise<{ statusCode: number; body: string; json(): unknown }>) => {
    const r = await res;
    expect(r.statusCode, r.body).toBeLessThan(300);
    // biome-ignore lint/suspicious/noExplicitAny: answers of many routes, read field by field.
    return r.json() as Record<string, any>;
  };
  const session = async (email: string, ip: string): Promise<H> => {
    const s = await login(t, email, PW, ip);
    return { cookie: s.cookie, "x-csrf-token": s.csrf };
  };
  const erasure = () => t.app.bulwark.service("erasure");
  /**
   * Moves the frozen clock. A running server writes its buffered request records within a second;
   * written after the jump, they would be stamped days after their requests.
   */
  const jump = async (to: number) => {
    await t.app.bulwark.service("audit").flush();
    vi.setSystemTime(to);
  };
  let totp: OTPAuth.TOTP;
  /** Alice signs in as she would after days away: password, then her authenticator's code. */
  const aliceSignsIn = async (): Promise<H> => {
    const step = await call("POST", "/v1/auth/login", {}, { email: ALICE.email, password: PW }, ALICE.ip);
    expect(step.json(), step.body).toMatchObject({ mfaRequired: true });
    const res = await call(
      "POST",
      "/v1/auth/mfa/verify",
      {},
      { challengeToken: step.json().challengeToken, code: totp.generate() },
      ALICE.ip,
    );
    expect(res.statusCode, res.body).toBe(200);
    return {
      cookie: String(res.headers["set-cookie"]).split(";")[0] ?? "",
      "x-csrf-token": res.json().csrfToken,
    };
  };

  /** Every row of every table, the audit log's buffer written first. */
  const everyRow = async () => {
    await t.app.bulwark.service("audit").flush();
    return scanTables(t);
  };
  /** The tables and rows that name the person: whole words only, so m.alice@ is not alice@. */
  const naming = (rows: Map<string, string[]>, words: string[]) =>
    [...rows].flatMap(([table, list]) =>
      list
        .filter((r) => {
          const parts = r.split(/[^a-z0-9_.@+'-]+/);
          return words.some((w) => (w.includes(" ") ? r.includes(w) : parts.includes(w)));
        })
        .map((r) => `${table}: ${r}`),
    );
  const aliceWords = () => [aliceId.toLowerCase(), ALICE.email, ALICE.name.toLowerCase(), ALICE.ip];

  beforeAll(async () => {
    t = await testApp({ DELETION_COOLING_OFF_DAYS: "10" }, undefined, { extensions: [catalog] });
    aliceId = await createUser(t, ALICE.email, PW);
    bobId = await createUser(t, BOB.email, PW);
    const malloryId = await createUser(t, MALLORY.email, PW);
    alice = await session(ALICE.email, ALICE.ip);
    const bob = await session(BOB.email, BOB.ip);
    await ok(call("PATCH", "/v1/me", alice, { name: ALICE.name }, ALICE.ip));
    wonderland = (await ok(call("POST", "/v1/orgs", alice, { name: "Wonderland" }, ALICE.ip))).org.id;
    aliceKey = (
      await ok(
        call(
          "POST",
          `/v1/orgs/${wonderland}/api-keys`,
          alice,
          { name: "ci", scopes: ["products:read"] },
          ALICE.ip,
        ),
      )
    ).apiKey.id;
    await ok(
      call(
        "POST",
        `/v1/orgs/${wonderland}/invitations`,
        alice,
        { email: "carol@example.org", role: "MEMBER" },
        ALICE.ip,
      ),
    );
    const pair = await ok(call("POST", "/v1/auth/token", alice, { orgId: wonderland }, ALICE.ip));
    await ok(call("POST", "/v1/auth/token/refresh", {}, { refreshToken: pair.refreshToken }, ALICE.ip));
    const product = (
      await ok(
        call("POST", `/v1/orgs/${wonderland}/products`, alice, {
          name: "Teapot",
          sku: "TEA-1",
          priceCents: 2500,
          stock: 10,
          descriptionHtml: "<p>Porcelain</p>",
        }),
      )
    ).product.id;
    await ok(
      call(
        "POST",
        `/v1/orgs/${wonderland}/orders`,
        alice,
        { lines: [{ productId: product, quantity: 1 }] },
        ALICE.ip,
      ),
    );
    // Bob invites Alice into his organisation (a row of Bob's names her), and is a member of hers.
    const builders = (await ok(call("POST", "/v1/orgs", bob, { name: "Builders" }, BOB.ip))).org.id;
    // An organisation only she belongs to: kept, without members.
    solo = (await ok(call("POST", "/v1/orgs", alice, { name: "Solo Practice" }, ALICE.ip))).org.id;
    await ok(
      call("POST", `/v1/orgs/${builders}/invitations`, bob, { email: ALICE.email, role: "MEMBER" }, BOB.ip),
    );
    await t.app.bulwark.service("orgs").addMember(wonderland, bobId, "MEMBER");
    // Mallory's own organisation and key: nothing of hers may go with Alice's.
    const mallory = await session(MALLORY.email, MALLORY.ip);
    const secret = (await ok(call("POST", "/v1/orgs", mallory, { name: "Secret Corp" }, MALLORY.ip))).org.id;
    await ok(
      call(
        "POST",
        `/v1/orgs/${secret}/api-keys`,
        mallory,
        { name: "deploy", scopes: ["audit:read"] },
        MALLORY.ip,
      ),
    );
    expect(malloryId).toMatch(/^usr_/);
    // A failed sign-in with her address from her network address.
    await call("POST", "/v1/auth/login", {}, { email: ALICE.email, password: "not her password" }, ALICE.ip);
    // Someone guessing passwords, hers and Bob's: their requests against Bob are not hers to erase.
    for (const email of [ALICE.email, BOB.email, BOB.email])
      await call("POST", "/v1/auth/login", {}, { email, password: "guess guess guess" }, GUESSER_IP);
    // An app's own event that names her (AUDIT-2's app events, through an API key).
    const writer = (
      await ok(
        call(
          "POST",
          `/v1/orgs/${wonderland}/api-keys`,
          alice,
          { name: "crm", scopes: ["audit:write"] },
          ALICE.ip,
        ),
      )
    ).key as string;
    await ok(
      call(
        "POST",
        `/v1/orgs/${wonderland}/audit-events`,
        { "x-api-key": writer },
        {
          action: "refund.issued",
          metadata: { email: ALICE.email, amountCents: 1200 },
        },
      ),
    );
    // A second factor last (sign-in needs it from then on).
    const enrol = await ok(call("POST", "/v1/me/mfa/totp", alice, { password: PW }, ALICE.ip));
    totp = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(enrol.secret as string) });
    await ok(call("POST", "/v1/me/mfa/totp/confirm", alice, { code: totp.generate() }, ALICE.ip));
  });
  afterAll(() => t?.close());
  afterEach(() => vi.useRealTimers());

  it("GDPR-2: the erasure job runs hourly", () => {
    expect(t.app.bulwark.service("jobs").schedules()["privacy.erasure"]).toBe(3_600_000);
  });

  it("GDPR-2: the only owner of an organisation with other members cannot ask for deletion", async () => {
    const res = await call("POST", "/v1/me/deletion", alice, undefined, ALICE.ip);
    expect(res.statusCode, res.body).toBe(409);
    expect(res.json()).toMatchObject({ error: { code: "LAST_OWNER", details: { orgs: [wonderland] } } });
    expect((await ok(call("GET", "/v1/me/deletion", alice))).status).toBe("none");
  });

  it("GDPR-2: asking needs the password proved within REAUTH_MINUTES", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    const m = await session(MALLORY.email, MALLORY.ip);
    await jump(Date.now() + 11 * MINUTE);
    const stale = await call("POST", "/v1/me/deletion", m, undefined, MALLORY.ip);
    expect(stale.statusCode, stale.body).toBe(403);
    expect(stale.json().error.code).toBe("REAUTH_REQUIRED");
    await ok(call("POST", "/v1/auth/reauth", m, { password: PW }, MALLORY.ip));
    expect((await call("POST", "/v1/me/deletion", m, undefined, MALLORY.ip)).statusCode).toBe(202);
    await ok(call("DELETE", "/v1/me/deletion", m, undefined, MALLORY.ip));
    expect((await ok(call("GET", "/v1/me/deletion", m))).status).toBe("none");
  });

  it("GDPR-2: a deletion cancelled within the cooling-off period keeps everything", async () => {
    // Bob becomes an owner of Wonderland: Alice may go.
    await ok(call("PATCH", `/v1/orgs/${wonderland}/members/${bobId}`, alice, { role: "OWNER" }, ALICE.ip));
    const before = naming(await everyRow(), aliceWords());
    expect(before.length).toBeGreaterThan(20);

    vi.useFakeTimers({ toFake: ["Date"] });
    const asked = Date.now();
    const res = await call("POST", "/v1/me/deletion", alice, undefined, ALICE.ip);
    expect(res.statusCode, res.body).toBe(202);
    const state = res.json() as { status: string; requestedAt: string; dueAt: string };
    expect(state.status).toBe("pending");
    expect(res.json().coolingOffDays).toBe(10);
    expect(Date.parse(state.requestedAt) - asked).toBeLessThan(1000);
    expect(Date.parse(state.dueAt) - Date.parse(state.requestedAt)).toBe(10 * DAY);
    // Asking again answers the same request.
    expect((await ok(call("POST", "/v1/me/deletion", alice, undefined, ALICE.ip))).dueAt).toBe(state.dueAt);
    await jump(asked + 10 * DAY - MINUTE);
    expect(await erasure().eraseDue()).toBe(0);
    // Days later her session has ended: she signs in again, sees the pending deletion, and cancels it.
    expect((await call("GET", "/v1/me/deletion", alice)).statusCode).toBe(401);
    const back = await aliceSignsIn();
    expect((await ok(call("GET", "/v1/me/deletion", back))).dueAt).toBe(state.dueAt);
    expect((await ok(call("DELETE", "/v1/me/deletion", back, undefined, ALICE.ip))).status).toBe("none");
    expect((await call("DELETE", "/v1/me/deletion", back, undefined, ALICE.ip)).statusCode).toBe(404);
    await jump(asked + 11 * DAY);
    expect(await erasure().eraseDue()).toBe(0);

    // Every table keeps every row that named her (signing in again added some, and moved her last
    // used TOTP step and her sessions' times); her account, memberships and key are as they were.
    const after = naming(await everyRow(), aliceWords());
    const tally = (rows: string[]) =>
      rows.reduce<Record<string, number>>((n, r) => {
        const table = r.slice(0, r.indexOf(":"));
        n[table] = (n[table] ?? 0) + 1;
        return n;
      }, {});
    const [was, is] = [tally(before), tally(after)];
    for (const [table, n] of Object.entries(was)) expect(is[table] ?? 0, table).toBeGreaterThanOrEqual(n);
    for (const table of ["users", "memberships", "api_keys", "orders", "invitations"])
      for (const row of before.filter((r) => r.startsWith(`${table}:`))) expect(after, table).toContain(row);
    const audit = t.app.bulwark.service("audit");
    const actions = (await audit.query({ log: PLATFORM_LOG, entityId: aliceId }, 50)).map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["user.deletion_requested", "user.deletion_cancelled"]));
  });

  it("GDPR-2: after the cooling-off period no table holds her id, address, name or network address, and the audit log still verifies", async () => {
    const totpFree = await session(BOB.email, BOB.ip);
    vi.useFakeTimers({ toFake: ["Date"] });
    await jump(Date.now() + 12 * DAY);
    const asked = Date.now();
    alice = await aliceSignsIn();
    const res = await call("POST", "/v1/me/deletion", alice, undefined, ALICE.ip);
    expect(res.statusCode, res.body).toBe(202);
    await jump(asked + 10 * DAY - MINUTE);
    expect(await erasure().eraseDue()).toBe(0);
    expect(naming(await everyRow(), [aliceId.toLowerCase()]).length).toBeGreaterThan(0);
    // Signed checkpoints over her entries as they were: they must still verify once the content is gone.
    const audit = t.app.bulwark.service("audit");
    await audit.checkpointDue();
    const signed = (await audit.checkpoints(wonderland, 1))[0];
    expect(Number(signed?.size)).toBe(await audit.size(wonderland));
    await jump(asked + 10 * DAY + MINUTE);
    // The first run stops half-way (its audit step fails): the account is already out of reach, and
    // the next run finishes the erasure from what the first recorded.
    const audit0 = t.app.bulwark.service("audit");
    const crash = vi.spyOn(audit0, "erase").mockRejectedValueOnce(new Error("the process died here"));
    await expect(erasure().eraseDue()).rejects.toThrow(/erasure failed/);
    crash.mockRestore();
    // Taken on: the state says so, and a cancellation is refused (she could not sign in to ask anyway).
    expect(await erasure().status(aliceId)).toMatchObject({ erasing: true });
    await expect(erasure().cancel(aliceId, {} as FastifyRequest)).rejects.toMatchObject({ code: "CONFLICT" });
    expect((await call("GET", "/v1/me", alice)).statusCode).toBe(401);
    const locked = await call("POST", "/v1/auth/login", {}, { email: ALICE.email, password: PW }, ALICE.ip);
    expect(locked.statusCode, locked.body).toBe(401);
    expect(await erasure().eraseDue()).toBe(1);

    const rows = await everyRow();
    expect(naming(rows, aliceWords())).toEqual([]);
    // Mallory, whose address contains Alice's, keeps everything; Bob too; and the guesser's requests
    // against Bob keep their address.
    expect(naming(rows, [GUESSER_IP]).length).toBeGreaterThanOrEqual(2);
    expect(naming(rows, [MALLORY.email]).length).toBeGreaterThan(3);
    expect(naming(rows, [BOB.email, bobId.toLowerCase()]).length).toBeGreaterThan(3);

    // What her organisation keeps is kept under her pseudonym.
    const { pseudonym } = (await t.db.global
      .selectFrom("api_keys")
      .select("created_by as pseudonym")
      .where("id", "=", aliceKey)
      .executeTakeFirstOrThrow()) as { pseudonym: string };
    expect(pseudonym).toMatch(/^anon_[0-9A-Z]{26}$/);
    const orders = await t.db.readOrg(wonderland, (db) =>
      db.selectFrom("orders").select("created_by").execute(),
    );
    expect(orders.map((o) => o.created_by)).toEqual([pseudonym]);
    const erased = await audit.query({ log: PLATFORM_LOG, action: "user.erased" }, 5);
    expect(erased).toHaveLength(1);
    expect(erased[0]).toMatchObject({ actor_type: "SYSTEM", entity_type: "user", entity_id: pseudonym });
    // Her entries keep their place under the pseudonym, without content.
    const hers = await audit.query({ log: wonderland, actor: pseudonym }, 100);
    expect(hers.length).toBeGreaterThan(3);
    for (const e of hers) expect(e.entry).toBeNull();

    // Every log and checkpoint still verifies, as `bulwark audit verify` checks them (new checkpoints too).
    await jump(asked + 11 * DAY);
    let out = "";
    const sink = {
      write: (s: string) => {
        out += s;
      },
    };
    await audit.checkpointDue();
    expect(await verifyDatabase(t.db, t.config, { stdout: sink, stderr: sink }), out).toBe(0);

    vi.useRealTimers();
    // Wonderland's own bundle verifies offline with the log's key; blanking one more entry, one the
    // erasure record does not list, fails.
    await ok(
      call("POST", `/v1/orgs/${wonderland}/products`, totpFree, {
        name: "Kettle",
        sku: "KET-1",
        priceCents: 4000,
        stock: 3,
        descriptionHtml: "<p>Copper</p>",
      }),
    );
    const exported = await call("GET", `/v1/orgs/${wonderland}/audit-events/export?format=bundle`, totpFree);
    expect(exported.statusCode, exported.body).toBe(200);
    const vkey = (await call("GET", "/.well-known/audit-keys.json", {})).json().keys[0].vkey as string;
    const dir = mkdtempSync(join(tmpdir(), "bulwark-erased-"));
    const checkBundle = async (body: string) => {
      writeFileSync(join(dir, "bundle.ndjson"), body);
      out = "";
      return verifyBundle(join(dir, "bundle.ndjson"), { key: vkey, stdout: sink, stderr: sink });
    };
    expect(await checkBundle(exported.body), out).toBe(0);
    expect(out).toMatch(/entries carry no content/);
    const lines = exported.body.split("\n");
    const kept = lines.findIndex((l) => l.includes('"entry":"{') && l.includes("product.created"));
    const row = JSON.parse(lines[kept]!) as Record<string, unknown>;
    lines[kept] = JSON.stringify({ ...row, entry: null });
    expect(await checkBundle(lines.join("\n")), out).toBe(1);
    expect(out).toMatch(/no erasure record lists it/);
    // Nor does a listing slipped into the bundle's header (unsigned) cover it.
    const header = JSON.parse(lines[0]!) as Record<string, unknown>;
    lines[0] = JSON.stringify({
      ...header,
      seq: 1e9,
      entry: JSON.stringify({ action: "audit.entries_erased", metadata: { seqs: [row.seq] } }),
    });
    expect(await checkBundle(lines.join("\n")), out).toBe(1);
    expect(out).toMatch(/no erasure record lists it/);

    // Her credentials are gone: her session, her password.
    expect((await call("GET", "/v1/me", alice)).statusCode).toBe(401);
    const signIn = await call("POST", "/v1/auth/login", {}, { email: ALICE.email, password: PW }, ALICE.ip);
    expect(signIn.statusCode, signIn.body).toBe(401);
    // The organisation only she belonged to is kept, without members.
    expect(
      await t.db.global.selectFrom("organizations").select("id").where("id", "=", solo).execute(),
    ).toHaveLength(1);
    expect(
      await t.db.global.selectFrom("memberships").select("user_id").where("org_id", "=", solo).execute(),
    ).toEqual([]);
    // Wonderland carries on under Bob.
    expect((await call("GET", `/v1/orgs/${wonderland}/members`, totpFree)).statusCode).toBe(200);

    // Someone who can write the database but not sign: they blank Bob's new entry (with the purge
    // gate, as the schema owner) and append a listing of it. Verify still refuses: the listing is not
    // signed with the log's key.
    await audit.flush();
    const kettle = (await audit.query({ log: wonderland, action: "product.created" }, 10)).find(
      (e) => e.entry !== null,
    )!;
    await t.db.asOwner((owner) =>
      owner.transaction().execute(async (tx) => {
        if (t.db.engine === "postgres")
          await sql`SELECT set_config('bulwark.audit_purge', ${String(Number.MAX_SAFE_INTEGER)}, true)`.execute(
            tx,
          );
        else await sql`INSERT INTO audit_purge_gate (before) VALUES (${Number.MAX_SAFE_INTEGER})`.execute(tx);
        await sql`UPDATE audit_events SET entry = NULL WHERE id = ${kettle.id}`.execute(tx);
        if (t.db.engine !== "postgres") await sql`DELETE FROM audit_purge_gate`.execute(tx);
      }),
    );
    await audit.record(t.db.global, {
      action: "audit.entries_erased",
      actor: { type: "SYSTEM", id: null, email: null },
      orgId: wonderland,
      metadata: { reason: "account erased (GDPR-2)", seqs: [Number(kettle.seq)], listing: "forged\n" },
    });
    await audit.flush();
    out = "";
    expect(await verifyDatabase(t.db, t.config, { stdout: sink, stderr: sink }), out).toBe(1);
    expect(out).toMatch(/no erasure record lists it/);
  });
});
