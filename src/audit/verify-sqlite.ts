import { CompactRange } from "./merkle.js";
import { type CheckedBatch, checkRow, type Edge, type Finding, missing, type VerifyRow } from "./verify.js";

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
  /**
   * Where signed checkpoints end inside this chunk, as counts of its rows (ascending, 1 … to - from):
   * the tree's edge is taken there too. `from` is a multiple of a power of two no smaller than the chunk.
   */
  readonly cuts?: readonly number[];
}

/**
 * The chunk of rows `from` to `to` of `log`, with the erasures and checkpoint ends (`sizes`, tree sizes)
 * that fall inside it. `width`, the chunk size, must be a power of two: chunks then start where subtrees
 * of their width do, and their compact ranges continue the tree's.
 */
export function chunkAt(
  log: string,
  from: number,
  width: number,
  end: number,
  retentionCutoff: number,
  erased: ReadonlySet<number>,
  sizes: readonly number[],
): Chunk {
  if (!Number.isInteger(Math.log2(width)))
    throw new RangeError("a verification chunk is a power of two rows");
  const to = Math.min(end, from + width);
  return {
    log,
    from,
    to,
    retentionCutoff,
    erased: [...erased].filter((s) => s >= from && s < to),
    cuts: sizes.filter((s) => s > from && s <= from + width).map((s) => s - from),
  };
}

/** The compact range `range` as bytes that can cross to another thread (never a pooled Buffer's memory). */
function edgeOf(range: CompactRange): Edge {
  const hashes = range.edge();
  const bytes = new Uint8Array(32 * hashes.length);
  for (const [i, h] of hashes.entries()) bytes.set(h, 32 * i);
  return { size: range.size, hashes: bytes };
}

const ROWS =
  "SELECT seq, id, created_at, leaf, entry, type, action, actor_type, actor_id, entity_type, entity_id FROM audit_events WHERE log_id = ? AND seq >= ? AND seq < ? ORDER BY seq";
const NEXT = "SELECT min(seq) FROM audit_events WHERE log_id = ? AND seq >= ?";

type Row = [number, string, number, string, string | null, string, string, string, ...(string | null)[]];

/**
 * Checks the rows of one chunk of an SQLite log on their own (`checkRow`, and that seq runs without a gap
 * from `from`), and folds their leaves into the chunk's part of the tree: its compact range at each cut
 * and at its end (or at the first row that failed), so the thread that holds the whole tree hashes one
 * subtree root per chunk instead of a node per leaf. Reads the chunk with one SELECT; runs on the main
 * thread or on a worker (verify-pool.ts), with the same result.
 */
export function checkChunk(select: SelectRows, chunk: Chunk): CheckedBatch {
  const { log, from, to, retentionCutoff } = chunk;
  const erased = chunk.erased?.length ? new Set(chunk.erased) : undefined;
  const rows = select(ROWS, [log, from, to]) as Row[];
  const createdAt = new Float64Array(rows.length);
  const range = new CompactRange();
  const edges: Edge[] = [];
  const cuts = chunk.cuts ?? [];
  let cut = 0;
  const done = (count: number, finding?: Finding): CheckedBatch => {
    if (edges.at(-1)?.size !== count) edges.push(edgeOf(range));
    return {
      first: from,
      count,
      edges,
      createdAt: createdAt.subarray(0, count),
      finding: finding && { at: count, finding },
    };
  };
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
    range.append(leaf);
    createdAt[i] = r[2];
    while (cut < cuts.length && cuts[cut]! <= i + 1) {
      if (cuts[cut] === i + 1) edges.push(edgeOf(range));
      cut++;
    }
  }
  // A short chunk is the end of the log, or a gap before rows further on.
  if (rows.length < to - from) {
    const next = select(NEXT, [log, from + rows.length])[0]?.[0];
    if (typeof next === "number") return done(rows.length, missing(from + rows.length, next));
  }
  return done(rows.length);
}
