import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SQLITE_TAMPERINGS, TAMPERINGS } from "../../test/audit-tamper.js";
import { silentLog, testConfig } from "../../test/harness.js";
import { bulwarkMigrations } from "../app.js";
import { Database } from "../db/database.js";
import { verifyDatabase } from "./cli.js";
import type { AuditEvent } from "./entry.js";
import { auditOrigin, auditSigner } from "./keys.js";
import { CompactRange, rootOf } from "./merkle.js";
import { AuditService } from "./service.js";
import { AuditStore } from "./store.js";
import { checkedInParallel } from "./verify-pool.js";

// The verifier's worker threads read an SQLite file of their own: these tests use one, whatever engine
// the rest of the suite runs on.
const config = testConfig();
const event = (i: number, orgId: string): AuditEvent => ({
  action: "product.updated",
  actor: { type: "USER", id: `usr_${String(i).padStart(26, "0")}`, email: "owner@example.org" },
  orgId,
  entity: { type: "product", id: `prd_${i}` },
  before: { priceCents: i },
  after: { priceCents: i + 1 },
});

describe("audit verify on worker threads (an SQLite file)", () => {
  let dir: string;
  let db: Database;
  let audit: AuditService;
  let store: AuditStore;
  let n = 0;
  const newLog = () => `org_01JF3Q5ZX9R7V2K8H4M6W1P${String(n++).padStart(3, "0")}`;
  const fill = async (log: string, count: number) => {
    for (let i = 0; i < count; i++) await db.withOrg(log, (tx) => audit.record(tx, event(i, log)));
    await audit.checkpoint(log);
  };
  /** `bulwark audit verify --org log`: every chunk of 4 entries checked on one of two workers (or inline). */
  const verify = async (log: string, workers = true) => {
    let out = "";
    const sink = {
      write: (s: string) => {
        out += s;
      },
    };
    const code = await verifyDatabase(db, config, {
      org: log,
      stdout: sink,
      stderr: sink,
      parallel: { from: workers ? 0 : Number.POSITIVE_INFINITY, chunk: 4, workers: 2 },
    });
    return { code, out };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "bulwark-verify-"));
    db = Database.sqlite(join(dir, "audit.db"));
    await db.migrate({ extra: bulwarkMigrations() });
    await db.refreshTenantTables();
    store = new AuditStore(db.global, db.engine, (text, params) => db.selectRows(text, params));
    audit = new AuditService(
      store,
      db.global,
      auditSigner(config),
      (log) => auditOrigin(config, log),
      { enabled: true, checkpointEntries: 1000, checkpointMs: 60_000, retentionDays: 730 },
      silentLog,
    );
  });
  afterAll(async () => {
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("AUDIT-4: workers check the log chunk by chunk and hand back the tree's edge at its end and at each checkpoint inside", async () => {
    const log = newLog();
    await fill(log, 37);
    const batches = [];
    const sizes = [3, 8, 20, 37];
    for await (const b of checkedInParallel(
      db.sqliteFile!,
      log,
      37,
      0,
      { chunk: 8, workers: 2 },
      new Set(),
      sizes,
    ))
      batches.push(b);
    expect(batches.map((b) => [b.first, b.count, b.finding])).toEqual([
      [0, 8, undefined],
      [8, 8, undefined],
      [16, 8, undefined],
      [24, 8, undefined],
      [32, 5, undefined],
    ]);
    // The edges, folded as the verifier does, give the roots computed here from the stored leaves.
    const leaves = (await store.leaves(log, 0, 37)).map((h) => Buffer.from(h, "hex"));
    expect(batches.map((b) => b.edges.map((e) => e.size))).toEqual([[3, 8], [8], [4, 8], [8], [5]]);
    const tree = new CompactRange();
    for (const b of batches) {
      for (const e of b.edges) expect(tree.rootWith(e.hashes)).toEqual(rootOf(leaves, 0, b.first + e.size));
      const end = b.edges.at(-1)!;
      tree.appendEdge(end.hashes, end.size);
    }
    expect(tree.size).toBe(37);
    expect(tree.root()).toEqual(rootOf(leaves));
    expect(await verify(log)).toEqual({
      code: 0,
      out: `ok   ${log}: 37 entries, 1 signed checkpoints, verified through 37\n`,
    });
  });

  it("AUDIT-4: a row whose position is not a number at all (SQLite stores text there) is found", async () => {
    const log = newLog();
    await fill(log, 10);
    await db.asOwner((owner) =>
      sql
        .raw(
          `INSERT INTO audit_events (log_id, seq, id, created_at, type, action, actor_type, leaf, entry) SELECT log_id, 'x', 'aud_TEXT_${log}', created_at, type, action, actor_type, leaf, entry FROM audit_events WHERE log_id = '${log}' AND seq = 9`,
        )
        .execute(owner),
    );
    for (const workers of [true, false])
      expect(await verify(log, workers)).toEqual({
        code: 1,
        out: `FAIL ${log}: a row of this log (aud_TEXT_${log}) holds position x, which no entry can hold: it was inserted behind the log's back\n`,
      });
  });

  it.each(
    [...TAMPERINGS, ...SQLITE_TAMPERINGS].flatMap(([name, statement, finding]) =>
      [true, false].map(
        (workers) =>
          [
            name,
            workers ? "on worker threads" : "on one thread, chunk by chunk",
            statement,
            finding,
            workers,
          ] as const,
      ),
    ),
  )(
    "AUDIT-4: %s makes verification %s fail naming the entry",
    async (_name, _how, statement, finding, workers) => {
      const log = newLog();
      await fill(log, 10);
      expect((await verify(log, false)).code).toBe(0);
      const entries = (await store.range(log, 0, 10)).map((r) => r.entry!);
      await db.asOwner(async (owner) => {
        for (const trigger of ["audit_events_no_update", "audit_events_no_delete"])
          await sql`DROP TRIGGER IF EXISTS ${sql.id(trigger)}`.execute(owner);
        for (const one of statement(log, entries).split("; ")) await sql.raw(one).execute(owner);
      });
      const result = await verify(log, workers);
      expect(result.out).toMatch(finding);
      expect(result.out).toMatch(/^FAIL /);
      expect(result.code).toBe(1);
    },
  );
});
