import { CompactRange, type Hash, leafHash } from "./merkle.js";
import { openNote, parseCheckpoint, parseVkey, type Verifier } from "./note.js";

/**
 * A row of a log as the verifier reads it: from the database (with its query columns, checked against
 * the entry), or from an export bundle (without them).
 */
export interface VerifyRow {
  readonly seq: number;
  readonly id: string;
  readonly created_at: number;
  readonly leaf: string;
  readonly entry: string | null;
  readonly type?: string;
  readonly action?: string;
  readonly actor_type?: string;
  readonly actor_id?: string | null;
  readonly entity_type?: string | null;
  readonly entity_id?: string | null;
}

export interface VerifySource {
  readonly log: string;
  readonly origin: string;
  /**
   * Accept any origin ending in `/audit/<log>` (the database: the host part follows PUBLIC_URL, which may
   * have changed since a checkpoint was signed; the log id may not).
   */
  readonly anyHost?: boolean;
  /** The log's rows in seq order, in batches. */
  rows(): AsyncIterable<readonly VerifyRow[]>;
  readonly checkpoints: readonly { readonly size: number; readonly note: string }[];
  /** Verifier keys (C2SP vkey strings) trusted to sign this log's checkpoints. */
  readonly vkeys: readonly string[];
  /** The log's size as its head row says (database mode). */
  readonly headSize?: number;
  /** Content may be missing (purged) only for entries older than this (epoch ms). */
  readonly retentionCutoff: number;
  /**
   * Entries created before this instant must be covered by a signed checkpoint (the database: a log
   * whose checkpoints were deleted does not pass as "awaiting one"). A bundle requires every entry to be.
   */
  readonly coveredBefore: number;
}

export type Problem = "modified" | "deleted" | "inserted" | "reordered" | "checkpoint";

export interface Finding {
  readonly problem: Problem;
  readonly seq: number | null;
  readonly id: string | null;
  readonly message: string;
}

export interface VerifyResult {
  readonly log: string;
  readonly entries: number;
  readonly checkpoints: number;
  /** The largest checkpoint whose root the entries reproduced. */
  readonly verifiedSize: number;
  /** The first problem, if any: verification of a log stops there. */
  readonly finding: Finding | undefined;
}

const unhex = (s: string) => Buffer.from(s, "hex");
const LEAF = /^[0-9a-f]{64}$/;

/**
 * Walks one log and checks, in one pass of constant memory (AUDIT-4):
 *
 * 1. every checkpoint is signed by a trusted key, names this log's origin, and its root is the Merkle
 *    root of the first `size` leaves;
 * 2. seq runs 0, 1, 2… with no gap (a deleted row) and each entry names its own seq and log (a row moved,
 *    swapped or inserted does not);
 * 3. each entry hashes to its stored leaf (an edited entry does not) and, in the database, its query
 *    columns say what the entry says;
 * 4. content is missing only where retention dropped it, and no row outlives the head or the checkpoints.
 *
 * An edit that also rewrites the leaf is caught by (1) at the next checkpoint, which bounds where it is.
 */
export async function verifyLog(
  src: VerifySource,
  progress?: (entries: number) => void,
): Promise<VerifyResult> {
  let verifiers: Verifier[];
  const fail = (finding: Finding, entries = 0, verifiedSize = 0): VerifyResult => ({
    log: src.log,
    entries,
    checkpoints: src.checkpoints.length,
    verifiedSize,
    finding,
  });
  try {
    verifiers = src.vkeys.map(parseVkey);
  } catch (err) {
    return fail({ problem: "checkpoint", seq: null, id: null, message: (err as Error).message });
  }
  const roots = new Map<number, Hash>();
  for (const cp of src.checkpoints) {
    try {
      const { text } = openNote(cp.note, verifiers);
      const parsed = parseCheckpoint(text);
      const sameLog = src.anyHost
        ? parsed.origin.endsWith(`/audit/${src.log}`)
        : parsed.origin === src.origin;
      if (!sameLog) throw new Error(`names origin ${parsed.origin}, not ${src.origin}`);
      if (parsed.size !== cp.size) throw new Error(`says size ${parsed.size}, stored as ${cp.size}`);
      roots.set(cp.size, parsed.root);
    } catch (err) {
      return fail({
        problem: "checkpoint",
        seq: null,
        id: null,
        message: `checkpoint of size ${cp.size}: ${(err as Error).message}`,
      });
    }
  }
  const sizes = [...roots.keys()].sort((a, b) => a - b);
  const range = new CompactRange();
  let verified = 0;
  /** The oldest entry since the last checkpoint that matched: it must not be older than `coveredBefore`. */
  let oldestUncovered: { seq: number; at: number } | undefined;
  const at = (f: Finding) => fail(f, range.size, verified);

  for await (const batch of src.rows()) {
    for (const row of batch) {
      if (row.seq !== range.size)
        return at({
          problem: "deleted",
          seq: range.size,
          id: null,
          message: `entry ${range.size} is missing: the next row is entry ${row.seq} (deleted, or the rows were renumbered)`,
        });
      if (!LEAF.test(row.leaf))
        return at({
          problem: "modified",
          seq: row.seq,
          id: row.id,
          message: `entry ${row.seq} has no valid leaf hash`,
        });
      if (row.entry !== null) {
        const leaf = unhex(row.leaf);
        if (!leafHash(row.entry).equals(leaf))
          return at({
            problem: "modified",
            seq: row.seq,
            id: row.id,
            message: `entry ${row.seq} (${row.id}) was modified: its content no longer hashes to its leaf`,
          });
        // The entry says what its row says: checked on its canonical text first (cheap), and parsed only
        // to name what is wrong when that fails.
        const finding = disagreement(row, src.log);
        if (finding) return at(finding);
        range.append(leaf);
      } else if (!(row.created_at < src.retentionCutoff))
        return at({
          problem: "deleted",
          seq: row.seq,
          id: row.id,
          message: `entry ${row.seq} (${row.id}) lost its content before its retention period ended`,
        });
      else range.append(unhex(row.leaf));
      const want = roots.get(range.size);
      if (want) {
        if (!range.root().equals(want))
          return at({
            problem: "modified",
            seq: null,
            id: null,
            message: `the first ${range.size} entries do not match their signed checkpoint: an entry from ${verified} to ${range.size - 1} was altered together with its leaf`,
          });
        verified = range.size;
        oldestUncovered = undefined;
      } else if (!oldestUncovered) oldestUncovered = { seq: row.seq, at: row.created_at };
    }
    progress?.(range.size);
  }
  const last = sizes[sizes.length - 1] ?? 0;
  if (last > range.size)
    return at({
      problem: "deleted",
      seq: range.size,
      id: null,
      message: `entries from ${range.size} on are missing: a signed checkpoint covers ${last}`,
    });
  if (oldestUncovered && !(oldestUncovered.at >= src.coveredBefore))
    return at({
      problem: "checkpoint",
      seq: oldestUncovered.seq,
      id: null,
      message: `entries from ${oldestUncovered.seq} on are covered by no signed checkpoint, though old enough to be (checkpoints deleted, or entries added behind the signer's back)`,
    });
  if (src.headSize !== undefined && src.headSize !== range.size)
    return at({
      problem: src.headSize > range.size ? "deleted" : "inserted",
      seq: Math.min(src.headSize, range.size),
      id: null,
      message:
        src.headSize > range.size
          ? `entries from ${range.size} on are missing: the log's head counts ${src.headSize}`
          : `entries from ${src.headSize} on were inserted: the log's head counts ${src.headSize}`,
    });
  return {
    log: src.log,
    entries: range.size,
    checkpoints: sizes.length,
    verifiedSize: verified,
    finding: undefined,
  };
}

/** How the entry disagrees with its row, parsed: its own seq, log, id, time and query columns (undefined: it agrees). */
function disagreement(row: VerifyRow, log: string): Finding | undefined {
  let e: {
    seq?: unknown;
    log?: unknown;
    id?: unknown;
    time?: unknown;
    type?: unknown;
    action?: unknown;
    actor?: { id?: unknown; type?: unknown };
    entity?: { type?: unknown; id?: unknown } | null;
  };
  try {
    e = JSON.parse(row.entry!);
  } catch {
    return { problem: "modified", seq: row.seq, id: row.id, message: `entry ${row.seq} is not JSON` };
  }
  if (e.seq !== row.seq || e.log !== log)
    return {
      problem: e.log === log && typeof e.seq === "number" && e.seq < row.seq ? "inserted" : "reordered",
      seq: row.seq,
      id: row.id,
      message: `the row at seq ${row.seq} holds entry ${String(e.seq)} of log ${String(e.log)}: rows were inserted, swapped or moved`,
    };
  const columns =
    row.action === undefined ||
    (e.action === row.action &&
      (e.actor?.id ?? null) === row.actor_id &&
      e.actor?.type === row.actor_type &&
      (e.entity?.type ?? null) === row.entity_type &&
      (e.entity?.id ?? null) === row.entity_id &&
      e.type === row.type);
  if (e.id === row.id && Date.parse(String(e.time)) === row.created_at && columns) return undefined;
  return {
    problem: "modified",
    seq: row.seq,
    id: row.id,
    message: `entry ${row.seq} (${row.id}) was modified: its stored columns disagree with its signed content`,
  };
}
