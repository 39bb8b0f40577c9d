/**
 * Checks, in the browser and with WebCrypto only, what the audit API claims about an entry (AUDIT-4):
 *
 * - the entry as shown hashes to its leaf: SHA-256(0x00 ‖ canonical JSON), the bytes the server stored
 *   (object keys sorted at every depth, no whitespace: src/audit/entry.ts);
 * - the audit path leads from that leaf to the checkpoint's root (RFC 9162, section 2.1.3.2);
 * - the checkpoint's signed note names that size and root and carries a valid Ed25519 signature by one of
 *   the keys the server publishes (C2SP signed-note and tlog-checkpoint).
 *
 * Nothing here trusts the server's word that a proof is good: each hash is recomputed.
 */

export interface Checkpoint {
  size: number;
  /** Merkle root, base64. */
  root: string;
  keyId: string;
  /** The C2SP signed note. */
  note: string;
  createdAt: string;
}
export interface Proof {
  id: string;
  leafIndex: number;
  /** base64 */
  leafHash: string;
  treeSize: number;
  /** base64 hashes, leaf to root. */
  proof: string[];
  checkpoint: Checkpoint;
}
export interface AuditKey {
  keyId: string;
  /** `<name>+<key id hex>+<base64(0x01 ‖ public key)>` */
  vkey: string;
  algorithm: string;
  current: boolean;
}

export type Bytes = Uint8Array<ArrayBuffer>;

export const fromBase64 = (s: string): Bytes => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

const concat = (...parts: Uint8Array[]): Bytes => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

export const sha256 = async (...parts: Uint8Array[]): Promise<Bytes> =>
  new Uint8Array(await crypto.subtle.digest("SHA-256", concat(...parts)));

export const same = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The canonical bytes of a value, as the server writes an entry before hashing it. */
export function canonical(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(obj[k])}`).join(",")}}`;
}

/** The leaf hash of an entry: SHA-256(0x00 ‖ its canonical JSON). */
export const leafOf = (entry: unknown): Promise<Bytes> =>
  sha256(new Uint8Array([0]), new TextEncoder().encode(canonical(entry)));

/**
 * RFC 9162 2.1.3.2: the root the audit path leads to from leaf `index` of a tree of `size` leaves, or
 * null when the path cannot belong to that position (too long, too short, or the index outside the tree).
 * Sizes stay far below 2^53, so halving is done in arithmetic rather than with 32-bit shifts.
 */
export async function rootFromPath(
  leaf: Uint8Array,
  index: number,
  size: number,
  path: readonly Uint8Array[],
): Promise<Bytes | null> {
  if (!(index >= 0 && index < size)) return null;
  const node = new Uint8Array([1]);
  const half = (n: number) => Math.floor(n / 2);
  let fn = index;
  let sn = size - 1;
  let r: Bytes = new Uint8Array(leaf);
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await sha256(node, p, r);
      while (fn % 2 === 0 && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else r = await sha256(node, r, p);
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : null;
}

export type Verdict =
  | {
      ok: true;
      size: number;
      keyId: string;
      /** "match": the entry as shown hashes to its leaf; "purged": retention removed the content. */
      content: "match" | "purged";
      /** "checked": the note's Ed25519 signature verified; "unsupported": this browser cannot check it. */
      signature: "checked" | "unsupported";
    }
  | { ok: false; reason: string };

/**
 * Everything the console checks about one entry's proof. `origin` is the log's checkpoint origin (the
 * keys document's `origin` with `{log}` replaced); `entry` the entry as the API listed it.
 */
export async function verifyProof(
  entry: Record<string, unknown>,
  p: Proof,
  keys: readonly AuditKey[],
  origin: string,
): Promise<Verdict> {
  const fail = (reason: string): Verdict => ({ ok: false, reason });
  if (p.id !== entry.id || p.leafIndex !== entry.seq) return fail("The proof is for another entry.");
  const leaf = fromBase64(p.leafHash);
  const purged = entry.purged === true;
  if (!purged && !same(await leafOf(entry), leaf))
    return fail("The entry as shown does not hash to the leaf the log holds for it.");
  const cp = p.checkpoint;
  if (cp.size !== p.treeSize) return fail("The proof and its checkpoint are for different tree sizes.");
  const root = await rootFromPath(leaf, p.leafIndex, p.treeSize, p.proof.map(fromBase64));
  if (!root || !same(root, fromBase64(cp.root)))
    return fail("The audit path does not lead to the checkpoint's root.");
  const signature = await checkNote(cp, keys, origin);
  if (signature !== "checked" && signature !== "unsupported") return fail(signature);
  return { ok: true, size: cp.size, keyId: cp.keyId, content: purged ? "purged" : "match", signature };
}

/**
 * The checkpoint's signed note: its body must be exactly `origin`, size and root, and one signature line
 * must verify under a published key. Returns "checked", "unsupported" (no Ed25519 in this browser's
 * WebCrypto) or why it fails.
 */
async function checkNote(cp: Checkpoint, keys: readonly AuditKey[], origin: string): Promise<string> {
  const split = cp.note.lastIndexOf("\n\n");
  if (split < 0) return "The checkpoint's note has no signature.";
  const text = cp.note.slice(0, split + 1);
  if (text !== `${origin}\n${cp.size}\n${cp.root}\n`)
    return "The checkpoint's signed note names another log, size or root.";
  let unsupported = false;
  for (const line of cp.note.slice(split + 2).split("\n")) {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) continue;
    const blob = fromBase64(m[2] as string);
    const id = [...blob.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join("");
    const key = keys.find((k) => k.keyId === id && k.vkey.startsWith(`${m[1]}+${id}+`));
    if (!key) continue;
    // After "<name>+<id>+": the base64 key may itself hold a "+".
    const raw = fromBase64(key.vkey.slice(`${m[1]}+${id}+`.length));
    if (raw.length !== 33 || raw[0] !== 1) continue;
    let good: boolean;
    try {
      const pub = await crypto.subtle.importKey("raw", raw.subarray(1), { name: "Ed25519" }, false, [
        "verify",
      ]);
      good = await crypto.subtle.verify(
        { name: "Ed25519" },
        pub,
        blob.subarray(4),
        new TextEncoder().encode(text),
      );
    } catch {
      unsupported = true;
      continue;
    }
    if (good) return "checked";
    return `The checkpoint's signature by key ${id} does not verify.`;
  }
  return unsupported ? "unsupported" : "The checkpoint is not signed by a published key.";
}
