import { createHash, hash } from "node:crypto";

/**
 * The Merkle tree of RFC 9162 (Certificate Transparency 2.0), section 2.1, over SHA-256:
 *
 *   leaf hash   = SHA-256(0x00 ‖ entry bytes)
 *   node hash   = SHA-256(0x01 ‖ left ‖ right)
 *   MTH({})     = SHA-256()
 *   MTH(D[n])   = node(MTH(D[0:k]), MTH(D[k:n])), k the largest power of two below n
 *
 * Every function here takes leaf hashes (32-byte Buffers), never entries: retention drops an entry's
 * content and keeps its leaf, so proofs and roots never need the content.
 */
export type Hash = Buffer;

// One-shot hashing over a reused scratch buffer: no Hash object and no concatenation per call (a log of
// n entries costs n leaf hashes and about n node hashes to verify; this halves their cost).
let scratch = Buffer.allocUnsafe(4096);
const NODE = Buffer.allocUnsafe(65);
NODE[0] = 1;

export function leafHash(entry: Buffer | string): Hash {
  const length = 1 + (typeof entry === "string" ? Buffer.byteLength(entry) : entry.length);
  if (length > scratch.length) scratch = Buffer.allocUnsafe(Math.max(length, scratch.length * 2));
  scratch[0] = 0;
  if (typeof entry === "string") scratch.write(entry, 1);
  else entry.copy(scratch, 1);
  return hash("sha256", scratch.subarray(0, length), "buffer") as unknown as Hash;
}

export function nodeHash(left: Hash, right: Hash): Hash {
  left.copy(NODE, 1);
  right.copy(NODE, 33);
  return hash("sha256", NODE, "buffer") as unknown as Hash;
}

export const EMPTY_ROOT: Hash = createHash("sha256").digest();

/** The largest power of two strictly below n (n ≥ 2). */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH over leaves[from, to). */
export function rootOf(leaves: readonly Hash[], from = 0, to = leaves.length): Hash {
  const n = to - from;
  if (n === 0) return EMPTY_ROOT;
  if (n === 1) return leaves[from]!;
  const k = split(n);
  return nodeHash(rootOf(leaves, from, from + k), rootOf(leaves, from + k, to));
}

/** A run of leaves [from, to) whose subtree root is one hash of a proof. */
export type Span = readonly [from: number, to: number];

/**
 * PATH(m, D[n]) of RFC 9162 2.1.3.1, as the leaf spans whose roots make the audit path of leaf `index`
 * in the tree of `size` leaves (in proof order). Spans are disjoint, so one pass over the leaves
 * computes them all in constant memory.
 */
export function inclusionSpans(index: number, size: number): Span[] {
  if (index < 0 || index >= size) throw new RangeError("leaf outside the tree");
  const path: Span[] = [];
  const walk = (m: number, from: number, to: number): void => {
    const n = to - from;
    if (n <= 1) return;
    const k = split(n);
    if (m < k) {
      walk(m, from, from + k);
      path.push([from + k, to]);
    } else {
      walk(m - k, from + k, to);
      path.push([from, from + k]);
    }
  };
  walk(index, 0, size);
  return path;
}

/** PROOF(m, D[n]) of RFC 9162 2.1.4.1, as leaf spans: that the tree of `oldSize` leaves is a prefix of `newSize`'s. */
export function consistencySpans(oldSize: number, newSize: number): Span[] {
  if (oldSize < 0 || oldSize > newSize) throw new RangeError("bad tree sizes");
  if (oldSize === 0 || oldSize === newSize) return [];
  const proof: Span[] = [];
  const sub = (m: number, from: number, to: number, complete: boolean): void => {
    const n = to - from;
    if (m === n) {
      if (!complete) proof.push([from, to]);
      return;
    }
    const k = split(n);
    if (m <= k) {
      sub(m, from, from + k, complete);
      proof.push([from + k, to]);
    } else {
      sub(m - k, from + k, to, false);
      proof.push([from, from + k]);
    }
  };
  sub(oldSize, 0, newSize, true);
  return proof;
}

export function inclusionProof(leaves: readonly Hash[], index: number, size = leaves.length): Hash[] {
  if (size > leaves.length) throw new RangeError("leaf outside the tree");
  return inclusionSpans(index, size).map(([a, b]) => rootOf(leaves, a, b));
}

export function consistencyProof(leaves: readonly Hash[], oldSize: number, newSize: number): Hash[] {
  if (newSize > leaves.length) throw new RangeError("bad tree sizes");
  return consistencySpans(oldSize, newSize).map(([a, b]) => rootOf(leaves, a, b));
}

/**
 * The right edge of a growing tree: the roots of its perfect subtrees, largest first (at most log2 n
 * hashes). Appending a leaf and reading the root cost O(log n), so a checkpoint extends the previous one
 * with only the new leaves, and the verifier walks a log of any length in one pass of constant memory.
 */
export class CompactRange {
  private readonly hashes: Hash[] = [];
  private readonly heights: number[] = [];
  size = 0;

  static from(size: number, hashes: readonly Hash[]): CompactRange {
    const r = new CompactRange();
    // The perfect subtrees of a tree of `size` leaves are the set bits of size, high to low.
    let bit = 52;
    for (const h of hashes) {
      while (bit >= 0 && Math.floor(size / 2 ** bit) % 2 === 0) bit--;
      if (bit < 0) throw new Error("compact range: more hashes than the size has subtrees");
      r.hashes.push(h);
      r.heights.push(bit);
      bit--;
    }
    r.size = size;
    if (r.hashes.length !== popcount(size)) throw new Error("compact range does not match its size");
    return r;
  }

  append(leaf: Hash): void {
    this.appendSubtree(leaf, 0);
  }

  /**
   * Appends the root of a perfect subtree of 2^height leaves: the range's size must be a multiple of its
   * width (the subtree starts where a tree of that width would), else the result would be another tree.
   */
  private appendSubtree(root: Hash, height: number): void {
    const width = 2 ** height;
    if (this.size % width !== 0) throw new Error("compact range: a subtree appended off its alignment");
    let h = root;
    let at = height;
    while (this.heights.length > 0 && this.heights[this.heights.length - 1] === at) {
      this.heights.pop();
      h = nodeHash(this.hashes.pop()!, h);
      at++;
    }
    this.hashes.push(h);
    this.heights.push(at);
    this.size += width;
  }

  /**
   * Appends `count` leaves given as their own compact range (`edge`, 32 bytes per subtree root, largest
   * first), as a verifier's worker computed it for a run of leaves starting at a multiple of a power of
   * two no smaller than `count` (so its subtrees are this range's next ones).
   */
  appendEdge(edge: Uint8Array, count: number): void {
    let i = 0;
    for (let bit = 52; bit >= 0; bit--)
      if (Math.floor(count / 2 ** bit) % 2 === 1)
        this.appendSubtree(Buffer.from(edge.buffer, edge.byteOffset + 32 * i++, 32), bit);
    if (32 * i !== edge.length) throw new Error("compact range: an edge that does not match its count");
  }

  root(): Hash {
    return this.rootWith(new Uint8Array(0));
  }

  /** The root of this range followed by a run of leaves given as their compact range (see appendEdge). */
  rootWith(edge: Uint8Array): Hash {
    const all = [...this.hashes];
    for (let i = 0; i < edge.length; i += 32) all.push(Buffer.from(edge.buffer, edge.byteOffset + i, 32));
    if (all.length === 0) return EMPTY_ROOT;
    let h = all[all.length - 1]!;
    for (let i = all.length - 2; i >= 0; i--) h = nodeHash(all[i]!, h);
    return h;
  }

  /** The subtree roots, for storing beside a checkpoint. */
  edge(): Hash[] {
    return [...this.hashes];
  }
}

function popcount(n: number): number {
  let c = 0;
  for (let x = n; x > 0; x = Math.floor(x / 2)) c += x % 2;
  return c;
}
