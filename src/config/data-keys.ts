import { hkdfSync } from "node:crypto";

/** The id of the key derived from BULWARK_SECRET: what sealed every field before DATA_KEYS existed. */
export const DERIVED_KEY_ID = "v1";

/** Lower case: SQLite compares text case-sensitively with `=`, but some tools do not. */
const ID = /^[a-z0-9-]{1,16}$/;

/**
 * The field-encryption keys (DATA-1): which one seals from now on, and every one that may still open a
 * value. Key material never leaves this object: serialised (a config dump, a log line) it shows its ids.
 */
export class DataKeyRing {
  readonly #keys: ReadonlyMap<string, Buffer>;

  constructor(
    readonly current: string,
    keys: ReadonlyMap<string, Buffer>,
  ) {
    if (!keys.has(current)) throw new Error(`data key ${current} is not in the ring`);
    this.#keys = keys;
  }

  /** The key of `id`, or undefined when the ring does not hold it. */
  key(id: string): Buffer | undefined {
    return this.#keys.get(id);
  }

  get ids(): readonly string[] {
    return [...this.#keys.keys()];
  }

  toJSON() {
    return { current: this.current, ids: this.ids };
  }
}

/** The key BULWARK_SECRET derives for fields (HKDF, apart from every other use of that secret). */
export function derivedDataKey(secret: string): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, "bulwark", `field-encryption/${DERIVED_KEY_ID}`, 32));
}

/**
 * DATA_KEYS: `id:key,id:key,…`, each key 32 bytes in base64 (`openssl rand -base64 32`); the first seals,
 * every one opens. The entry `v1` (no key) names the key derived from BULWARK_SECRET, which sealed every
 * value before DATA_KEYS existed: list it (`k1:…,v1`) until `bulwark keys rotate-data` has re-sealed
 * them, or first (`v1,k1:…`) to let every node learn k1 before any seals with it. Unset, that derived
 * key is the only one (development and test); production requires DATA_KEYS, so the data key is not
 * the root secret unless listed. Entries are named by position in errors, never echoed: one may be a key.
 */
export function parseDataKeys(
  value: string | undefined,
  secret: string,
  production: boolean,
  problems: string[],
): DataKeyRing {
  const keys = new Map<string, Buffer>();
  let current: string | undefined;
  const derived = () => (secret ? derivedDataKey(secret) : Buffer.alloc(32));
  if (value === undefined || value.trim() === "") {
    if (production)
      problems.push(
        "DATA_KEYS: required in production (id:key, the key 32 random bytes in base64, e.g. `k1:$(openssl rand -base64 32)`); it encrypts second-factor seeds, webhook secrets and signing keys at rest",
      );
    keys.set(DERIVED_KEY_ID, derived());
    return new DataKeyRing(DERIVED_KEY_ID, keys);
  }
  value.split(",").forEach((raw, i) => {
    const entry = raw.trim();
    const at = entry.indexOf(":");
    const id = at < 0 ? entry : entry.slice(0, at);
    const where = `DATA_KEYS: entry ${i + 1}`;
    if (entry === DERIVED_KEY_ID) {
      if (!secret) problems.push(`${where} (v1) needs BULWARK_SECRET, the secret it is derived from`);
      keys.set(DERIVED_KEY_ID, derived());
      current ??= DERIVED_KEY_ID;
      return;
    }
    if (at < 0 || !ID.test(id) || id === DERIVED_KEY_ID) {
      problems.push(
        `${where} is not id:key (the id 1 to 16 lower-case letters, digits or -; v1 alone names the key derived from BULWARK_SECRET)`,
      );
      return;
    }
    const text = entry.slice(at + 1);
    const key = Buffer.from(text, "base64");
    if (key.length !== 32 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || key.every((b) => b === 0)) {
      problems.push(`${where} (${id}): the key must be 32 random bytes in base64`);
      return;
    }
    if (keys.has(id)) problems.push(`${where}: key ${id} is listed twice`);
    keys.set(id, key);
    current ??= id;
  });
  // With a problem reported, the ring is never used: give back one that constructs.
  if (!current) {
    current = DERIVED_KEY_ID;
    keys.set(DERIVED_KEY_ID, derived());
  }
  return new DataKeyRing(current, keys);
}
