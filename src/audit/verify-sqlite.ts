import { type CheckedBatch, checkRow, type Finding, missing, type VerifyRow } from "./verify.js";

/** One SELECT's rows as arrays: `Database.selectRows` on the main thread, a read-only handle in a worker. */
export type SelectRows = (text: string, params: readonly unknown[]) => unknown[][];

/** What a chunk of a log is: rows `from` (inclusive) to `to` (exclusive) of `log`. */
export interface Chunk {
  readonly log: string;
  readonly from: number;
  readonly to: number;
  /** Content may be missing only for entries older than this (epoch ms)… */
  readonly retentionCutoff: number;
  /** …or erased with their account (positions of this chunk listed by an erasure record). */
  readonly erased?: readonly number[];
}

const ROWS =
  "SELECT seq, id, created_at, leaf, entry, type, action, actor_type, actor_id, entity_type, entity_id FROM audit_events WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq";
const NEXT = "SELECT min(seq) FROM audit_events WHERE log_id = ? AND seq >= ?";

type Row = [number, string, number, string, string | null, string, string, string, ...(string | null)[]];

/**
 * Checks the rows of one chunk of an SQLite log on their own (`checkRow`, and that seq runs without a gap
 * from `from`), and returns their leaf hashes for the tree. Reads the chunk with one SELECT; runs on the
 * main thread or on a worker (verify-pool.ts), with the same result.
 */
export function checkChunk(select: SelectRows, chunk: Chunk): CheckedBatch {
  const { log, from, to, retentionCutoff } = chunk;
  const erased = chunk.erased?.length ? new Set(chunk.erased) : undefined;
  const rows = select(ROWS, [log, from, to]) as Row[];
  const leaves = new Uint8Array(32 * rows.length);
  const createdAt = new Float64Array(rows.length);
  const done = (count: number, finding?: Finding): CheckedBatch => ({
    first: from,
    count,
    leaves: leaves.subarray(0, 32 * count),
    createdAt: createdAt.subarray(0, count),
    finding: finding && { at: count, finding },
  });
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r[0] !== from + i) return done(i, missing(from + i, r[0]));
    const row: VerifyRow = {
      seq: r[0],
      id: r[1],
      created_at: r[2],
      leaf: r[3],
      entry: r[4],
      type: r[5],
      action: r[6],
      actor_type: r[7],
      actor_id: r[8] ?? null,
      entity_type: r[9] ?? null,
      entity_id: r[10] ?? null,
    };
    const leaf = checkRow(row, log, retentionCutoff, erased);
    if (!Buffer.isBuffer(leaf)) return done(i, leaf);
    leaves.set(leaf, 32 * i);
    createdAt[i] = r[2];
  }
  // A short chunk is the end of the log, or a gap before rows further on.
  if (rows.length < to - from) {
    const next = select(NEXT, [log, from + rows.length])[0]?.[0];
    if (typeof next === "number") return done(rows.length, missing(from + rows.length, next));
  }
  return done(rows.length);
}
