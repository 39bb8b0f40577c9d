/**
 * The one registry of error codes. Every error a client can see has a stable code from here; the one
 * error handler renders it. `docs/errors.md` documents each code, and a test fails if one is missing.
 */
export const ERRORS = {
  BAD_REQUEST: { status: 400, message: "The request is malformed." },
  VALIDATION_FAILED: { status: 400, message: "The request does not match the schema." },
  INVALID_JSON: { status: 400, message: "The body is not valid JSON." },
  JSON_TOO_DEEP: { status: 400, message: "The JSON body is nested too deeply." },
  FORBIDDEN_PROPERTY: {
    status: 400,
    message: "The body contains a forbidden property (__proto__ or constructor.prototype).",
  },
  HTTPS_REQUIRED: { status: 400, message: "Plain HTTP is not accepted; use HTTPS." },
  UNAUTHENTICATED: { status: 401, message: "Authentication is required." },
  INVALID_CREDENTIALS: { status: 401, message: "The email or password is incorrect." },
  MFA_CODE_INVALID: { status: 401, message: "The code is incorrect or was already used." },
  PASSKEY_REFUSED: {
    status: 401,
    message: "The passkey could not be verified (or the request expired); try again.",
  },
  EXTERNAL_SIGNIN_FAILED: {
    status: 400,
    message: "The sign-in with the external provider failed or expired; start again.",
  },
  EXTERNAL_EMAIL_UNVERIFIED: {
    status: 400,
    message: "The provider did not assert a verified email address, so no account is created or linked.",
  },
  EXTERNAL_IDENTITY_TAKEN: {
    status: 409,
    message: "This external identity is already linked to another account.",
  },
  MFA_CODE_REQUIRED: {
    status: 401,
    message: "This account has two-factor authentication: send its current code as well.",
  },
  TOKEN_INVALID: { status: 400, message: "This link is invalid, expired or already used." },
  REFRESH_TOKEN_INVALID: {
    status: 401,
    message: "This refresh token is invalid, expired, revoked or was already used; sign in again.",
  },
  FORBIDDEN: { status: 403, message: "You are not allowed to do this." },
  EMAIL_NOT_VERIFIED: { status: 403, message: "Confirm your email address first; we sent you a link." },
  SIGNUP_NOT_ALLOWED: { status: 403, message: "Sign-up is not open to this address." },
  MFA_ENROLMENT_REQUIRED: {
    status: 403,
    message:
      "This organisation requires two-factor authentication: turn it on in your account (an authenticator app, POST /v1/me/mfa/totp, or a passkey, POST /v1/me/passkeys) to continue.",
  },
  INVITATION_EMAIL_MISMATCH: {
    status: 403,
    message: "This invitation was sent to another email address; sign in as that address to accept it.",
  },
  IMPERSONATION_FORBIDDEN: {
    status: 403,
    message: "Not while impersonating: credentials and second factors belong to the user.",
  },
  API_KEY_ORIGIN_DENIED: { status: 403, message: "This API key is not allowed from this origin." },
  API_KEY_IP_DENIED: { status: 403, message: "This API key is not allowed from this address." },
  SCOPE_MISSING: { status: 403, message: "This credential lacks the scope the operation needs." },
  OWNER_REQUIRED: { status: 403, message: "Only an owner of the organisation can do this." },
  LAST_OWNER: { status: 409, message: "An organisation must keep at least one owner." },
  SLUG_TAKEN: { status: 409, message: "An organisation with this slug exists; choose another." },
  ACCOUNT_EXISTS: {
    status: 409,
    message: "This address already has an account: sign in, then accept the invitation.",
  },
  ADMIN_EXISTS: { status: 409, message: "A platform admin with this email exists." },
  ADMIN_TOTP_REQUIRED: {
    status: 403,
    message: "Platform admins need TOTP in production; create the admin with a second factor.",
  },
  MFA_ALREADY_ENABLED: {
    status: 409,
    message: "Two-factor authentication is already on; turn it off first.",
  },
  MFA_NOT_ENABLED: { status: 409, message: "Two-factor authentication is off." },
  MFA_ENROLMENT_NOT_STARTED: {
    status: 409,
    message: "There is no pending two-factor enrolment; start one first.",
  },
  CSRF_FAILED: { status: 403, message: "Missing or invalid CSRF token, or a cross-site request." },
  REAUTH_REQUIRED: {
    status: 403,
    message: "Confirm your password to continue: this operation needs a recent sign-in.",
  },
  CORS_ORIGIN_DENIED: {
    status: 403,
    message: "This origin may not make credentialed cross-origin requests.",
  },
  METRICS_FORBIDDEN: {
    status: 403,
    message: "Metrics need the metrics bearer token over HTTPS, or a direct loopback caller.",
  },
  NOT_FOUND: { status: 404, message: "Not found." },
  METHOD_NOT_ALLOWED: { status: 405, message: "This method is not allowed on this resource." },
  CONFLICT: { status: 409, message: "The request conflicts with the current state." },
  URI_TOO_LONG: { status: 414, message: "A path segment is longer than allowed." },
  LENGTH_REQUIRED: { status: 411, message: "Send a Content-Length header." },
  UPLOAD_LINK_INVALID: { status: 403, message: "This upload link is invalid or has expired." },
  UPLOAD_NOT_ALLOWED: { status: 422, message: "Files of this type or size are not accepted." },
  UPLOAD_UNKNOWN: { status: 422, message: "No such upload in this organisation." },
  UPLOAD_INCOMPLETE: {
    status: 409,
    message: "The file has not been uploaded yet, or does not match what was announced.",
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: "The request body is too large." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Unsupported Content-Type; send application/json." },
  UNPROCESSABLE: { status: 422, message: "The request is well-formed but cannot be processed." },
  RATE_LIMITED: { status: 429, message: "Too many requests; retry later." },
  QUOTA_EXCEEDED: { status: 429, message: "The organisation's monthly quota is used up." },
  INTERNAL: { status: 500, message: "An internal error occurred." },
  TENANT_CONTEXT_REQUIRED: { status: 500, message: "An internal error occurred." },
  REQUEST_HEADERS_TOO_LARGE: { status: 431, message: "The request headers are too large." },
  SERVICE_UNAVAILABLE: { status: 503, message: "A dependency is unavailable; retry later." },
} as const satisfies Record<string, { status: number; message: string }>;

/**
 * Error codes an extension adds, as a type: `declare module "bulwark" { interface ErrorCodes { SKU_TAKEN: true } }`,
 * with the status and message given in `Extension.errors` (registered at start-up).
 */
// biome-ignore lint/suspicious/noEmptyInterface: augmented by extensions.
export interface ErrorCodes {}
export type CoreErrorCode = keyof typeof ERRORS;
export type ErrorCode = CoreErrorCode | (keyof ErrorCodes & string);
export interface ErrorDefinition {
  readonly status: number;
  readonly message: string;
}

const registry = new Map<string, ErrorDefinition>(Object.entries(ERRORS));
const CODE_SHAPE = /^[A-Z][A-Z0-9_]{2,40}$/;

/**
 * Adds an extension's error codes. A code is defined once: redefining a core code, or another
 * extension's with a different status or message, is refused (a caller switches on the code).
 */
export function registerErrorCodes(codes: Readonly<Record<string, ErrorDefinition>>, owner: string): void {
  for (const [code, def] of Object.entries(codes)) {
    if (!CODE_SHAPE.test(code)) throw new Error(`${owner}: error code "${code}" must be UPPER_SNAKE_CASE`);
    if (!Number.isInteger(def.status) || def.status < 400 || def.status > 599)
      throw new Error(`${owner}: error code ${code} needs a 4xx or 5xx status`);
    const existing = registry.get(code);
    if (existing && (existing.status !== def.status || existing.message !== def.message))
      throw new Error(`${owner}: error code ${code} is already defined differently`);
    registry.set(code, Object.freeze({ status: def.status, message: def.message }));
  }
}

/** The definition of a code (core or registered); INTERNAL's for an unknown one. */
export function errorDefinition(code: string): ErrorDefinition {
  return registry.get(code) ?? ERRORS.INTERNAL;
}

/** A field-level problem, for validation errors: where it is, which field, and what is wrong. */
export interface FieldError {
  readonly in: "body" | "querystring" | "params" | "headers";
  readonly field: string;
  readonly message: string;
}

/** The single error class. Throw it anywhere; the error handler renders `{ error: { code, message, requestId, details? } }`. */
export class AppError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. Retry-After or Allow. */
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    const def = errorDefinition(code);
    super(message ?? def.message);
    this.name = "AppError";
    this.status = def.status;
  }
}

/** Body of every error response. */
export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; requestId: string; details?: unknown };
}
