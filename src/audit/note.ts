import { createHash, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from "node:crypto";

/**
 * C2SP signed notes (https://c2sp.org/signed-note) with Ed25519 keys, and the checkpoint body of
 * C2SP tlog-checkpoint (https://c2sp.org/tlog-checkpoint). A note is UTF-8 text ending in a newline,
 * a blank line, then one line per signature: "— <key name> <base64(key id ‖ signature)>". The key id
 * is the first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key), 0x01 naming Ed25519. A verifier
 * key is written "<name>+<key id in hex>+<base64(0x01 ‖ public key)>".
 */
const ED25519 = 0x01;
const DASH = "\u2014";
/** The DER prefix of an Ed25519 SubjectPublicKeyInfo, before the 32 raw key bytes. */
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

export interface NoteSigner {
  readonly name: string;
  /** The 4-byte key id, as 8 hex digits. */
  readonly keyId: string;
  readonly publicKey: Buffer;
  /** The verifier key string to publish. */
  readonly vkey: string;
  sign(text: string): string;
  /**
   * A compact JWS (RFC 7515, alg EdDSA, kid = the key id, `typ` naming what is signed, so one use's
   * signature is never taken for another's) over `payload`, detached (RFC 7515 Appendix F):
   * `<protected>..<signature>`. Its signing input contains no newline, so it can never be a note's text:
   * one key signs both without a signature of one ever verifying as the other.
   */
  jws(payload: string, typ: string): string;
}

function keyIdOf(name: string, publicKey: Buffer): Buffer {
  return createHash("sha256")
    .update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.from([ED25519]), publicKey]))
    .digest()
    .subarray(0, 4);
}

function checkName(name: string): void {
  if (!name || /[\s+]/.test(name))
    throw new Error(`note key name "${name}" must be non-empty, without spaces or +`);
}

/** A signer from a 32-byte Ed25519 seed. */
export function noteSigner(name: string, seed: Buffer): NoteSigner {
  checkName(name);
  if (seed.length !== 32) throw new Error("an Ed25519 seed is 32 bytes");
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey(key).export({ format: "der", type: "spki" }).subarray(SPKI_PREFIX.length);
  const id = keyIdOf(name, publicKey);
  const vkey = `${name}+${id.toString("hex")}+${Buffer.concat([Buffer.from([ED25519]), publicKey]).toString("base64")}`;
  return {
    name,
    keyId: id.toString("hex"),
    publicKey,
    vkey,
    sign(text: string): string {
      if (!text.endsWith("\n")) throw new Error("a note's text ends with a newline");
      const sig = sign(null, Buffer.from(text), key);
      return `${text}\n${DASH} ${name} ${Buffer.concat([id, sig]).toString("base64")}\n`;
    },
    jws(payload: string, typ: string): string {
      const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: id.toString("hex"), typ })).toString(
        "base64url",
      );
      const input = `${header}.${Buffer.from(payload).toString("base64url")}`;
      return `${header}..${sign(null, Buffer.from(input), key).toString("base64url")}`;
    },
  };
}

export interface Verifier {
  readonly name: string;
  readonly keyId: string;
  readonly key: KeyObject;
}

/** Parses a verifier key string; throws on anything malformed or whose id does not match its key. */
export function parseVkey(vkey: string): Verifier {
  const first = vkey.indexOf("+");
  const second = vkey.indexOf("+", first + 1);
  if (first <= 0 || second < 0) throw new Error("verifier key: expected name+id+key");
  const name = vkey.slice(0, first);
  const idHex = vkey.slice(first + 1, second);
  const raw = Buffer.from(vkey.slice(second + 1), "base64");
  checkName(name);
  if (!/^[0-9a-f]{8}$/.test(idHex) || raw.length !== 33 || raw[0] !== ED25519)
    throw new Error("verifier key: not an Ed25519 key");
  const publicKey = raw.subarray(1);
  if (keyIdOf(name, publicKey).toString("hex") !== idHex)
    throw new Error("verifier key: key id does not match");
  const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
  return { name, keyId: idHex, key };
}

/**
 * Opens a note: its text when at least one signature is by a known key and verifies, with the ids of the
 * keys that verified. Signatures by unknown keys are ignored; a known key's bad signature is an error.
 */
export function openNote(note: string, verifiers: readonly Verifier[]): { text: string; keyIds: string[] } {
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) throw new Error("note: no signature block");
  const text = note.slice(0, split + 1);
  const keyIds: string[] = [];
  for (const line of note.slice(split + 2, -1).split("\n")) {
    const m = new RegExp(`^${DASH} (\\S+) ([A-Za-z0-9+/=]+)$`).exec(line);
    if (!m) throw new Error("note: malformed signature line");
    const blob = Buffer.from(m[2]!, "base64");
    if (blob.length < 5) throw new Error("note: signature too short");
    const id = blob.subarray(0, 4).toString("hex");
    const v = verifiers.find((x) => x.name === m[1] && x.keyId === id);
    if (!v) continue;
    if (!verify(null, Buffer.from(text), v.key, blob.subarray(4)))
      throw new Error(`note: bad signature by ${v.name}`);
    keyIds.push(id);
  }
  if (keyIds.length === 0) throw new Error("note: no signature by a known key");
  return { text, keyIds };
}

/** The body of a tlog-checkpoint: origin, tree size, base64 root hash, each on its own line. */
export function checkpointText(origin: string, size: number, root: Buffer): string {
  return `${origin}\n${size}\n${root.toString("base64")}\n`;
}

export function parseCheckpoint(text: string): { origin: string; size: number; root: Buffer } {
  const [origin, size, root] = text.split("\n");
  if (!origin || !size || !/^(0|[1-9]\d{0,15})$/.test(size) || !root)
    throw new Error("checkpoint: malformed");
  const hash = Buffer.from(root, "base64");
  if (hash.length !== 32) throw new Error("checkpoint: root hash is not 32 bytes");
  return { origin, size: Number(size), root: hash };
}
