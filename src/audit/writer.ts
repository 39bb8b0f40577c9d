import type { Db } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { Logger } from "../log/logger.js";
import { newId } from "../util/ids.js";
import { type AuditEvent, entryOf, entryText, logOf } from "./entry.js";
import { leafHash } from "./merkle.js";
import type { AuditStore, StagedRow } from "./store.js";

/** The largest canonical entry accepted (characters). */
export const MAX_ENTRY = 16_384;
/** Rows a moving or writing transaction takes at most. */
export const BATCH = 500;

/** Where a staged entry's seq goes: its canonical text has seq, time, type and v last (entry.ts). */
const SEQ_0 = ',"seq":0,"time":"';

/** A staged entry at position `seq`: the same canonical text, its seq written in. */
function withSeq(entry: string, seq: number): string {
  const at = entry.lastIndexOf(SEQ_0);
  if (at < 0) throw new Error("a staged audit entry without its seq");
  return `${entry.slice(0, at + 7)}${seq}${entry.slice(at + 8)}`;
}

/** The row `e` will be in its log, but for its position (its entry holds seq 0), as of `now`. */
export function stagedRow(e: AuditEvent, now: number): StagedRow {
  const log = logOf(e);
  const id = newId("aud", now);
  const entry = entryText(entryOf(e, log, 0, id, now));
  // Entries are kept for years and never deleted: one may not be a dumping ground (room left for the seq).
  if (entry.length + 15 > MAX_ENTRY)
    throw new AppError("PAYLOAD_TOO_LARGE", `An audit entry is limited to ${MAX_ENTRY / 1024} KB.`);
  return {
    log_id: log,
    id,
    created_at: now,
    type: e.request ? "request" : "event",
    action: e.action,
    actor_type: e.actor.type,
    actor_id: e.actor.id,
    entity_type: e.entity?.type ?? null,
    entity_id: e.entity?.id ?? null,
    entry,
  };
}

/**
 * Appends `rows` to their logs in `tx`, positions taken from each log's head (store.ts `append`). Logs
 * are locked in a fixed order, so two writers never deadlock.
 */
export async function appendRows(
  store: AuditStore,
  tx: Db,
  rows: readonly StagedRow[],
  now: number,
): Promise<{ id: string; seq: number }[]> {
  const byLog = new Map<string, StagedRow[]>();
  for (const r of rows) {
    const group = byLog.get(r.log_id);
    if (group) group.push(r);
    else byLog.set(r.log_id, [r]);
  }
  const written: { id: string; seq: number }[] = [];
  for (const log of [...byLog.keys()].sort()) {
    const group = byLog.get(log)!;
    written.push(
      ...(await store.append(tx, log, group.length, now, (seq, i) => {
        const r = group[i]!;
        const entry = withSeq(r.entry, seq);
        return {
          id: r.id,
          created_at: r.created_at,
          type: r.type,
          action: r.action,
          actor_type: r.actor_type,
          actor_id: r.actor_id,
          entity_type: r.entity_type,
          entity_id: r.entity_id,
          leaf: leafHash(entry).toString("hex"),
          entry,
        };
      })),
    );
  }
  return written;
}

/** A staged row that failed to move on its own this many times (the database answering) is set aside… */
const STRIKES = 3;
/** …this long, before it is tried again. */
const ASIDE_MS = 60_000;
/** How long a reader's move waits for rows another node is moving (PostgreSQL) before it reads anyway. */
const WAIT_MS = 2_000;

/** PostgreSQL's "lock not available": a wait for another node's move ran out. */
const isLockTimeout = (err: unknown): boolean => (err as { code?: unknown }).code === "55P03";

/**
 * Moves staged domain events (service.ts `record`) into their logs: oldest first, BATCH a transaction,
 * each appended and unstaged in the same transaction, so it is in its log exactly once whatever fails or
 * runs at once (several nodes on PostgreSQL). A move stops at the newest event staged when it began, so
 * it ends however fast events keep coming. A row that keeps failing on its own while the database
 * answers (it breaks a constraint, say) is set aside for a while, staged and named in the log, instead of
 * holding up every event behind it; a failing database sets nothing aside.
 */
export class StagedMover {
  /** pending_id → when it was set aside. */
  private readonly aside = new Map<number, number>();
  /** pending_id → how many times it failed on its own. */
  private readonly strikes = new Map<number, number>();

  constructor(
    private readonly store: AuditStore,
    private readonly db: Db,
    private readonly log: Logger,
    private readonly clock: () => number,
  ) {}

  /** `wait`: for rows another node is moving (a reader's move, up to WAIT_MS), rather than leave them. */
  async move(wait: boolean): Promise<void> {
    const upTo = await this.store.newestStaged();
    if (upTo === undefined) return;
    const now = this.clock();
    for (const [id, at] of this.aside) if (now - at >= ASIDE_MS) this.aside.delete(id);
    // Rows that failed in this move are not taken again by it.
    const skip = new Set(this.aside.keys());
    for (;;) {
      let rows: Awaited<ReturnType<AuditStore["takeStaged"]>> = [];
      try {
        const moved = await this.db.transaction().execute(async (tx) => {
          if (wait) await this.store.waitAtMost(tx, WAIT_MS);
          rows = await this.store.takeStaged(tx, upTo, BATCH, [...skip], wait);
          await this.moveRows(tx, rows);
          return rows.length;
        });
        if (moved === 0) return;
      } catch (err) {
        // Another node is moving these and taking long: the reader goes on without waiting more.
        if (isLockTimeout(err)) return;
        // The take failed (the database is away): the next flush tries again.
        if (rows.length === 0) throw err;
        for (const id of await this.oneByOne(rows.map((r) => r.pending_id))) skip.add(id);
      }
    }
  }

  private async moveRows(tx: Db, rows: readonly (StagedRow & { pending_id: number })[]): Promise<void> {
    if (rows.length === 0) return;
    await appendRows(
      this.store,
      tx,
      rows.map(({ pending_id: _, ...row }) => row),
      this.clock(),
    );
    await this.store.dropStaged(
      tx,
      rows.map((r) => r.pending_id),
    );
  }

  /**
   * After a batch failed: each of its rows alone, without waiting for another node's. Returns the rows
   * that still failed. When the database does not answer, the error goes up and nothing is counted.
   */
  private async oneByOne(ids: readonly number[]): Promise<number[]> {
    const failed: { id: number; reason: string }[] = [];
    for (const id of ids)
      try {
        await this.db
          .transaction()
          .execute(async (tx) => this.moveRows(tx, await this.store.takeStagedOne(tx, id, false)));
        this.strikes.delete(id);
      } catch (err) {
        failed.push({ id, reason: (err as Error).message });
      }
    if (failed.length > 0) await this.store.ping();
    if (this.strikes.size > 10_000) this.strikes.clear();
    for (const f of failed) {
      const strikes = (this.strikes.get(f.id) ?? 0) + 1;
      if (strikes < STRIKES) {
        this.strikes.set(f.id, strikes);
        continue;
      }
      this.strikes.delete(f.id);
      this.aside.set(f.id, this.clock());
      this.log.error(
        { pendingId: f.id, reason: f.reason },
        "a staged audit event cannot join its log: left staged, tried again in a minute",
      );
    }
    return failed.map((f) => f.id);
  }
}
