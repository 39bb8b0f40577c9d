import { createHash } from "node:crypto";
import { canonical } from "../audit/entry.js";
import type { NoteSigner } from "../audit/note.js";
import type { Control, SettingValue } from "./registry.js";

/**
 * POST-4: the posture, what the server claims as configured: each claim with its settings, and the
 * profile. Neither when it was rendered nor the live checks' outcomes are part of it, so the same
 * configuration always has the same posture, and its hash changes exactly when a claim does.
 */
export interface PostureState {
  readonly product: string;
  readonly profile: string;
  readonly controls: readonly {
    readonly id: string;
    readonly title: string;
    readonly claim: string;
    readonly settings: Readonly<Record<string, SettingValue>>;
  }[];
}

export function postureState(
  claims: readonly Control[],
  meta: { product: string; profile: string },
): PostureState {
  return {
    product: meta.product,
    profile: meta.profile,
    controls: claims.map((c) => ({ id: c.id, title: c.title, claim: c.claim, settings: c.settings ?? {} })),
  };
}

/** SHA-256 of the state's RFC 8785 (JCS) canonical JSON, hex. */
export const postureHash = (state: PostureState): string =>
  createHash("sha256").update(canonical(state)).digest("hex");

/** The JWS `typ` of a signed posture. */
export const POSTURE_JWS_TYPE = "bulwark-posture+jws";

/** What /security.json carries so a customer can check, offline, that this server signed this posture. */
export interface PostureSignature {
  readonly algorithm: "EdDSA";
  readonly keyId: string;
  /** The public key as a JWK (also at /.well-known/audit-keys.json, as the audit log's key). */
  readonly jwk: { readonly kty: "OKP"; readonly crv: "Ed25519"; readonly x: string; readonly kid: string };
  readonly hash: string;
  /** A compact JWS with a detached payload: the payload is the canonical JSON named in `signed`. */
  readonly jws: string;
  readonly signed: string;
}

export function signPosture(signer: NoteSigner, state: PostureState): PostureSignature {
  return {
    algorithm: "EdDSA",
    keyId: signer.keyId,
    jwk: { kty: "OKP", crv: "Ed25519", x: signer.publicKey.toString("base64url"), kid: signer.keyId },
    hash: postureHash(state),
    jws: signer.jws(canonical(state), POSTURE_JWS_TYPE),
    signed:
      "RFC 8785 canonical JSON of {product, profile, controls: controls[].{id, title, claim, settings}} of this document",
  };
}
