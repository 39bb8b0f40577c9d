import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Values seen in tutorials, .env examples and framework defaults: production must never run on one of them. */
const KNOWN_DEFAULTS = new Set([
  "secret",
  "changeme",
  "change-me",
  "changeit",
  "password",
  "default",
  "development",
  "test",
  "bulwark",
  "your-secret-here",
  "your_secret_here",
  "supersecret",
  "super-secret",
  "keyboard cat",
  "mysecret",
  "s3cr3t",
  "replace-me",
  "please-change-me",
  "insecure",
  "example",
]);

/**
 * Why a secret is too weak for production, or null when it is acceptable. Length alone is not enough: a
 * 40-character run of one letter, or a default padded with digits, is as guessable as the default.
 */
export function weakSecretReason(value: string, minLength = 32): string | null {
  const lower = value.toLowerCase();
  if (KNOWN_DEFAULTS.has(lower) || [...KNOWN_DEFAULTS].some((d) => lower.startsWith(d) && d.length >= 6)) {
    return "is a known default value";
  }
  if (value.length < minLength) return `must be at least ${minLength} characters (got ${value.length})`;
  if (new Set(value).size < 10) return "has too few distinct characters to be random";
  return null;
}

/**
 * The development profile needs a root secret but must stay zero set-up, so it generates a random one
 * once and keeps it (mode 0600) in the data directory. A fixed built-in default would be a secret every
 * attacker knows.
 */
export function developmentSecret(dataDir: string): string {
  const file = join(dataDir, ".dev-secret");
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  mkdirSync(dataDir, { recursive: true });
  const value = randomBytes(32).toString("base64url");
  writeFileSync(file, `${value}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return value;
}

/**
 * Redacted form for summaries and logs: whether it is set and how long, never a character of it (even a
 * prefix narrows a short secret's search space and identifies it across logs).
 */
export function redactSecret(value: string | undefined): string {
  if (!value) return "(unset)";
  return `set (${value.length} chars)`;
}
