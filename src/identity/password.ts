import { hash, verify } from "@node-rs/argon2";
import bcrypt from "bcryptjs";

/** `Algorithm.Argon2id` of @node-rs/argon2 (a const enum, which isolated modules cannot import). */
const ARGON2ID = 2;

export interface Argon2Params {
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
}

/**
 * Password hashing (AUTH-1): argon2id with per-hash random salts (the library generates them and stores
 * them in the PHC string) and the configured cost. bcrypt hashes imported from another system still
 * verify, and `needsRehash` tells the caller to replace them (or argon2 hashes of a lower cost) at the next
 * successful login, when the plaintext is in hand. The plaintext is never stored, logged or returned.
 */
export class PasswordHasher {
  private readonly options;
  private readonly paramsTag: string;
  /** Hash of a random password: verified against when the account does not exist, so timing matches. */
  private dummy: Promise<string> | undefined;

  constructor(params: Argon2Params) {
    this.options = {
      algorithm: ARGON2ID,
      memoryCost: params.memoryKiB,
      timeCost: params.iterations,
      parallelism: params.parallelism,
    };
    this.paramsTag = `m=${params.memoryKiB},t=${params.iterations},p=${params.parallelism}`;
  }

  hash(password: string): Promise<string> {
    return hash(password, this.options);
  }

  /** True when `password` matches `stored` (argon2id or bcrypt). Never throws on a malformed hash. */
  async verify(stored: string | null, password: string): Promise<boolean> {
    if (!stored) {
      await this.verifyDummy(password);
      return false;
    }
    try {
      if (stored.startsWith("$2")) return await bcrypt.compare(password, stored);
      return await verify(stored, password);
    } catch {
      return false;
    }
  }

  /** Spends the same work as a real verification, for unknown accounts (AUTH-4: no timing oracle). */
  async verifyDummy(password: string): Promise<void> {
    this.dummy ??= this.hash(`dummy-${Math.random()}-${Date.now()}`);
    await verify(await this.dummy, password).catch(() => false);
  }

  /** Whether a verified hash should be replaced: bcrypt, or argon2 with other parameters than configured. */
  needsRehash(stored: string): boolean {
    return !stored.startsWith("$argon2id$") || !stored.includes(this.paramsTag);
  }
}
