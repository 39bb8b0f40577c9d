import { hkdfSync } from "node:crypto";
import type { Config } from "../config/load.js";
import { type NoteSigner, noteSigner } from "./note.js";

/** The key name in every checkpoint signature: the server's host and `/audit`. */
export function auditKeyName(config: Pick<Config, "publicUrl">): string {
  return `${new URL(config.publicUrl).host}/audit`;
}

/** A log's checkpoint origin (C2SP tlog-checkpoint): `<host>/audit/<log id>`, unique per log and server. */
export function auditOrigin(config: Pick<Config, "publicUrl">, log: string): string {
  return `${auditKeyName(config)}/${log}`;
}

/**
 * The checkpoint signer (AUDIT-4): AUDIT_SIGNING_KEY when set, else an Ed25519 seed derived from
 * BULWARK_SECRET with HKDF-SHA256 (domain-separated, so it reveals nothing of the secret and no other
 * derived key), which every node of a cluster shares without more configuration.
 */
export function auditSigner(config: Pick<Config, "publicUrl" | "secret" | "audit">): NoteSigner {
  const seed = config.audit.signingKey
    ? Buffer.from(config.audit.signingKey, "base64")
    : Buffer.from(hkdfSync("sha256", config.secret, "bulwark", "audit checkpoint signing key v1", 32));
  return noteSigner(auditKeyName(config), seed);
}
