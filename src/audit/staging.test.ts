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
});
