import { hkdfSync } from "node:crypto";

/** The id of the key derived from BULWARK_SECRET: what sealed every field before DATA_KEYS existed. */
export const DERIVED_KEY_ID = "v1";

const ID = /^[A-Za-z0-9-]{1,16}$/;

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
 * DATA_KEYS: `id:key,id:key,…`, each key 32 bytes in base64 or base64url (`openssl rand -base64 32`); the
 * first seals, every one opens. The key derived from BULWARK_SECRET (id `v1`) stays in the ring so values
 * sealed before DATA_KEYS was set still open until `bulwark keys rotate-data` has re-sealed them; unset,
 * it is the only key (development and test; production requires DATA_KEYS, so the data key is not the
 * root secret and each can change without the other).
 */
export function parseDataKeys(
  value: string | undefined,
  secret: string,
  production: boolean,
  problems: string[],
): DataKeyRing {
  const keys = new Map<string, Buffer>();
  let current: string | undefined;
  if (value === undefined || value.trim() === "") {
    if (production)
      problems.push(
        "DATA_KEYS: required in production (id:key, the key 32 random bytes in base64, e.g. `k1:$(openssl rand -base64 32)`); it encrypts second-factor seeds, webhook secrets and signing keys at rest",
      );
  } else {
    for (const entry of value.split(",").map((e) => e.trim())) {
      const at = entry.indexOf(":");
      const id = at < 0 ? entry : entry.slice(0, at);
      const key = Buffer.from(at < 0 ? "" : entry.slice(at + 1), "base64");
      if (!ID.test(id) || id === DERIVED_KEY_ID) {
        problems.push(
          `DATA_KEYS: "${id}" is not a key id (1 to 16 letters, digits or -; ${DERIVED_KEY_ID} is reserved for the key derived from BULWARK_SECRET)`,
        );
        continue;
      }
      if (key.length !== 32) {
        problems.push(`DATA_KEYS: key ${id} must be 32 bytes in base64 (got ${key.length})`);
        continue;
      }
      if (keys.has(id)) problems.push(`DATA_KEYS: key ${id} is listed twice`);
      keys.set(id, key);
      current ??= id;
    }
  }
  if (secret) keys.set(DERIVED_KEY_ID, derivedDataKey(secret));
  current ??= DERIVED_KEY_ID;
  // With a problem reported, the ring is never used: give back one that constructs.
  if (!keys.has(current)) keys.set(current, Buffer.alloc(32));
  return new DataKeyRing(current, keys);
}
