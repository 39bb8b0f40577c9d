import { createHmac, randomBytes } from "node:crypto";

/** Standard Webhooks secrets: `whsec_` + the base64 of the HMAC key (spec 1.0: 24 to 64 bytes; ours 32). */
export const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;

/** A new endpoint secret, `whsec_` + 32 random bytes in base64 (256 bits). */
export function newWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString("base64")}`;
}

/** The HMAC key inside a `whsec_…` secret. Throws on anything else, so a mangled secret never signs. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error("webhook secret: not a whsec_ secret");
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
  if (key.length < 24 || key.length > 64) throw new Error("webhook secret: key must be 24 to 64 bytes");
  return key;
}

/**
 * The `v1,` signature of Standard Webhooks 1.0 (HOOK-1): base64 HMAC-SHA256 of `id.timestamp.body` under
 * the secret's key. `timestamp` is whole seconds since the epoch, as sent in `webhook-timestamp`.
 */
export function signV1(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret)).update(`${id}.${timestamp}.`).update(body);
  return `v1,${mac.digest("base64")}`;
}

/**
 * The legacy pair some receivers expect (HOOK-1, optional per endpoint): `X-Webhook-Timestamp` (seconds)
 * and `X-Webhook-Signature: sha256=<hex HMAC-SHA256 of timestamp.body>`, under the same key.
 */
export function signLegacy(secret: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret)).update(`${timestamp}.`).update(body);
  return `sha256=${mac.digest("hex")}`;
}

/** Everything a delivery is signed with: the current secret, and the previous one during its grace. */
export interface SigningSecrets {
  readonly current: string;
  readonly previous?: string | undefined;
}

/**
 * The headers of one delivery attempt: `webhook-id` (the message id, the same on every retry),
 * `webhook-timestamp` (this attempt's), and `webhook-signature` with one `v1,` signature per secret in
 * use (current first): a receiver holding either secret verifies it (HOOK-2).
 */
export function signedHeaders(
  secrets: SigningSecrets,
  id: string,
  timestamp: number,
  body: string,
  legacy = false,
): Record<string, string> {
  const signatures = [signV1(secrets.current, id, timestamp, body)];
  if (secrets.previous) signatures.push(signV1(secrets.previous, id, timestamp, body));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
  if (legacy) {
    headers["x-webhook-timestamp"] = String(timestamp);
    headers["x-webhook-signature"] = signLegacy(secrets.current, timestamp, body);
  }
  return headers;
}
