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
  readonly cuts: readonly number[];
}

/** Whether `width` rows make a chunk: a power of two, so chunks start where subtrees of their width do. */
export function chunkWidth(width: number): number {
  if (!(Number.isSafeInteger(width) && width > 0 && 2 ** Math.round(Math.log2(width)) === width))
    throw new RangeError(`a verification chunk is a power of two rows, not ${width}`);
  return width;
}

/** The numbers of ascending `sorted` from `lo` (inclusive) to `hi` (exclusive), by binary search. */
function between(sorted: readonly number[], lo: number, hi: number): number[] {
  const first = (x: number) => {
    let a = 0;
    let b = sorted.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (sorted[m]! < x) a = m + 1;
      else b = m;
    }
    return a;
  };
  return sorted.slice(first(lo), first(hi));
}

/**
 * The chunk of rows `from` to `to` of `log`, with the erased positions and checkpoint ends (tree sizes),
 * both ascending, that fall inside it: found by binary search, so a log with a checkpoint every few
 * entries costs no scan per chunk. `width` is a power of two (chunkWidth): chunks then start where
 * subtrees of their width do, and their compact ranges continue the tree's.
 */
export function chunkAt(
  log: string,
  from: number,
  width: number,
  end: number,
  retentionCutoff: number,
  erased: readonly number[],
  sizes: readonly number[],
): Chunk {
  const to = Math.min(end, from + chunkWidth(width));
  return {
    log,
    from,
    to,
    retentionCutoff,
    erased: between(erased, from, to),
    cuts: between(sizes, from + 1, from + width + 1).map((s) => s - from),
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
  const { cuts } = chunk;
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
