import { readFileSync } from "node:fs";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openSignedNote, verifyConsistency, verifyInclusion } from "../../test/audit-reference.js";
import { TAMPERINGS } from "../../test/audit-tamper.js";
import { ENGINE, PG_URL, silentLog, type TestDb, testConfig, testDb } from "../../test/harness.js";
import type { Database } from "../db/database.js";
import { verifyDatabase } from "./cli.js";
import type { AuditEvent } from "./entry.js";
import { auditOrigin, auditSigner } from "./keys.js";
import { CompactRange, consistencyProof, inclusionProof, leafHash, rootOf } from "./merkle.js";
import { noteSigner, openNote, parseVkey } from "./note.js";
import { purgeAudit } from "./retention.js";
import { AuditService } from "./service.js";
import { AuditStore } from "./store.js";

const vectors = JSON.parse(
  readFileSync(new URL("../../test/vectors/rfc9162-merkle.json", import.meta.url), "utf8"),
);
const notes = JSON.parse(
  readFileSync(new URL("../../test/vectors/c2sp-signed-note.json", import.meta.url), "utf8"),
);
const hex = (s: string) => Buffer.from(s, "hex");
const ORG = "org_01JF3Q5ZX9R7V2K8H4M6W1B3CD";
const config = testConfig();
const RETENTION_DAYS = config.audit.retentionDays;

function serviceOn(db: Database): AuditService {
  return new AuditService(
    new AuditStore(db.global, db.engine),
    db.global,
    auditSigner(config),
    (log) => auditOrigin(config, log),
    { enabled: true, checkpointEntries: 1000, checkpointMs: 60_000, retentionDays: RETENTION_DAYS },
    silentLog,
  );
}

const event = (i: number, orgId = ORG): AuditEvent => ({
  action: "product.updated",
  actor: { type: "USER", id: `usr_${String(i).padStart(26, "0")}`, email: "owner@example.org" },
  orgId,
  entity: { type: "product", id: `prd_${i}` },
  before: { priceCents: i },
  after: { priceCents: i + 1, password: "never stored" },
});

/** What `bulwark audit verify` prints and returns, over this database. */
async function verify(db: Database, org?: string): Promise<{ code: number; out: string }> {
  let out = "";
  const sink = {
    write: (s: string) => {
      out += s;
    },
  };
  const code = await verifyDatabase(db, config, { org, stdout: sink, stderr: sink });
  return { code, out };
}

describe("audit log: Merkle tree and signed notes against published vectors", () => {
  const leaves = (vectors.leafInputs as string[]).map((d) => leafHash(hex(d)));

  it("AUDIT-4: RFC 9162 roots, inclusion and consistency proofs match the Certificate Transparency vectors", () => {
    vectors.roots.forEach((root: string, n: number) => {
      expect(rootOf(leaves.slice(0, n)).toString("hex")).toBe(root);
      const range = new CompactRange();
      for (const l of leaves.slice(0, n)) range.append(l);
      expect(range.root().toString("hex")).toBe(root);
    });
    for (const v of vectors.inclusion)
      expect(inclusionProof(leaves, v.leafIndex, v.treeSize).map((h) => h.toString("hex"))).toEqual(v.proof);
    for (const v of vectors.consistency)
      expect(consistencyProof(leaves, v.first, v.second).map((h) => h.toString("hex"))).toEqual(v.proof);
  });

  it("AUDIT-4: C2SP signed notes: the published notes open, and a known key signs byte for byte", () => {
    for (const n of notes.notes) {
      expect(openNote(n.note, [parseVkey(n.vkey)]).text).toBe(n.text);
      expect(() => openNote(`X${n.note.slice(1)}`, [parseVkey(n.vkey)])).toThrow(/bad signature/);
      if (n.skey) {
        const seed = Buffer.from(n.skey.split("+").slice(4).join("+"), "base64").subarray(1);
        const signer = noteSigner(n.vkey.split("+")[0], seed);
        expect(signer.vkey).toBe(n.vkey);
        expect(signer.sign(n.text)).toBe(n.note);
      }
    }
  });
});

describe(`audit log (${ENGINE})`, () => {
  let t: TestDb;
  let audit: AuditService;
  beforeAll(async () => {
    t = await testDb();
    audit = serviceOn(t.db);
  });
  afterAll(() => t.cleanup());
  afterEach(() => vi.useRealTimers());

  it("AUDIT-4: 8 concurrent writers × 500 events on one organisation produce a tree that verifies", async () => {
    let writing = true;
    const checkpoints = (async () => {
      while (writing) {
        await audit.checkpoint(ORG);
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    await Promise.all(
      Array.from({ length: 8 }, async (_, w) => {
        for (let i = 0; i < 500; i++) await t.db.withOrg(ORG, (tx) => audit.record(tx, event(w * 1000 + i)));
      }),
    );
    writing = false;
    await checkpoints;
    await audit.checkpoint(ORG);
    const rows = await new AuditStore(t.db.global, t.db.engine).range(ORG, 0, 10_000);
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 4000 }, (_, i) => i));
    const result = await verify(t.db, ORG);
    expect(result.out).toMatch(
      /^ok {3}org_\w+: 4000 entries, \d+ signed checkpoints, verified through 4000\n$/,
    );
    expect(result.code).toBe(0);
    // Every entry holds what was recorded, the secret redacted.
    expect(rows[0]!.entry).toContain('"password":"[REDACTED]"');
    expect(rows.some((r) => r.entry?.includes("never stored"))).toBe(false);
  });

  it("AUDIT-4: inclusion and consistency proofs verify with an independent implementation", async () => {
    const first = await audit.checkpoint(ORG);
    await t.db.withOrg(ORG, (tx) => audit.record(tx, [event(1), event(2), event(3)]));
    const second = await audit.checkpoint(ORG);
    expect(second!.size).toBe(first!.size + 3);
    const vkey = audit.signer.vkey;
    const root = (note: string) => Buffer.from(openSignedNote(note, vkey).split("\n")[2]!, "base64");
    expect(root(second!.note).toString("hex")).toBe(second!.root);
    const store = new AuditStore(t.db.global, t.db.engine);
    for (const seq of [0, 1, 1999, first!.size - 1, second!.size - 1]) {
      const [row] = await store.range(ORG, seq, 1);
      const p = await audit.inclusion(ORG, row!.id);
      expect(p!.checkpoint!.size).toBe(second!.size);
      const leaf = hex(row!.leaf);
      expect(leafHash(row!.entry!)).toEqual(leaf);
      const path = p!.proof.map(hex);
      expect(verifyInclusion(seq, second!.size, leaf, path, root(second!.note))).toBe(true);
      expect(verifyInclusion(seq, second!.size, leafHash("forged"), path, root(second!.note))).toBe(false);
    }
    const c = await audit.consistency(ORG, first!.size, second!.size);
    const proof = c!.proof.map(hex);
    expect(verifyConsistency(first!.size, second!.size, proof, root(first!.note), root(second!.note))).toBe(
      true,
    );
    expect(verifyConsistency(first!.size, second!.size, proof, root(second!.note), root(second!.note))).toBe(
      false,
    );
  });

  it("AUDIT-3: UPDATE and DELETE on the log fail as the server's database role", async () => {
    await t.db.withOrg(ORG, (tx) => audit.record(tx, event(9)));
    await audit.checkpoint(ORG);
    for (const statement of [
      sql`UPDATE audit_events SET action = 'forged'`,
      sql`DELETE FROM audit_events`,
      sql`UPDATE audit_checkpoints SET root = 'forged'`,
      sql`DELETE FROM audit_checkpoints`,
      sql`DELETE FROM audit_keys`,
    ])
      await expect(statement.execute(t.db.global)).rejects.toThrow(
        ENGINE === "postgres" ? /permission denied/ : /append-only/,
      );
    if (ENGINE === "postgres") {
      // Even the schema owner: the triggers refuse whoever asks.
      await expect(t.admin("UPDATE audit_events SET action = 'forged'")).rejects.toThrow(/append-only/);
      await expect(t.admin("DELETE FROM audit_events")).rejects.toThrow(/append-only/);
      await expect(t.admin("TRUNCATE audit_events")).rejects.toThrow(/append-only/);
    }
    expect((await verify(t.db, ORG)).code).toBe(0);
  });

  it("AUDIT-6: the purge drops content past retention, to the millisecond, and every log still verifies", async () => {
    const log = "org_01JF3Q5ZX9R7V2K8H4M6W1RETN";
    const t0 = Date.UTC(2026, 11, 1, 12);
    vi.useFakeTimers({ toFake: ["Date"], now: t0 });
    await t.db.withOrg(log, (tx) => audit.record(tx, [event(1, log), event(2, log)]));
    await audit.checkpoint(log);
    vi.setSystemTime(t0 + 60_000);
    await t.db.withOrg(log, (tx) => audit.record(tx, event(3, log)));
    await audit.checkpoint(log);
    const keep = RETENTION_DAYS * 86_400_000;
    vi.setSystemTime(t0 + keep);
    expect(await purgeAudit(t.db, audit.retentionCutoff())).toBe(0);
    vi.setSystemTime(t0 + keep + 1);
    expect(await purgeAudit(t.db, audit.retentionCutoff())).toBe(2);
    const rows = await new AuditStore(t.db.global, t.db.engine).range(log, 0, 10);
    expect(rows.map((r) => [r.entry === null, r.actor_id === null, r.leaf.length])).toEqual([
      [true, true, 64],
      [true, true, 64],
      [false, false, 64],
    ]);
    expect((await verify(t.db, log)).code).toBe(0);
    vi.useRealTimers();
    // What the purge may do, the server's role still may not.
    await expect(sql`UPDATE audit_events SET entry = NULL`.execute(t.db.global)).rejects.toThrow(
      ENGINE === "postgres" ? /permission denied/ : /append-only/,
    );
  });
});

describe(`audit verify names what was tampered with (${ENGINE})`, () => {
  let t: TestDb;
  let audit: AuditService;
  let store: AuditStore;
  /** As a superuser with the triggers out of the way: what an attacker with the database could do. */
  const tamper = async (statement: string): Promise<void> => {
    if (PG_URL) {
      await t.admin(
        `BEGIN; SET LOCAL session_replication_role = replica; ${statement}; COMMIT;`.replace(/;\s*;/g, ";"),
      );
      return;
    }
    await t.db.asOwner(async (db) => {
      for (const trigger of [
        "audit_events_no_update",
        "audit_events_no_delete",
        "audit_checkpoints_no_update",
        "audit_checkpoints_no_delete",
      ])
        await sql`DROP TRIGGER IF EXISTS ${sql.id(trigger)}`.execute(db);
      for (const one of statement.split("; ")) await sql.raw(one).execute(db);
    });
  };

  beforeAll(async () => {
    t = await testDb();
    audit = serviceOn(t.db);
    store = new AuditStore(t.db.global, t.db.engine);
  });
  afterAll(() => t.cleanup());

  it.each(TAMPERINGS)(
    "AUDIT-4: %s makes `bulwark audit verify` fail naming the entry",
    async (_name, statement, finding) => {
      const log = `org_01JF3Q5ZX9R7V2K8H4M6${Math.random().toString(36).slice(2, 6).toUpperCase().padEnd(4, "X")}`;
      for (let i = 0; i < 10; i++) await t.db.withOrg(log, (tx) => audit.record(tx, event(i, log)));
      await audit.checkpoint(log);
      expect((await verify(t.db, log)).code).toBe(0);
      const entries = (await store.range(log, 0, 10)).map((r) => r.entry!);
      await tamper(statement(log, entries));
      const result = await verify(t.db, log);
      expect(result.out).toMatch(finding);
      expect(result.out).toMatch(/^FAIL /);
      expect(result.code).toBe(1);
      expect(await store.size(log)).toBe(10);
    },
  );

  it("AUDIT-4: a log whose checkpoints were deleted does not pass once its entries are old enough to have one", async () => {
    const log = "org_01JF3Q5ZX9R7V2K8H4M6W1NOCP";
    const t0 = Date.now();
    for (let i = 0; i < 5; i++) await t.db.withOrg(log, (tx) => audit.record(tx, event(i, log)));
    await audit.checkpoint(log);
    const entries = (await store.range(log, 0, 10)).map((r) => r.entry!);
    const forged = entries[2]!.replace("owner@", "other@");
    await tamper(
      `UPDATE audit_events SET entry = '${forged}', leaf = '${leafHash(forged).toString("hex")}' WHERE log_id = '${log}' AND seq = 2; DELETE FROM audit_checkpoints WHERE log_id = '${log}'`,
    );
    // Fresh entries may still await their first checkpoint…
    expect((await verify(t.db, log)).code).toBe(0);
    // …but not an hour later.
    vi.useFakeTimers({ toFake: ["Date"], now: t0 + 3_600_000 });
    const result = await verify(t.db, log);
    vi.useRealTimers();
    expect(result.out).toMatch(/entries from 0 on are covered by no signed checkpoint/);
    expect(result.code).toBe(1);
  });

  it("AUDIT-4: the server never signs over leaves rewritten in the database, nor trusts a checkpoint it did not sign", async () => {
    const log = "org_01JF3Q5ZX9R7V2K8H4M6W1EDGE";
    for (let i = 0; i < 4; i++) await t.db.withOrg(log, (tx) => audit.record(tx, event(i, log)));
    const signed = await audit.checkpoint(log);
    // A checkpoint row of another key, at a size past the log, inserted as the server's role could.
    const other = noteSigner("localhost:3000/audit", Buffer.alloc(32, 7));
    await t.db.global
      .insertInto("audit_checkpoints")
      .values({
        log_id: log,
        size: 99,
        root: "00".repeat(32),
        key_id: other.keyId,
        note: other.sign(`x\n99\n${Buffer.alloc(32).toString("base64")}\n`),
        edge: "[]",
        created_at: Date.now(),
      })
      .execute();
    const entries = (await store.range(log, 0, 10)).map((r) => r.entry!);
    const forged = entries[1]!.replace("owner@", "other@");
    const edge = JSON.stringify([leafHash("forged edge").toString("hex")]);
    await tamper(
      `UPDATE audit_events SET entry = '${forged}', leaf = '${leafHash(forged).toString("hex")}' WHERE log_id = '${log}' AND seq = 1; UPDATE audit_checkpoints SET edge = '${edge}' WHERE log_id = '${log}' AND size = ${signed!.size}`,
    );
    await t.db.withOrg(log, (tx) => audit.record(tx, event(9, log)));
    await expect(audit.checkpoint(log)).rejects.toThrow(
      /no longer reproduce the signed checkpoint of size 4; not signing/,
    );
    expect((await audit.checkpoints(log, 10)).map((c) => c.size)).toEqual([99, 4]);
    expect((await verify(t.db, log)).code).toBe(1);
  });
});
