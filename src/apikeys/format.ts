import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `bwk_`: secret scanners (GitHub's, GitGuardian's, trufflehog's) match on a fixed, distinctive prefix. */
export const KEY_PREFIX = "bwk_";
/** 30 base62 characters: 178 bits, GitHub's token length; the display prefix reveals 8 of them (47 bits). */
const RANDOM_CHARS = 30;
/** CRC32 in base62 fits in 6 characters (62^6 > 2^32). */
const CHECKSUM_CHARS = 6;
const KEY_LENGTH = KEY_PREFIX.length + RANDOM_CHARS + CHECKSUM_CHARS;
const SHAPE = new RegExp(`^${KEY_PREFIX}[0-9A-Za-z]{${RANDOM_CHARS + CHECKSUM_CHARS}}$`);

function base62(n: number, width: number): string {
  let s = "";
  for (let i = 0; i < width; i++) {
    s = BASE62[n % 62] + s;
    n = Math.floor(n / 62);
  }
  return s;
}

/** Random base62 characters without modulo bias (bytes ≥ 248 are drawn again). */
function randomBase62(count: number): string {
  let s = "";
  while (s.length < count) {
    for (const b of randomBytes(count * 2)) {
      if (b >= 248) continue;
      s += BASE62[b % 62];
      if (s.length === count) break;
    }
  }
  return s;
}

const checksumOf = (body: string): string => base62(crc32(body), CHECKSUM_CHARS);

/** A new API key (KEY-7): `bwk_` + 30 random base62 characters + the CRC32 of both, in 6 base62 characters. */
export function newApiKey(): string {
  const body = KEY_PREFIX + randomBase62(RANDOM_CHARS);
  return body + checksumOf(body);
}

/**
 * Whether a presented value is shaped like a key and its checksum holds (KEY-7). Costs a CRC32 of 34 bytes:
 * a typo, a truncated paste or random noise is refused before any cache or storage lookup. The checksum
 * is not a secret (anyone can compute it); it is a filter for mistakes, not a defence against guessing,
 * which the 178 random bits are.
 */
export function isWellFormedKey(value: string): boolean {
  if (value.length !== KEY_LENGTH || !SHAPE.test(value)) return false;
  return checksumOf(value.slice(0, -CHECKSUM_CHARS)) === value.slice(-CHECKSUM_CHARS);
}

/** The 8 characters after `bwk_`: enough to recognise a key in a list, too few to help guess it. */
export const displayPrefix = (key: string): string => key.slice(KEY_PREFIX.length, KEY_PREFIX.length + 8);
