import { createHash } from "node:crypto";
import { SYSTEM } from "../audit/actor.js";
import { type AuditEntry, canonical, PLATFORM_LOG } from "../audit/entry.js";
import type { AuditService } from "../audit/service.js";
import type { PostureState } from "./signed.js";
import type { PostureStore } from "./store.js";

export const POSTURE_CHANGED = "posture.changed";

/** One change of posture as the page lists it: when, from which hash to which, and which claims. */
export interface PostureChange {
  readonly at: string;
  readonly hash: string;
  readonly previous: string | null;
  readonly changed: readonly string[];
}

/** What an entry's content may hold of the claims that changed, so the entry stays under the 16 KB cap. */
const INLINE_LIMIT = 12_000;

/** The posture as a map from "<ID> <title>" (and "profile") to what is claimed. */
function byKey(state: PostureState): Record<string, unknown> {
  const out: Record<string, unknown> = { profile: state.profile };
  for (const c of state.controls) out[`${c.id} ${c.title}`] = { claim: c.claim, settings: c.settings };
  return out;
}

const sha256 = (v: string): string => createHash("sha256").update(v).digest("hex");

/**
 * POST-4: records the posture the server starts with when it differs from the last one the platform's
 * audit log recorded (the first start records the first): the posture itself by hash in the store, and
 * a `posture.changed` entry naming both hashes with each changed claim before and after (or, for a change
 * too large for one entry, each changed claim's fingerprint). The audit log is the history: append-only
 * and provable like any entry. Two nodes starting together with a new configuration may both record it
 * (no lock is taken at start-up): the history then lists that change twice, never misses it.
 */
export async function recordPosture(
  audit: AuditService,
  store: PostureStore,
  state: PostureState,
  now: number,
): Promise<boolean> {
  const text = canonical(state);
  const hash = sha256(text);
  const [row] = await audit.query({ log: PLATFORM_LOG, action: POSTURE_CHANGED }, 1);
  const previous = row?.entry
    ? ((JSON.parse(row.entry) as AuditEntry).after as { hash: string }).hash
    : undefined;
  if (previous === hash) return false;
  await store.put(hash, text, now);
  const stored = previous === undefined ? undefined : await store.get(previous);
  const before = stored ? byKey(JSON.parse(stored) as PostureState) : undefined;
  const after = byKey(state);
  const changed = before
    ? [...new Set([...Object.keys(before), ...Object.keys(after)])]
        .filter((k) => canonical(before[k] ?? null) !== canonical(after[k] ?? null))
        .sort()
    : [];
  let pick = (from: Record<string, unknown>) =>
    Object.fromEntries(changed.filter((k) => k in from).map((k) => [k, from[k]]));
  if (before && canonical([pick(before), pick(after)]).length > INLINE_LIMIT)
    pick = (from) =>
      Object.fromEntries(
        changed.filter((k) => k in from).map((k) => [k, { sha256: sha256(canonical(from[k])) }]),
      );
  await audit.append({
    action: POSTURE_CHANGED,
    actor: SYSTEM,
    entity: { type: "posture", id: hash },
    before: previous === undefined ? null : { hash: previous, claims: before ? pick(before) : {} },
    after: { hash, claims: before ? pick(after) : {} },
  });
  return true;
}

/** The latest changes of posture, newest first. */
export async function postureHistory(audit: AuditService, limit = 20): Promise<PostureChange[]> {
  const rows = await audit.query({ log: PLATFORM_LOG, action: POSTURE_CHANGED }, limit);
  return rows.flatMap((r) => {
    if (!r.entry) return []; // past retention: the leaf remains, the content is gone
    const e = JSON.parse(r.entry) as AuditEntry;
    const after = e.after as { hash: string; claims: Record<string, unknown> };
    const before = e.before as { hash: string; claims: Record<string, unknown> } | null;
    const changed = [...new Set([...Object.keys(before?.claims ?? {}), ...Object.keys(after.claims)])].sort();
    return [{ at: e.time, hash: after.hash, previous: before?.hash ?? null, changed }];
  });
}
