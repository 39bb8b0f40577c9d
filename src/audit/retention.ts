import { sql } from "kysely";
import type { Database, Db } from "../db/database.js";
import { idFloor } from "../util/ids.js";

const BATCH = 5000;

/**
 * AUDIT-6: blanks the content (found by id: ids are time-ordered, so the id index ranges over time) (and the personal query columns) of entries older than `cutoff`, in
 * batches, as the schema owner; leaves, positions, ids and checkpoints stay, so every log still verifies.
 * The append-only triggers admit exactly this shape of update, and only with the purge flag set in the
 * same transaction (PostgreSQL: `bulwark.audit_purge`; SQLite: the gate row). Returns the rows purged.
 */
export async function purgeAudit(db: Database, cutoff: number): Promise<number> {
  return db.asOwner(async (owner) => {
    let total = 0;
    for (;;) {
      const n = await owner.transaction().execute(async (tx) => {
        // The triggers admit the purge's update only for rows older than this cutoff.
        const result = await throughPurgeGate(db, tx, cutoff, () =>
          sql`UPDATE audit_events SET entry = NULL, actor_id = NULL, entity_id = NULL
          WHERE id IN (SELECT id FROM audit_events WHERE id < ${idFloor("aud", cutoff)} AND entry IS NOT NULL LIMIT ${BATCH})`.execute(
            tx,
          ),
        );
        return Number(result.numAffectedRows ?? 0);
      });
      total += n;
      if (n < BATCH) return total;
    }
  });
}

/**
 * Runs `fn` in `tx` (the schema owner's transaction) with the append-only triggers' purge gate open for
 * entries created before `cutoff`, and only for the rest of `tx`: PostgreSQL's `bulwark.audit_purge`
 * setting is transaction-local; SQLite's gate row is inserted and deleted inside `tx`. Retention
 * (AUDIT-6) and erasure (GDPR-2) both pass through it.
 */
export async function throughPurgeGate<T>(
  db: Database,
  tx: Db,
  cutoff: number,
  fn: () => Promise<T>,
): Promise<T> {
  if (db.engine === "postgres")
    await sql`SELECT set_config('bulwark.audit_purge', ${String(cutoff)}, true)`.execute(tx);
  else await sql`INSERT INTO audit_purge_gate (before) VALUES (${cutoff})`.execute(tx);
  const out = await fn();
  if (db.engine !== "postgres") await sql`DELETE FROM audit_purge_gate`.execute(tx);
  return out;
}
