import { createHash } from "node:crypto";
import { dictionary } from "@zxcvbn-ts/language-common";
import type { Logger } from "../log/logger.js";

/**
 * The offline list of common breached passwords (AUTH-2): the zxcvbn-ts "passwords-common" dictionary,
 * about 49,000 entries taken from public breach corpora, compared case-insensitively. Loaded once.
 */
let common: ReadonlySet<string> | undefined;
export function isCommonPassword(password: string): boolean {
  common ??= new Set((dictionary["passwords-common"] as string[]).map((p) => p.toLowerCase()));
  return common.has(password.toLowerCase());
}

/**
 * The HaveIBeenPwned k-anonymity range protocol: only the first five hex characters of the password's
 * SHA-1 leave the server; the endpoint answers with every suffix it knows under that prefix, padded. A
 * slow or failing endpoint never blocks a signup: it fails open, with a warning log line.
 */
export class RangeChecker {
  constructor(
    private readonly endpoint: string,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** The number of breaches the password appears in (0 if none), or null if the check could not run. */
  async count(password: string): Promise<number | null> {
    const digest = createHash("sha1").update(password).digest("hex").toUpperCase();
    const prefix = digest.slice(0, 5);
    const suffix = digest.slice(5);
    try {
      const res = await fetch(`${this.endpoint.replace(/\/$/, "")}/${prefix}`, {
        headers: { "add-padding": "true", "user-agent": "bulwark" },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) throw new Error(`status ${res.status}`);
      for (const line of (await res.text()).split("\n")) {
        const [s, n] = line.trim().split(":");
        if (s === suffix) return Number(n) || 0;
      }
      return 0;
    } catch (err) {
      this.log.warn(
        { reason: (err as Error).message },
        "breached-password range check unavailable; allowing (fail open)",
      );
      return null;
    }
  }
}
