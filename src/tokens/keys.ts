import { generateKeyPairSync } from "node:crypto";
import { calculateJwkThumbprint, importJWK, type JWK, type JWTPayload, jwtVerify, SignJWT } from "jose";
import type { Sealer } from "../crypto/seal.js";
import type { Database } from "../db/database.js";
import type { SigningKeyStore } from "./store.js";
import type { SigningKeyRow } from "./tables.js";
import { PRIVATE_JWK } from "./tables.js";

/**
 * ES256 (ECDSA on P-256 with SHA-256): every JOSE library and API gateway verifies it (EdDSA is still
 * missing from some), its keys and signatures are small (64-byte signatures), and it is FIPS 186-5
 * approved. A verifier is told exactly this algorithm, so `none`, HMAC-with-the-public-key and any
 * other `alg` are refused before a key is looked at.
 */
export const TOKEN_ALG = "ES256";

export interface KeySettings {
  /** How long a key signs before the next one takes over (and on `bulwark keys rotate`). */
  readonly rotationMs: number;
  /** How long a retired key stays published and verifying: the longest token it signed must outlive it. */
  readonly overlapMs: number;
}

interface LiveKey {
  readonly kid: string;
  readonly state: "next" | "current" | "retired";
  readonly publicJwk: JWK;
  readonly verifyKey: Key;
  readonly signKey: Key | undefined;
  /** The sealed private JWK, opened only for the OpenID provider's key set. */
  readonly sealed: string;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
}

type Key = Awaited<ReturnType<typeof importJWK>>;

/** Why a token was refused, in words a log can hold (never the token). */
export class TokenRefused extends Error {}

/**
 * The token signing keys (AUTH-9): a `next` key published before it signs (so relying parties that
 * cache the JWKS already know it), the `current` key signing, and retired keys kept published for the
 * overlap, so every token they signed verifies until it expires, and not one moment past the overlap.
 * Private keys are sealed at rest with AES-256-GCM bound to their row; every node reads the same keys.
 */
export class SigningKeys {
  private keys: readonly LiveKey[] = [];
  private reloaded = 0;
  private loading: Promise<void> | undefined;

  constructor(
    private readonly db: Database,
    private readonly store: SigningKeyStore,
    private readonly sealer: Sealer,
    private readonly settings: KeySettings,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  /** Makes sure a current and a next key exist (the first start creates both), then loads the keys. */
  async ensure(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await this.load(true);
      const current = this.keys.find((k) => k.state === "current");
      const next = this.keys.find((k) => k.state === "next");
      if (current && next) return;
      try {
        await this.db.global.transaction().execute(async (tx) => {
          if (!next) await this.store.insert(tx, await this.generate());
          if (!current) {
            const fresh =
              next?.kid ?? (await this.store.live(tx, this.clock())).find((k) => k.state === "next")!.kid;
            if (!(await this.store.promote(tx, undefined, fresh, this.clock())))
              throw new Error("another node promoted a key first");
            await this.store.insert(tx, await this.generate());
          }
        });
      } catch (err) {
        // Another node created them at the same moment (one key per state): read what it made.
        if (attempt >= 2) throw err;
      }
    }
  }

  /**
   * Retires the current key and lets the next one sign, with a new next key published (`bulwark keys
   * rotate`, and the schedule). A rotation another node made meanwhile wins; this one then does nothing.
   */
  async rotate(): Promise<{ kid: string } | undefined> {
    await this.load(true);
    const current = this.keys.find((k) => k.state === "current");
    const next = this.keys.find((k) => k.state === "next");
    if (!next) {
      await this.ensure();
      return this.rotate();
    }
    const now = this.clock();
    const done = await this.db.global
      .transaction()
      .execute(async (tx) => {
        if (!(await this.store.promote(tx, current?.kid, next.kid, now))) return false;
        await this.store.insert(tx, await this.generate());
        return true;
      })
      .catch(() => false);
    await this.load(true);
    return done ? { kid: next.kid } : undefined;
  }

  /** Rotates when the current key has signed for the rotation period (the scheduled job). */
  async rotateIfDue(): Promise<boolean> {
    await this.load(true);
    const current = this.keys.find((k) => k.state === "current");
    if (!current || (current.activatedAt ?? 0) + this.settings.rotationMs > this.clock()) return false;
    return (await this.rotate()) !== undefined;
  }

  /** The JWK Set relying parties verify with: next, current, and retired keys within the overlap. */
  jwks(): { keys: JWK[] } {
    const now = this.clock();
    return { keys: this.keys.filter((k) => this.published(k, now)).map((k) => k.publicJwk) };
  }

  /**
   * Every published key as a private JWK, the signing one first (the OpenID provider signs with the first
   * and verifies its own `id_token_hint`s with any): the same keys, so one JWKS serves both.
   */
  privateJwks(): JWK[] {
    const now = this.clock();
    const rank = { current: 0, next: 1, retired: 2 } as const;
    return this.keys
      .filter((k) => this.published(k, now))
      .sort((a, b) => rank[a.state] - rank[b.state])
      .map((k) => ({
        ...(JSON.parse(this.sealer.open(k.sealed, PRIVATE_JWK, k.kid)) as JWK),
        kid: k.kid,
        alg: TOKEN_ALG,
        use: "sig",
      }));
  }

  /** Names the published keys and which signs: it changes exactly when `privateJwks()` would. */
  version(): string {
    const now = this.clock();
    return this.keys
      .filter((k) => this.published(k, now))
      .map((k) => `${k.kid}:${k.state}`)
      .join(",");
  }

  /**
   * Re-reads the keys when they were read more than a minute ago: another node may have rotated, and a
   * retired key must not sign longer than a minute past its retirement, the margin its overlap has
   * beyond the token lifetime.
   */
  async fresh(): Promise<void> {
    if (this.clock() - this.reloaded >= 60_000) await this.load();
  }

  /** Signs claims with the current key: a compact JWS with the key's `kid` and the given `typ`. */
  async sign(claims: JWTPayload, typ: string): Promise<string> {
    await this.fresh();
    const current = this.keys.find((k) => k.state === "current");
    if (!current?.signKey) throw new Error("no current signing key: call ensure() at start-up");
    return new SignJWT(claims)
      .setProtectedHeader({ alg: TOKEN_ALG, kid: current.kid, typ })
      .sign(current.signKey);
  }

  /**
   * Verifies a token's signature (ES256 only, by a published key), issuer, audience and expiry at this
   * clock; throws TokenRefused otherwise. An unknown `kid` reloads the keys once a minute at most (a
   * rotation made by another node), never per token.
   */
  async verify(
    token: string,
    expect: { issuer: string; audience: string; typ?: string },
  ): Promise<JWTPayload> {
    const now = this.clock();
    try {
      const { payload } = await jwtVerify(
        token,
        async (header) => {
          let key = this.keys.find((k) => k.kid === header.kid);
          if (!key && now - this.reloaded >= 60_000) {
            await this.load();
            key = this.keys.find((k) => k.kid === header.kid);
          }
          if (!key || !this.published(key, now)) throw new TokenRefused("unknown or retired signing key");
          return key.verifyKey;
        },
        {
          algorithms: [TOKEN_ALG],
          issuer: expect.issuer,
          audience: expect.audience,
          ...(expect.typ ? { typ: expect.typ } : {}),
          currentDate: new Date(now),
          requiredClaims: ["exp", "iat", "sub"],
        },
      );
      return payload;
    } catch (err) {
      if (err instanceof TokenRefused) throw err;
      throw new TokenRefused((err as Error).message);
    }
  }

  /** Reads the live keys (every node: after a start, a rotation, or a token with an unknown kid). */
  async load(fresh = false): Promise<void> {
    // After a change of this node's (`fresh`), a read already under way may predate it: wait, read again.
    if (fresh && this.loading) await this.loading.catch(() => {});
    // One read at a time: a burst of tokens with unknown kids shares it rather than each starting one.
    this.loading ??= (async () => {
      const now = this.clock();
      const rows = await this.store.live(this.db.global, now - this.settings.overlapMs);
      this.keys = await Promise.all(rows.map((r) => this.live(r)));
      this.reloaded = now;
    })().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  /** Whether the key `kid` still verifies now (published: next, current, or retired within the overlap). */
  verifies(kid: string): boolean {
    const key = this.keys.find((k) => k.kid === kid);
    return key !== undefined && this.published(key, this.clock());
  }

  private published(k: LiveKey, now: number): boolean {
    return k.state !== "retired" || (k.retiredAt !== null && now < k.retiredAt + this.settings.overlapMs);
  }

  private async live(r: SigningKeyRow): Promise<LiveKey> {
    const publicJwk = JSON.parse(r.public_jwk) as JWK;
    return {
      kid: r.kid,
      state: r.state as LiveKey["state"],
      publicJwk,
      verifyKey: await importJWK(publicJwk, TOKEN_ALG),
      signKey:
        r.state === "current"
          ? await importJWK(JSON.parse(this.sealer.open(r.private_jwk, PRIVATE_JWK, r.kid)) as JWK, TOKEN_ALG)
          : undefined,
      activatedAt: r.activated_at,
      retiredAt: r.retired_at,
      sealed: r.private_jwk,
    };
  }

  private async generate(): Promise<SigningKeyRow> {
    const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const pub = publicKey.export({ format: "jwk" }) as JWK;
    const kid = await calculateJwkThumbprint(pub, "sha256");
    const publicJwk: JWK = {
      kty: pub.kty,
      crv: pub.crv,
      x: pub.x,
      y: pub.y,
      kid,
      alg: TOKEN_ALG,
      use: "sig",
    };
    return {
      kid,
      alg: TOKEN_ALG,
      state: "next",
      public_jwk: JSON.stringify(publicJwk),
      private_jwk: this.sealer.seal(JSON.stringify(privateKey.export({ format: "jwk" })), PRIVATE_JWK, kid),
      created_at: this.clock(),
      activated_at: null,
      retired_at: null,
    };
  }
}
