import { createHash, createPublicKey, verify } from "node:crypto";

/**
 * An independent verifier for Bulwark's audit proofs, written from the specifications and sharing no
 * code with src/audit: RFC 9162 section 2.1.3.2 (verifying an inclusion proof) and 2.1.4.2 (verifying a
 * consistency proof), step by step as the RFC numbers them, and C2SP signed-note verification. The tests
 * check the server's proofs with this, so a bug shared by prover and verifier cannot hide.
 */
const sha256 = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};
const hashChildren = (l: Uint8Array, r: Uint8Array) => sha256(Uint8Array.of(1), l, r);
export const hashLeaf = (entry: Uint8Array) => sha256(Uint8Array.of(0), entry);

/** RFC 9162 2.1.3.2. */
export function verifyInclusion(
  leafIndex: number,
  treeSize: number,
  leafHash: Uint8Array,
  path: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  // 1. If leaf_index is greater than or equal to tree_size, then fail the proof verification.
  if (leafIndex >= treeSize) return false;
  // 2. Set fn to leaf_index and sn to tree_size - 1.
  let fn = BigInt(leafIndex);
  let sn = BigInt(treeSize - 1);
  // 3. Set r to hash.
  let r: Uint8Array = leafHash;
  // 4. For each value p in the inclusion_path array:
  for (const p of path) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0n) return false;
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if ((fn & 1n) === 1n || fn === sn) {
      // i. Set r to HASH(0x01 || p || r).
      r = hashChildren(p, r);
      // ii. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set
      //     or fn is 0.
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      // Otherwise: Set r to HASH(0x01 || r || p).
      r = hashChildren(r, p);
    }
    // c. Finally, right-shift both fn and sn one time.
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  // 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the root_hash are
  //    equal, then the log has proven the inclusion of hash. Otherwise, fail the proof verification.
  return sn === 0n && Buffer.from(r).equals(Buffer.from(root));
}

/** RFC 9162 2.1.4.2. */
export function verifyConsistency(
  firstSize: number,
  secondSize: number,
  proof: readonly Uint8Array[],
  firstHash: Uint8Array,
  secondHash: Uint8Array,
): boolean {
  if (firstSize === secondSize)
    return proof.length === 0 && Buffer.from(firstHash).equals(Buffer.from(secondHash));
  if (firstSize === 0 || firstSize > secondSize) return false;
  // 1. If consistency_path is an empty array, stop and fail the proof verification.
  if (proof.length === 0) return false;
  // 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
  const path = (firstSize & (firstSize - 1)) === 0 ? [firstHash, ...proof] : [...proof];
  // 3. Set fn to first - 1 and sn to second - 1.
  let fn = BigInt(firstSize - 1);
  let sn = BigInt(secondSize - 1);
  // 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
  while ((fn & 1n) === 1n) [fn, sn] = [fn >> 1n, sn >> 1n];
  // 5. Set both fr and sr to the first value in the consistency_path array.
  let fr: Uint8Array = path[0]!;
  let sr: Uint8Array = path[0]!;
  // 6. For each subsequent value c in the consistency_path array:
  for (const c of path.slice(1)) {
    // a. If sn is 0, then stop the iteration and fail the proof verification.
    if (sn === 0n) return false;
    // b. If LSB(fn) is set, or if fn is equal to sn, then:
    if ((fn & 1n) === 1n || fn === sn) {
      // i. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr).
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      // ii. If LSB(fn) is not set, then right-shift both fn and sn equally until either LSB(fn) is set
      //     or fn is 0.
      if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) [fn, sn] = [fn >> 1n, sn >> 1n];
    } else {
      // Otherwise: Set sr to HASH(0x01 || sr || c).
      sr = hashChildren(sr, c);
    }
    // c. Finally, right-shift both fn and sn one time.
    [fn, sn] = [fn >> 1n, sn >> 1n];
  }
  // 7. After completing iterating through the consistency_path array as described above, verify that the
  //    fr calculated is equal to the first_hash supplied, that the sr calculated is equal to the
  //    second_hash supplied, and that sn is 0.
  return (
    Buffer.from(fr).equals(Buffer.from(firstHash)) &&
    Buffer.from(sr).equals(Buffer.from(secondHash)) &&
    sn === 0n
  );
}

/**
 * C2SP signed-note: checks one signature line against a verifier key "<name>+<hex id>+<base64(0x01 ‖
 * key)>" and returns the note's text, or throws.
 */
export function openSignedNote(note: string, vkey: string): string {
  const [name, idHex, keyB64] = [
    vkey.slice(0, vkey.indexOf("+")),
    ...vkey.slice(vkey.indexOf("+") + 1).split(/\+(.*)/s),
  ];
  const keyBytes = Buffer.from(keyB64!, "base64");
  if (keyBytes[0] !== 1 || keyBytes.length !== 33) throw new Error("not an Ed25519 verifier key");
  const expectedId = sha256(Buffer.from(`${name}\n`), keyBytes)
    .subarray(0, 4)
    .toString("hex");
  if (expectedId !== idHex) throw new Error("key id mismatch");
  const cut = note.lastIndexOf("\n\n");
  const text = note.slice(0, cut + 1);
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), keyBytes.subarray(1)]);
  const key = createPublicKey({ key: spki, format: "der", type: "spki" });
  for (const line of note.slice(cut + 2).split("\n")) {
    const prefix = `\u2014 ${name} `;
    if (!line.startsWith(prefix)) continue;
    const sig = Buffer.from(line.slice(prefix.length), "base64");
    if (sig.subarray(0, 4).toString("hex") !== idHex) continue;
    if (verify(null, Buffer.from(text), key, sig.subarray(4))) return text;
    throw new Error("bad signature");
  }
  throw new Error("no signature by this key");
}
