import { sql } from "kysely";
import { SYSTEM } from "../audit/actor.js";
import { type AuditEvent, canonical } from "../audit/entry.js";
import type { AuditService } from "../audit/service.js";
import type { Database, Db } from "../db/database.js";
import { type PostureState, postureHash } from "./signed.js";
import { postureStore } from "./store.js";

export const POSTURE_CHANGED = "posture.changed";

/** One change of posture as the page lists it: when, from which hash to which, and which claims. */
export interface PostureChange {
  readonly at: string;
  readonly hash: string;
  readonly previous: string | null;
  readonly changed: readonly string[];
}

/** What an audit entry may hold of the changed claims: entries are capped at 16 KB. */
const INLINE_LIMIT = 10_000;

/** The posture as a map from "<ID> <title>" (and "profile") to its canonical JSON. */
function byKey(state: PostureState): Record<string, string> {
  const out: Record<string, string> = { profile: canonical(state.profile) };
  for (const c of state.controls)
    out[`${c.id} ${c.title}`] = canonical({ claim: c.claim, settings: c.settings });
  return out;
}

/**
 * POST-4: records the posture this server starts with when it differs from the last in the chain
 * (posture_changes; the first start records the first), and, in the same transaction, a
 * `posture.changed` audit entry in the platform's log with both hashes and each changed claim before
 * and after, as canonical JSON strings (secret-looking setting names such as `cookie` would otherwise be
 * redacted from what is recorded). A change too large for one entry names the changed claims only; the
 * chain holds both postures in full. Two nodes starting together with different postures both land, one
 * after the other: the chain has no fork, and nothing is missed.
 */
export async function recordPosture(
  db: Database,
  audit: AuditService,
  state: PostureState,
  now: number,
): Promise<boolean> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.global.transaction().execute(async (tx) => {
        // One writer at a time on PostgreSQL (SQLite has one writer anyway): the chain cannot fork.
        if (db.engine === "postgres")
          await sql`SELECT pg_advisory_xact_lock(hashtext('bulwark.posture'))`.execute(tx);
        return append(tx, audit, state, now);
      });
    } catch (err) {
      // Should another writer still take the next seq first, read the chain again after a moment.
      if (attempt >= 4 || !/unique|duplicate|busy|locked/i.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
    }
  }
}

async function append(tx: Db, audit: AuditService, state: PostureState, now: number): Promise<boolean> {
  const text = canonical(state);
  const hash = postureHash(state);
  const last = await postureStore.last(tx);
  if (last?.hash === hash) return false;
  const before = last ? byKey(JSON.parse(last.state) as PostureState) : undefined;
  const after = byKey(state);
  const changed = before
    ? [...new Set([...Object.keys(before), ...Object.keys(after)])]
        .filter((k) => before[k] !== after[k])
        .sort()
    : [];
  await postureStore.add(tx, {
    seq: last ? last.seq + 1 : 0,
    hash,
    previous: last?.hash ?? null,
    changed: JSON.stringify(changed),
    state: text,
    created_at: now,
  });
  await audit.record(tx, changeEvent(last?.hash, hash, changed, before, after));
  return true;
}

/**
 * The audit entry of a change, kept under the entry cap whatever the number of claims (extensions add
 * theirs): each changed claim before and after; else only their names; else only how many changed. The
 * chain row beside it holds both postures in full, so nothing is lost, and an entry too large can never
 * roll the chain row back.
 */
function changeEvent(
  previous: string | undefined,
  hash: string,
  changed: readonly string[],
  before: Record<string, string> | undefined,
  after: Record<string, string>,
): AuditEvent {
  const pick = (from: Record<string, string> | undefined) =>
    Object.fromEntries(changed.filter((k) => from && k in from).map((k) => [k, from![k]!]));
  const event = (detail: "claims" | "names" | "count"): AuditEvent => ({
    action: POSTURE_CHANGED,
    actor: SYSTEM,
    entity: { type: "posture", id: hash },
    before: previous ? { hash: previous, ...(detail === "claims" ? { claims: pick(before) } : {}) } : null,
    after: { hash, ...(detail === "claims" ? { claims: pick(after) } : {}) },
    metadata: detail === "count" ? { changedCount: changed.length } : { changed },
  });
  for (const detail of ["claims", "names"] as const) {
    const e = event(detail);
    if (JSON.stringify([e.before, e.after, e.metadata]).length <= INLINE_LIMIT) return e;
  }
  return event("count");
}

/** The latest changes of posture, newest first, from the chain. */
export async function postureHistory(db: Database, limit = 20): Promise<PostureChange[]> {
  const rows = await postureStore.latest(db.global, limit);
  return rows.map((r) => ({
    at: new Date(r.created_at).toISOString(),
    hash: r.hash,
    previous: r.previous,
    changed: JSON.parse(r.changed) as string[],
  }));
}
