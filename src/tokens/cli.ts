import type { Config } from "../config/load.js";
import { Sealer } from "../crypto/seal.js";
import type { Database } from "../db/database.js";
import { SigningKeys } from "./keys.js";
import { SigningKeyStore } from "./store.js";

/** The signing keys as a server of this configuration holds them (for commands run beside it). */
export function signingKeys(db: Database, config: Config, clock?: () => number): SigningKeys {
  return new SigningKeys(
    db,
    new SigningKeyStore(),
    new Sealer(config.dataKeys),
    // A retired key verifies while the tokens it signed can: their lifetime, plus a minute of skew.
    { rotationMs: config.tokens.keyRotationMs, overlapMs: config.tokens.accessTtlMs + 60_000 },
    clock,
  );
}

/**
 * `bulwark keys rotate` (AUTH-9): the next key, already published, signs from now on; the previous one
 * stays published for the overlap. Servers pick the change up at their next check (10 min at most) or
 * at the first token signed with a key they do not know; until then they sign with the retired key,
 * which verifies through the overlap.
 */
export async function rotateKeys(db: Database, config: Config): Promise<string> {
  const keys = signingKeys(db, config);
  await keys.ensure();
  const rotated = await keys.rotate();
  if (!rotated) return "Another node rotated the keys at the same moment; nothing more was done.\n";
  const next = keys.jwks().keys.at(-1)?.kid;
  return `Rotated: ${rotated.kid} signs access tokens now; ${next} is published as the next key.\n`;
}
