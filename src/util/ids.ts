import { hash, randomBytes, timingSafeEqual } from "node:crypto";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * A type-prefixed, time-ordered id (`usr_01JD…`): 48 bits of milliseconds then 80 random bits, in
 * Crockford base32 (a ULID). Sorting by id sorts by creation time, which keeps B-tree inserts local.
 */
export function newId(prefix: string, now = Date.now()): string {
  let time = "";
  let t = now;
  for (let i = 0; i < 10; i++) {
    time = CROCKFORD[t % 32] + time;
    t = Math.floor(t / 32);
  }
  const bytes = randomBytes(16);
  let rand = "";
  for (let i = 0; i < 16; i++) rand += CROCKFORD[bytes[i]! % 32];
  return `${prefix}_${time}${rand}`;
}

/** A secret token: prefix + 32 random bytes (256 bits) in base64url. Only its SHA-256 is ever stored. */
export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString("base64url")}`;
}

/** SHA-256 hex of a secret: what the database keeps, so a database leak reveals no usable token. */
export function sha256(value: string): string {
  // One-shot hash (no Hash object): this runs on every API-key and session request.
  return hash("sha256", value, "hex");
}

/** Constant-time string comparison, so response timing reveals nothing about how much of a secret matched. */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}
