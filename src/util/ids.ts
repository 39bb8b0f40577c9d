import { hash, randomBytes, randomFillSync, timingSafeEqual } from "node:crypto";

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const POOL = Buffer.alloc(4096);
let poolAt = POOL.length;

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
  // Random bytes drawn from a pool refilled 4 KB at a time: one CSPRNG call per 256 ids, not per id
  // (the call, not the bytes, is what costs: every audited write makes two ids).
  if (poolAt + 16 > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  let rand = "";
  for (let i = 0; i < 16; i++) rand += CROCKFORD[POOL[poolAt + i]! % 32];
  poolAt += 16;
  return `${prefix}_${time}${rand}`;
}

/**
 * The smallest id of `prefix` created at `time` or later: ids sort by creation time, so a time range is an
 * id range (an index range scan on the id) with no time column indexed.
 */
export function idFloor(prefix: string, time: number): string {
  return newId(prefix, Math.max(0, Math.floor(time))).slice(0, prefix.length + 11);
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
