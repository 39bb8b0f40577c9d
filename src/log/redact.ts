/**
 * Deep redaction of everything a log line carries (OBS-2): by key name at any depth (objects, arrays,
 * errors, nested request dumps like `{req:{body:{password}}}`), and, in any string anywhere including
 * the message, every value that looks like one of Bulwark's own secrets by its prefix (`bws_…` session,
 * `bwr_…` reset token, `bwk_…` API key, `whsec_…` webhook secret, …). The access line never carries
 * headers or bodies in the first place; this is the wall for error logs and for a developer's
 * `log.info(obj)`. Runs only when a line is written at an enabled level, never on the per-request path.
 */

export const CENSOR = "[REDACTED]";

/** Keys whose values are secrets, compared lower-case without `-` and `_`. */
const SECRET_KEYS = new Set(
  [
    "password",
    "newPassword",
    "currentPassword",
    "passwordHash",
    "token",
    "accessToken",
    "refreshToken",
    "challengeToken",
    "idToken",
    "csrfToken",
    "secret",
    "clientSecret",
    "apiKey",
    "xApiKey",
    "xCsrfToken",
    "cookie",
    "setCookie",
    "authorization",
    "proxyAuthorization",
    "backupCodes",
    "otpauthUri",
    "privateKey",
  ].map((k) => k.toLowerCase()),
);
const keyOf = (k: string): string => k.replace(/[-_]/g, "").toLowerCase();

/** Bulwark's secret formats (also right after an encoded `=`, inside an encoded `next`): `bw?_`, `whsec_`, `brt_` (refresh tokens) and `ocs_` (client secrets) followed by a long random part. */
const SECRET_VALUE = /(?:\b|(?<=%3[Dd]))(?:bw[a-z]|whsec|brt|ocs)_[A-Za-z0-9_-]{16,}/g;
/** Secret query parameters inside a URL string (mail links carry `?token=…`). */
const SECRET_PARAMS =
  /([?&](?:token|code|state|secret|password|key|api_key|access_token|refresh_token|id_token_hint|login_hint|client_secret|signature|x-amz-signature|x-amz-security-token)=)[^&#\s"]*/gi;
/** Credentials in a header-like string: `Bearer …`, `Basic …`. */
const AUTH_SCHEME = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g;

/** A string with every secret-looking value replaced. */
export function redactString(s: string): string {
  if (s.length < 8) return s;
  let out = s;
  if (out.includes("_")) out = out.replace(SECRET_VALUE, CENSOR);
  if (out.includes("=")) out = out.replace(SECRET_PARAMS, `$1${CENSOR}`);
  if (out.includes("Bearer") || out.includes("Basic")) out = out.replace(AUTH_SCHEME, `$1 ${CENSOR}`);
  return out;
}

const MAX_DEPTH = 12;

/**
 * A redacted copy of `value` (the input is never mutated: the caller may still use it). An error stays
 * an error of its own class (so serializers and `log.error(err)` still treat it as one) with its
 * message, stack and own fields redacted. Deeper than 12 levels, or a cycle, becomes a marker.
 */
export function redactDeep(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redactString(value);
  if (typeof value !== "object" || value === null) return value;
  if (depth > MAX_DEPTH) return "[DEPTH]";
  if (seen.has(value)) return "[CIRCULAR]";
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1, seen));
  if (Buffer.isBuffer(value) || value instanceof Date) return value;
  const proto = Object.getPrototypeOf(value);
  const isError = value instanceof Error;
  if (proto !== Object.prototype && proto !== null && !isError) return summary(value, depth, seen);
  const out: Record<string, unknown> = isError ? Object.create(proto) : {};
  if (isError) {
    Object.defineProperty(out, "message", { value: redactString(value.message), enumerable: false });
    if (value.stack)
      Object.defineProperty(out, "stack", { value: redactString(value.stack), enumerable: false });
    if (value.cause !== undefined) out.cause = redactDeep(value.cause, depth + 1, seen);
  }
  for (const [k, v] of Object.entries(value)) {
    // Some errors (the AWS SDK's) carry message and stack as own enumerable fields: copied above.
    if (isError && (k === "message" || k === "stack")) continue;
    out[k] =
      SECRET_KEYS.has(keyOf(k)) && v !== undefined && v !== null ? CENSOR : redactDeep(v, depth + 1, seen);
  }
  return out;
}

/**
 * A class instance (a request, a socket, a server): never walked, since it may reach the whole process.
 * `toJSON` when it has one; for a request, its method, URL and headers (redacted); otherwise its name.
 */
function summary(value: object, depth: number, seen: WeakSet<object>): unknown {
  const v = value as { toJSON?: () => unknown; method?: unknown; url?: unknown; headers?: unknown };
  if (typeof v.toJSON === "function") return redactDeep(v.toJSON(), depth + 1, seen);
  if (typeof v.method === "string" && typeof v.url === "string")
    return { method: v.method, url: redactUrl(v.url), headers: redactDeep(v.headers, depth + 1, seen) };
  return `[${value.constructor?.name ?? "object"}]`;
}

/**
 * A URL safe to log: secret query values replaced, and any of Bulwark's own secrets wherever they stand
 * (a key pasted into a path or an unexpected parameter). Cheap when there is neither.
 */
export function redactUrl(url: string): string {
  const q = url.includes("?") ? url.replace(SECRET_PARAMS, `$1${CENSOR}`) : url;
  return q.includes("_") ? q.replace(SECRET_VALUE, CENSOR) : q;
}
