import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { type DataKeyRing, DERIVED_KEY_ID } from "../config/data-keys.js";

/**
 * A column holding sealed values (DATA-1), with the column naming each row: the associated data binds a
 * value to its table, column and row. Capabilities (and extensions) declare theirs on their `Capability`,
 * so start-up checks the keys against them and `bulwark keys rotate-data` re-seals them.
 */
export interface SealedField {
  readonly table: string;
  readonly column: string;
  /** The column whose value names the row (its primary key). */
  readonly rowKey: string;
  /** A tenant table: reached through each organisation's scope (row-level security on PostgreSQL). */
  readonly tenant?: boolean;
  /**
   * The associated data that values sealed under the derived key `v1` before versioned keys used, where
   * it was not the table, column and row (second-factor seeds were bound to their owner's id alone):
   * still accepted when opening such a value, never used to seal.
   */
  readonly legacyAad?: (row: string) => string;
}

/**
 * Field encryption for secrets Bulwark must read back (a TOTP seed, a webhook secret, a private signing
 * key): AES-256-GCM with a random 96-bit IV, `table.column/row` as associated data (a value copied to
 * another row, column or table does not open), and the key's id in the envelope
 * (`<key id>.<iv>.<ciphertext>.<tag>`, base64url), so the current key seals and every key of the ring
 * opens: keys rotate without downtime (DATA-1).
 */
export class Sealer {
  constructor(readonly ring: DataKeyRing) {}

  seal(plaintext: string, field: SealedField, row: string): string {
    const id = this.ring.current;
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.ring.key(id)!, iv);
    cipher.setAAD(Buffer.from(`${field.table}.${field.column}/${row}`));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [
      id,
      iv.toString("base64url"),
      ct.toString("base64url"),
      cipher.getAuthTag().toString("base64url"),
    ].join(".");
  }

  /** Throws if the envelope was altered, belongs to another row, column or table, or its key is not held. */
  open(envelope: string, field: SealedField, row: string): string {
    const [id, iv, ct, tag, extra] = envelope.split(".");
    const key = id === undefined ? undefined : this.ring.key(id);
    if (!key || !iv || ct === undefined || !tag || extra !== undefined)
      throw new Error(
        key || id === undefined ? "sealed value: malformed" : `sealed value: key ${id} is not in DATA_KEYS`,
      );
    const attempt = (aad: string) => {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(aad));
      decipher.setAuthTag(Buffer.from(tag, "base64url"));
      return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString(
        "utf8",
      );
    };
    try {
      return attempt(`${field.table}.${field.column}/${row}`);
    } catch (err) {
      // Sealed before this binding existed (under the derived key only): its own binding, once.
      if (id === DERIVED_KEY_ID && field.legacyAad) return attempt(field.legacyAad(row));
      throw err;
    }
  }

  /** Whether `envelope` is sealed under the current key (rotation leaves it as it is). */
  isCurrent(envelope: string): boolean {
    return envelope.startsWith(`${this.ring.current}.`);
  }
}

/** The key id an envelope names. */
export function keyIdOf(envelope: string): string {
  return envelope.slice(0, Math.max(0, envelope.indexOf(".")));
}
