import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ENGINE, silentLog, type TestDb, testConfig, testDb } from "../../test/harness.js";
import type { Database } from "../db/database.js";
import { verifyDatabase } from "./cli.js";
import type { AuditEntry, AuditEvent } from "./entry.js";
import { auditOrigin, auditSigner } from "./keys.js";
import { AuditService } from "./service.js";
import { AuditStore } from "./store.js";

const config = testConfig();
let clock = Date.UTC(2026, 11, 6, 12, 0, 0);
/** A server's audit service; several on one database are several nodes (or one before and after a crash). */
const node = (db: Database) =>
  new AuditService(
    new AuditStore(db.global, db.engine),
    db.global,
    auditSigner(config),
    (log) => auditOrigin(config, log),
    { enabled: true, checkpointEntries: 1000, checkpointMs: 60_000, retentionDays: 730 },
    silentLog,
    () => clock,
  );
const event = (i: number, orgId: string): AuditEvent => ({
  action: "order.created",
  actor: { type: "API_KEY", id: "key_01JF3Q5ZX9R7V2K8H4M6W1B3CD", email: null },
  orgId,
  entity: { type: "order", id: `ord_${i}` },
  after: { totalCents: i },
});

describe(`audit: domain events staged in their change's transaction (${ENGINE})`, () => {
  let t: TestDb;
  let store: AuditStore;
  const entries = async (log: string) =>
    (await store.range(log, 0, 10_000)).map((r) => JSON.parse(r.entry!) as AuditEntry);
  const staged = async () =>
    Number(
      (await sql<{ n: number }>`SELECT count(*) AS n FROM audit_pending`.execute(t.db.global)).rows[0]!.n,
    );
  const verify = async (log: string) => {
    let out = "";
    const sink = {
      write: (s: string) => {
        out += s;
      },
    };
    return { code: await verifyDatabase(t.db, config, { org: log, stdout: sink, stderr: sink }), out };
  };

  beforeAll(async () => {
    t = await testDb();
    store = new AuditStore(t.db.global, t.db.engine);
  });
  afterAll(() => t.cleanup());

  it("AUDIT-2: an event committed just before a crash joins its log when the server starts again, with the time of its change", async () => {
    const log = "org_01JF3Q5ZX9R7V2K8H4M6W1CRSH";
    const before = node(t.db);
    const changedAt = clock;
    await t.db.withOrg(log, (tx) => before.record(tx, event(1, log)));
    // The process dies here: its flush never ran.
    expect(await entries(log)).toEqual([]);
    expect(await staged()).toBe(1);
    clock += 5_000;
    const after = node(t.db);
    await after.flush();
    const [entry, ...rest] = await entries(log);
    expect(rest).toEqual([]);
    expect(entry).toMatchObject({
      seq: 0,
      log,
      action: "order.created",
      entity: { type: "order", id: "ord_1" },
    });
    // Its time is the change's, not the move's.
    expect(entry!.time).toBe(new Date(changedAt).toISOString());
    expect(await staged()).toBe(0);
    await after.checkpoint(log);
    expect((await verify(log)).code).toBe(0);
  });

  it("AUDIT-2, AUDIT-4: nodes moving staged events at once put each one in its log exactly once", async () => {
    const logs = [
      "org_01JF3Q5ZX9R7V2K8H4M6W1MV0A",
      "org_01JF3Q5ZX9R7V2K8H4M6W1MV0B",
      "org_01JF3Q5ZX9R7V2K8H4M6W1MV0C",
    ];
    const a = node(t.db);
    const b = node(t.db);
    await Promise.all(
      logs.map(async (log) => {
        for (let i = 0; i < 400; i++) await t.db.withOrg(log, (tx) => a.record(tx, event(i, log)));
      }),
    );
    expect(await staged()).toBe(1200);
    await Promise.all([a.flush(), b.flush(), node(t.db).flush()]);
    expect(await staged()).toBe(0);
    for (const log of logs) {
      const got = await entries(log);
      expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 400 }, (_, i) => i));
      expect(new Set(got.map((e) => e.entity?.id)).size).toBe(400);
      await a.checkpoint(log);
      expect(await verify(log)).toMatchObject({ code: 0 });
    }
  });

  it("AUDIT-3: a staged event is no easier to change than a logged one: no update, and no delete before its log holds it", async () => {
    const log = "org_01JF3Q5ZX9R7V2K8H4M6W1TMPR";
    await t.db.withOrg(log, (tx) => node(t.db).record(tx, event(1, log)));
    // As the server's own database role, as an attacker holding its credentials would.
    await expect(
      sql`UPDATE audit_pending SET entry = replace(entry, 'ord_1', 'ord_2')`.execute(t.db.global),
    ).rejects.toThrow(/never changed/);
    await expect(sql`DELETE FROM audit_pending`.execute(t.db.global)).rejects.toThrow(
      /leaves only into its log/,
    );
    expect(await staged()).toBe(1);
    await node(t.db).flush();
    expect(await staged()).toBe(0);
    expect((await entries(log)).map((e) => e.entity?.id)).toEqual(["ord_1"]);
    // Nor by a decoy: a row with its id put in some other log. The event stays staged (its id is
    // taken, so it cannot move: the server names it), but it is not lost.
    await t.db.withOrg(log, (tx) => node(t.db).record(tx, event(2, log)));
    const { id } = (await sql<{ id: string }>`SELECT id FROM audit_pending`.execute(t.db.global)).rows[0]!;
    await sql`INSERT INTO audit_events (log_id, seq, id, created_at, type, action, actor_type, leaf, entry)
      VALUES ('org_01JF3Q5ZX9R7V2K8H4M6W1DECY', 0, ${id}, ${clock}, 'event', 'order.created', 'API_KEY', ${"0".repeat(64)}, '{}')`.execute(
      t.db.global,
    );
    await expect(sql`DELETE FROM audit_pending`.execute(t.db.global)).rejects.toThrow(
      /leaves only into its log/,
    );
    expect(await staged()).toBe(1);
  });

  it("AUDIT-1, AUDIT-2: an event that cannot join its log is set aside, staged, and holds up neither the events behind it nor the request records", async () => {
    const log = "org_01JF3Q5ZX9R7V2K8H4M6W1PSNA";
    const before = await staged();
    const a = node(t.db);
    await t.db.withOrg(log, (tx) => a.record(tx, event(1, log)));
    await a.flush();
    const [logged] = await store.range(log, 0, 1);
    // Staged rows that can never move: their id is one the log holds already.
    for (let i = 0; i < 2; i++)
      await sql`INSERT INTO audit_pending (log_id, id, created_at, type, action, actor_type, entry)
        VALUES (${log}, ${logged!.id}, ${clock}, 'event', 'order.created', 'SYSTEM', ${'{"seq":0,"time":"x"}'})`.execute(
        t.db.global,
      );
    await t.db.withOrg(log, (tx) => a.record(tx, event(2, log)));
    a.recordSoon({
      action: "http.request",
      actor: { type: "API_KEY", id: "key_01JF3Q5ZX9R7V2K8H4M6W1B3CD", email: null },
      orgId: log,
      request: {
        method: "POST",
        route: "/x",
        status: 201,
        durationMs: 1,
        ip: "127.0.0.1",
        userAgent: null,
        requestId: "r1",
      },
    });
    await a.flush();
    expect((await entries(log)).map((e) => [e.seq, e.action, e.entity?.id ?? null])).toEqual([
      [0, "order.created", "ord_1"],
      [1, "order.created", "ord_2"],
      [2, "http.request", null],
    ]);
    // The stuck ones wait, staged, for an operator (they are named in the server's log).
    expect(await staged()).toBe(before + 2);
    // Another node's move fails outright (every row of its batch fails): its buffered records are
    // written all the same.
    const b = node(t.db);
    b.recordSoon({
      action: "http.request",
      actor: { type: "ANONYMOUS", id: null, email: null },
      orgId: log,
      request: {
        method: "POST",
        route: "/y",
        status: 401,
        durationMs: 1,
        ip: "127.0.0.1",
        userAgent: null,
        requestId: "r2",
      },
    });
    await b.flush();
    expect((await entries(log)).map((e) => e.request?.route ?? null)).toEqual([null, null, "/x", "/y"]);
    expect(b.waiting).toBe(0);
  });
});
