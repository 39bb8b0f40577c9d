import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ENGINE, PG_URL, silentLog, type TestDb, testConfig, testDb } from "../../test/harness.js";
import type { AuditEvent } from "./entry.js";
import { auditOrigin, auditSigner } from "./keys.js";
import { leafHash } from "./merkle.js";
import { LogRotation } from "./self-check.js";
import { AuditService } from "./service.js";
import { AuditStore } from "./store.js";

const config = testConfig();
const event = (i: number, orgId: string): AuditEvent => ({
  action: "product.updated",
  actor: { type: "USER", id: `usr_${String(i).padStart(26, "0")}`, email: "owner@example.org" },
  orgId,
  entity: { type: "product", id: `prd_${i}` },
  after: { priceCents: i },
});

describe(`the live check of AUDIT-4 (${ENGINE})`, () => {
  let t: TestDb;
  let audit: AuditService;
  let store: AuditStore;
  /** As a superuser with the triggers out of the way: what an attacker with the database could do. */
  const tamper = async (statement: string): Promise<void> => {
    if (PG_URL) {
      await t.admin(`BEGIN; SET LOCAL session_replication_role = replica; ${statement}; COMMIT;`);
      return;
    }
    await t.db.asOwner(async (db) => {
      for (const trigger of ["audit_events_no_update", "audit_checkpoints_no_update"])
        await sql`DROP TRIGGER IF EXISTS ${sql.id(trigger)}`.execute(db);
      await sql.raw(statement).execute(db);
    });
  };
  const fill = async (log: string, from: number, to: number) => {
    for (let i = from; i < to; i++) await t.db.withOrg(log, (tx) => audit.record(tx, event(i, log)));
    await audit.checkpoint(log);
  };

  beforeAll(async () => {
    t = await testDb();
    store = new AuditStore(t.db.global, t.db.engine);
    audit = new AuditService(
      store,
      t.db.global,
      auditSigner(config),
      (log) => auditOrigin(config, log),
      { enabled: true, checkpointEntries: 1000, checkpointMs: 60_000, retentionDays: 30 },
      silentLog,
    );
  });
  afterAll(() => t.cleanup());

  it("AUDIT-4: each log is checked in turn, reading only the leaves its newest checkpoint added, and a leaf changed under it fails the check", async () => {
    const a = "org_01JF3Q5ZX9R7V2K8H4M6SELFCA";
    const b = "org_01JF3Q5ZX9R7V2K8H4M6SELFCB";
    await fill(a, 0, 6);
    await fill(a, 6, 10);
    await fill(b, 0, 4);
    const read = vi.spyOn(store, "leaves");
    expect(await audit.selfCheck()).toBeUndefined();
    expect(read.mock.calls).toEqual([[a, 6, 10]]);
    expect(await audit.selfCheck()).toBeUndefined();
    expect(read.mock.calls.at(-1)).toEqual([b, 0, 4]);
    read.mockRestore();

    // Entry 7 of log a rewritten with a matching leaf: only the signed root can tell.
    const [row] = await store.range(a, 7, 1);
    const forged = row!.entry!.replace("owner@", "other@");
    await tamper(
      `UPDATE audit_events SET entry = '${forged}', leaf = '${leafHash(forged).toString("hex")}' WHERE log_id = '${a}' AND seq = 7`,
    );
    expect(await audit.selfCheck()).toBe(
      "an organisation's log no longer reproduces its newest signed checkpoint (run bulwark audit verify)",
    );
    expect(await audit.selfCheck()).toBeUndefined(); // log b is intact
  });

  it("AUDIT-4: a checkpoint row no published key signed is passed over, never trusted nor an alarm", async () => {
    const c = "org_01JF3Q5ZX9R7V2K8H4M6SELFCC";
    await fill(c, 0, 3);
    const [real] = await store.checkpoints(c, 1);
    await store.addCheckpoint({ ...real!, size: 99, created_at: real!.created_at + 1 });
    const rotation = new LogRotation(store);
    const problems: string[] = [];
    for (const _ of await store.heads()) {
      const found = await rotation.next();
      if (found) problems.push(found.log);
    }
    expect(problems).not.toContain(c);
    expect(problems).toEqual(["org_01JF3Q5ZX9R7V2K8H4M6SELFCA"]); // the one tampered with above
  });
});
