// Full verification speed of the audit log (AUDIT-4): fills an SQLite database (a file, as a deployment
// has) with N entries of one organisation's log, signs a checkpoint every AUDIT_CHECKPOINT_ENTRIES as the
// server would, then times `bulwark audit verify` (verifyDatabase) over it and reports entries per second.
//
//   node bench/audit-verify.js [--entries 300000] [--target 200000] [--keep] [--db FILE]
//
// --keep leaves the filled database behind (its path is printed); --db FILE verifies that database
// instead of filling one, e.g. `node --cpu-prof bench/audit-verify.js --db FILE` to profile verification
// alone (then node bench/profile.js on the .cpuprofile).
//
// Run by bench/run.js (its own process, so the runner's heap and timers stay out of it); prints one JSON
// line prefixed "RESULT " for the runner. Imports from dist/ (npm run build first; npm run bench does).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { bulwarkMigrations } from "../dist/src/app.js";
import { verifyDatabase } from "../dist/src/audit/cli.js";
import { auditOrigin, auditSigner } from "../dist/src/audit/keys.js";
import { AuditService } from "../dist/src/audit/service.js";
import { AuditStore } from "../dist/src/audit/store.js";
import { loadConfig } from "../dist/src/config/load.js";
import { Database } from "../dist/src/db/database.js";
import { createLogger } from "../dist/src/log/logger.js";

const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "300000" },
    target: { type: "string", default: "200000" },
    // Keep the database file (its path is printed), e.g. to profile verification alone afterwards.
    keep: { type: "boolean", default: false },
    db: { type: "string" },
  },
});
const N = Number(values.entries);
const PER_TX = 1000;
const ORG = "org_01BENCH0AUD1T0000000000000";

const dir = values.db ? dirname(values.db) : mkdtempSync(join(tmpdir(), "bulwark-bench-audit-"));
const file = values.db ?? join(dir, "bulwark.db");
// A fixed secret: the checkpoints' key derives from it, and a kept database is verified again later.
const config = loadConfig({
  NODE_ENV: "test",
  LOG_LEVEL: "silent",
  BULWARK_DATA_DIR: dir,
  BULWARK_SECRET: "bench-audit-verify-secret-0123456789abcdef",
});
const log = createLogger({ level: "silent" });
const db = Database.sqlite(file);
await db.migrate({ extra: bulwarkMigrations() });
await db.refreshTenantTables();

const audit = new AuditService(
  new AuditStore(db.global, db.engine),
  db.global,
  auditSigner(config),
  (l) => auditOrigin(config, l),
  {
    enabled: true,
    checkpointEntries: config.audit.checkpointEntries,
    checkpointMs: config.audit.checkpointSeconds * 1000,
    retentionDays: config.audit.retentionDays,
  },
  log,
);

/** A domain event of the size the catalog's writes make: an actor, an entity, a before and an after. */
const event = (i) => ({
  action: "product.updated",
  actor: { type: "USER", id: `usr_${String(i % 50).padStart(26, "0")}`, email: "owner@example.org" },
  orgId: ORG,
  entity: { type: "product", id: `prd_${String(i).padStart(26, "0")}` },
  before: { priceCents: i, stock: 10 },
  after: { priceCents: i + 1, stock: 9 },
});

let t = performance.now();
for (let done = values.db ? N : 0; done < N; ) {
  const n = Math.min(PER_TX, N - done);
  const events = Array.from({ length: n }, (_, k) => event(done + k));
  await db.global.transaction().execute((tx) => audit.record(tx, events));
  done += n;
  if (done % config.audit.checkpointEntries === 0 || done === N) await audit.checkpoint(ORG);
}
const fillMs = performance.now() - t;
const checkpoints = (await audit.allCheckpoints(ORG)).length;
const entries = await audit.size(ORG);

let out = "";
const sink = {
  write: (s) => {
    out += s;
  },
};
t = performance.now();
const cpu = process.cpuUsage();
const code = await verifyDatabase(db, config, { org: ORG, stdout: sink, stderr: sink });
const verifyMs = performance.now() - t;
const { user, system } = process.cpuUsage(cpu);
await db.close();
if (values.keep) console.error(`database kept: ${file}`);
else if (!values.db) rmSync(dir, { recursive: true, force: true });

if (code !== 0 || !out.startsWith("ok ")) {
  console.error(`verification failed (exit ${code}): ${out}`);
  process.exit(1);
}
const perSecond = entries / (verifyMs / 1000);
const result = {
  entries,
  checkpoints,
  fillSeconds: fillMs / 1000,
  verifySeconds: verifyMs / 1000,
  perSecond,
  // Entries per second of the verifier's own CPU time (user + system): steadier on a shared machine.
  perCpuSecond: entries / ((user + system) / 1e6),
  target: Number(values.target),
  met: perSecond >= Number(values.target),
  output: out.trim(),
};
console.log(`RESULT ${JSON.stringify(result)}`);
