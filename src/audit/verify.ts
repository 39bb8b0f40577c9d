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

/** The compact range of a batch's first `size` leaves: its subtree roots, 32 bytes each, largest first. */
export interface Edge {
  readonly size: number;
  readonly hashes: Uint8Array;
}

/**
 * Consecutive rows checked one by one elsewhere (`checkRow`, in verify-sqlite.ts, possibly on worker
 * threads), their leaves already folded: what is left for the tree is their compact range where a
 * signed checkpoint ends among them, and at their end. `first` is a multiple of a power of two no
 * smaller than the batch, so those ranges continue the tree's.
 */
export interface CheckedBatch {
  /** The seq of the first row. */
  readonly first: number;
  readonly count: number;
  /** The batch's compact range at each checkpoint inside it (the sizes `rows` was given), and at `count`. */
  readonly edges: readonly Edge[];
  /** Each row's created_at (epoch ms). */
  readonly createdAt: Float64Array;
  /** The first row that failed its checks (index `at`; the rows before it passed), or the gap there. */
  readonly finding?: { readonly at: number; readonly finding: Finding } | undefined;
}

export interface VerifySource {
  readonly log: string;
  readonly origin: string;
  /**
   * Accept any origin ending in `/audit/<log>` (the database: the host part follows PUBLIC_URL, which may
   * have changed since a checkpoint was signed; the log id may not).
   */
  readonly anyHost?: boolean;
  /**
   * The log's rows in seq order, in batches (or batches already checked row by row, whose edges are
   * taken at `checkpointSizes`, the sizes of the checkpoints that verified).
   */
  rows(checkpointSizes: readonly number[]): AsyncIterable<readonly VerifyRow[] | CheckedBatch>;
  readonly checkpoints: readonly { readonly size: number; readonly note: string }[];
  /** Verifier keys (C2SP vkey strings) trusted to sign this log's checkpoints. */
  readonly vkeys: readonly string[];
  /** The log's size as its head row says (database mode). */
  readonly headSize?: number;
  /** Content may be missing (purged) only for entries older than this (epoch ms)… */
  readonly retentionCutoff: number;
  /** …or listed by an erasure record later in the log (`erasedListed`): an erased account's entries. */
  readonly erased?: ReadonlySet<number>;
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
  /** Checked batches: how many of `sizes` their edges have been checked against (an empty tree's: none). */
  let met = sizes.filter((s) => s <= 0).length;
  /** The oldest entry since the last checkpoint that matched: it must not be older than `coveredBefore`. */
  let oldestUncovered: { seq: number; at: number } | undefined;
  const at = (f: Finding) => fail(f, range.size, verified);

  /** After the leaf of entry `seq` (created at `createdAt`) joined the tree: its checkpoint, if one ends there. */
  const joined = (seq: number, createdAt: number): Finding | undefined => {
    const want = roots.get(range.size);
    if (want) {
      if (!range.root().equals(want)) return altered(verified, range.size);
      verified = range.size;
      oldestUncovered = undefined;
    } else if (!oldestUncovered) oldestUncovered = { seq, at: createdAt };
    return undefined;
  };

  for await (const batch of src.rows(sizes)) {
    if (!Array.isArray(batch)) {
      // Rows already checked one by one (rules 2 to 4, by verify-sqlite.ts): only the tree is left.
      const checked = batch as CheckedBatch;
      // Past the end of the log (a short chunk before it said so): nothing, unless a finding.
      if (checked.count === 0) {
        if (checked.finding) return at(checked.finding.finding);
        continue;
      }
      if (checked.first !== range.size) return at(missing(range.size, checked.first));
      // Up to the first row that failed: each checkpoint inside, then the batch's leaves join the tree.
      // Every checkpoint in reach must have its edge: a batch without one fails, never skips it.
      const stop = checked.finding?.at ?? checked.count;
      const edges = new Map(checked.edges.map((e) => [e.size, e]));
      let covered = 0;
      for (; met < sizes.length && sizes[met]! <= checked.first + stop; met++) {
        const size = sizes[met]!;
        const edge = edges.get(size - checked.first);
        if (!edge)
          return fail(
            { problem: "checkpoint", seq: null, id: null, message: `checkpoint ${size} was not checked` },
            size,
            verified,
          );
        if (!range.rootWith(edge.hashes).equals(roots.get(size)!))
          return fail(altered(verified, size), size, verified);
        verified = size;
        covered = edge.size;
      }
      const end = checked.edges[checked.edges.length - 1]!;
      if (end.size !== stop) throw new Error("a checked batch whose edge does not end where it does");
      range.appendEdge(end.hashes, end.size);
      if (covered > 0) oldestUncovered = undefined;
      // Rows past the last checkpoint wait for the next one: the oldest of them must not be too old.
      if (covered < end.size && !oldestUncovered)
        oldestUncovered = { seq: checked.first + covered, at: checked.createdAt[covered]! };
      if (checked.finding) return at(checked.finding.finding);
      progress?.(range.size);
      continue;
    }
    for (const row of batch as readonly VerifyRow[]) {
      if (row.seq !== range.size) return at(missing(range.size, row.seq));
      const leaf = checkRow(row, src.log, src.retentionCutoff, src.erased);
      if (!Buffer.isBuffer(leaf)) return at(leaf);
      range.append(leaf);
      const finding = joined(row.seq, row.created_at);
      if (finding) return at(finding);
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

/** The first `size` entries do not give their checkpoint's root, though those before `verified` did. */
function altered(verified: number, size: number): Finding {
  return {
    problem: "modified",
    seq: null,
    id: null,
    message: `the first ${size} entries do not match their signed checkpoint: an entry from ${verified} to ${size - 1} was altered together with its leaf`,
  };
}

/** The action of the entries that list what an account's erasure blanked in their log (GDPR-2). */
export const ERASURE_ACTION = "audit.entries_erased";

/** The signed text of an erasure listing: which positions of which log lost their content. */
export function erasureText(origin: string, seqs: readonly number[]): string {
  return `bulwark audit erasure v1\n${origin}\n${seqs.join(",")}\n`;
}

/**
 * The positions an erasure record lists, if `entry` is one of `log`: only when its `metadata.listing` is
 * a note signed by a trusted key (the log's own signer, whose key is not in the database) naming this
 * log and exactly those positions, and only positions before its own. Someone who can write the
 * database but not sign cannot excuse a blanked entry by appending a listing.
 */
export function erasedListed(
  seq: number,
  entry: string | null,
  log: string,
  verifiers: readonly Verifier[],
): number[] {
  if (entry === null || !entry.includes(ERASURE_ACTION)) return [];
  try {
    const e = JSON.parse(entry) as { action?: unknown; metadata?: { seqs?: unknown; listing?: unknown } };
    const seqs = e.metadata?.seqs;
    if (e.action !== ERASURE_ACTION || !Array.isArray(seqs) || typeof e.metadata?.listing !== "string")
      return [];
    const [head, origin, list, rest] = openNote(e.metadata.listing, verifiers).text.split("\n");
    if (head !== "bulwark audit erasure v1" || rest !== "" || !origin?.endsWith(`/audit/${log}`)) return [];
    if (list !== seqs.join(",")) return [];
    return seqs.filter((n): n is number => Number.isSafeInteger(n) && n >= 0 && n < seq);
  } catch {
    return [];
  }
}

/** Where the row of entry `expected` should be, the next row is entry `next`. */
export function missing(expected: number, next: number): Finding {
  return {
    problem: "deleted",
    seq: expected,
    id: null,
    message: `entry ${expected} is missing: the next row is entry ${next} (deleted, or the rows were renumbered)`,
  };
}

/**
 * Checks one row on its own (rules 3 and 4, and that its entry names its own position): its leaf hash
 * when it holds, else what is wrong. Pure, so worker threads run it too (verify-sqlite.ts).
 */
export function checkRow(
  row: VerifyRow,
  log: string,
  retentionCutoff: number,
  erased?: ReadonlySet<number>,
): Hash | Finding {
  if (row.entry === null) {
    // With content, the leaf is checked by comparing it with the entry's hash; without, by its form.
    if (!LEAF.test(row.leaf)) return noLeaf(row);
    if (row.created_at < retentionCutoff || erased?.has(row.seq)) return unhex(row.leaf);
    return {
      problem: "deleted",
      seq: row.seq,
      id: row.id,
      message: `entry ${row.seq} (${row.id}) lost its content before its retention period ended, and no erasure record lists it`,
    };
  }
  const leaf = leafHash(row.entry);
  if (leaf.toString("hex") !== row.leaf) {
    if (!LEAF.test(row.leaf)) return noLeaf(row);
    return {
      problem: "modified",
      seq: row.seq,
      id: row.id,
      message: `entry ${row.seq} (${row.id}) was modified: its content no longer hashes to its leaf`,
    };
  }
  return disagreement(row, log) ?? leaf;
}

function noLeaf(row: VerifyRow): Finding {
  return {
    problem: "modified",
    seq: row.seq,
    id: row.id,
    message: `entry ${row.seq} has no valid leaf hash`,
  };
}

/** The last instant `sameTime` rendered: rows written together share their time. */
let lastTime = { at: Number.NaN, text: "" };

/**
 * Whether the entry's time is the row's `at` (epoch ms): compared as the writer renders it, which needs
 * no parse for rows sharing a time, else parsed (any form Date.parse reads).
 */
function sameTime(text: unknown, at: number): boolean {
  if (typeof at !== "number") return false;
  if (lastTime.at !== at) {
    const d = new Date(at);
    lastTime = { at, text: Number.isNaN(d.getTime()) ? "" : d.toISOString() };
  }
  return (lastTime.text !== "" && text === lastTime.text) || Date.parse(String(text)) === at;
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
  if (e.id === row.id && sameTime(e.time, row.created_at) && columns) return undefined;
  return {
    problem: "modified",
    seq: row.seq,
    id: row.id,
    message: `entry ${row.seq} (${row.id}) was modified: its stored columns disagree with its signed content`,
  };
}
