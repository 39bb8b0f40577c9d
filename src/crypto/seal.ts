import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * Field encryption for secrets Bulwark must read back (a TOTP seed): AES-256-GCM with a random 96-bit
 * IV, the owner's id as associated data (a ciphertext copied to another row does not decrypt), and a key
 * id in the envelope (`v1.iv.ciphertext.tag`) so keys can rotate later (DATA-1). The key is derived from
 * BULWARK_SECRET with HKDF, separately from every other use of that secret.
 */
export class Sealer {
  private readonly key: Buffer;

  constructor(
    rootSecret: string,
    private readonly keyId = "v1",
  ) {
    this.key = Buffer.from(hkdfSync("sha256", rootSecret, "bulwark", `field-encryption/${keyId}`, 32));
  }

  seal(plaintext: string, aad: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(aad));
    const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return [
      this.keyId,
      iv.toString("base64url"),
      ct.toString("base64url"),
      cipher.getAuthTag().toString("base64url"),
    ].join(".");
  }

  /** Throws if the envelope was altered, belongs to another row (aad), or was sealed under another key. */
  open(envelope: string, aad: string): string {
    const [keyId, iv, ct, tag] = envelope.split(".");
    if (keyId !== this.keyId || !iv || ct === undefined || !tag)
      throw new Error("sealed value: unknown key or malformed");
    const decipher = createDecipheriv("aes-256-gcm", this.key, Buffer.from(iv, "base64url"));
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(Buffer.from(tag, "base64url"));
    return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
  }
}
