import { ApiError, type FieldError } from "./api.js";

/**
 * What the API's error codes mean to a person. The API's own messages are written for developers (some
 * name endpoints); the console shows these instead, and falls back to the API's message for a code it
 * does not know (an extension's).
 */
const BY_CODE: Record<string, string> = {
  INVALID_CREDENTIALS: "That email and password don't match an account. Check both and try again.",
  MFA_CODE_INVALID:
    "That code is wrong or was already used. Enter the current code from your app, or a backup code.",
  TOKEN_INVALID: "This link is invalid, has expired or was already used. Ask for a new one.",
  EMAIL_NOT_VERIFIED: "Confirm your email address first: open the link we sent you.",
  SIGNUP_NOT_ALLOWED: "Sign-up is not open to this address. Ask an administrator for an invitation.",
  MFA_ENROLMENT_REQUIRED:
    "This organisation requires two-factor authentication. Turn it on under Account, then come back.",
  INVITATION_EMAIL_MISMATCH:
    "This invitation was sent to another address. Sign out, then sign in as the invited address.",
  IMPERSONATION_FORBIDDEN: "Not while impersonating: this belongs to the user alone.",
  OWNER_REQUIRED: "Only an owner of the organisation can do this.",
  LAST_OWNER: "An organisation needs at least one owner. Make someone else an owner first.",
  SLUG_TAKEN: "That short name is taken. Choose another.",
  ACCOUNT_EXISTS: "This address already has an account. Sign in first, then accept the invitation.",
  MFA_ALREADY_ENABLED: "Two-factor authentication is already on.",
  MFA_NOT_ENABLED: "Two-factor authentication is off.",
  MFA_ENROLMENT_NOT_STARTED: "Start the set-up again: the QR code expired.",
  CSRF_FAILED: "Your session changed in another tab. Reload the page and try again.",
  REAUTH_REQUIRED: "Confirm your password first: this needs a recent sign-in.",
  UNAUTHENTICATED: "You are signed out. Sign in again.",
  FORBIDDEN: "You don't have permission to do this.",
  NOT_FOUND: "This no longer exists, or you don't have access to it.",
  NETWORK: "The server could not be reached. Check your connection and try again.",
  SERVICE_UNAVAILABLE: "The service is briefly unavailable. Try again in a moment.",
  API_KEY_ORIGIN_DENIED: "This API key may not be used from this website: it is limited to other origins.",
  API_KEY_IP_DENIED: "This API key may not be used from this network address: it is limited to other IPs.",
  SCOPE_MISSING: "This API key lacks the scope this needs. Create a key with that scope.",
  QUOTA_EXCEEDED: "The organisation's monthly quota is used up.",
  RATE_LIMITED: "Too many attempts. Try again later.",
  EXTERNAL_SIGNIN_FAILED: "The sign-in with that provider did not complete or expired. Start again.",
  EXTERNAL_EMAIL_UNVERIFIED:
    "That provider did not confirm your email address, so we cannot use it. Verify it there, or sign up with a password.",
  EXTERNAL_IDENTITY_TAKEN: "That sign-in is already linked to another account.",
  INTERNAL: "Something went wrong on our side. Try again; if it persists, tell your administrator.",
};

const FIELD_WORDS: Record<string, string> = {
  email: "Enter a valid email address.",
  slug: "Use lower-case letters, digits and dashes.",
  sku: "Use letters, digits, dots, dashes and underscores.",
  code: "Enter the 6-digit code, or a backup code.",
  expiresAt: "Enter a valid date.",
};

/** Fields holding a list of values (one per line in the form), whose messages start with the bad value. */
const VALUE_LISTS = new Set(["allowedOrigins", "allowedIps"]);

/** Waiting time in words: "in 45 seconds", "in 3 minutes", "in 5 hours", "in 12 days". */
export function inWords(seconds: number): string {
  if (seconds < 90) return `in ${seconds} second${seconds === 1 ? "" : "s"}`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 90) return `in ${minutes} minutes`;
  const hours = Math.ceil(minutes / 60);
  if (hours < 48) return `in ${hours} hours`;
  return `in ${Math.ceil(hours / 24)} days`;
}

/**
 * The sentence to show for a failure. A 429 always says when to try again (from Retry-After): a spent
 * quota in its own words, any other 429 (RATE_LIMITED, or a code this console does not know) as too many
 * attempts.
 */
export function describe(err: unknown): string {
  if (!(err instanceof ApiError)) return BY_CODE.INTERNAL as string;
  const wait = err.retryAfterSeconds ? inWords(err.retryAfterSeconds) : "later";
  if (err.code === "QUOTA_EXCEEDED") return `${BY_CODE.QUOTA_EXCEEDED} Try again ${wait}.`;
  if (err.status === 429) return `Too many attempts. Try again ${wait}.`;
  if (err.code === "SERVICE_UNAVAILABLE" && err.retryAfterSeconds)
    return `The service is briefly unavailable. Try again ${wait}.`;
  if (err.code === "VALIDATION_FAILED" && err.fields.length) return "Check the highlighted fields.";
  return BY_CODE[err.code] ?? err.message;
}

/** A field error in words: the policy's own sentences are kept, schema jargon is replaced. */
export function fieldMessage(f: FieldError): string {
  const leaf = f.field.split(".").pop() ?? f.field;
  if (/^must (match pattern|match format)/.test(f.message))
    return FIELD_WORDS[leaf] ?? "This value has the wrong format.";
  if (/^must NOT have fewer than/.test(f.message)) return "This is too short.";
  if (/^must NOT have more than/.test(f.message)) return "This is too long.";
  if (/^must have required property/.test(f.message) || f.message === "is required")
    return "This is required.";
  if (/^must be (<=|>=|integer|number)/.test(f.message)) return "Enter a whole number in range.";
  // A list of values typed one per line ("10.0.0.x is not an IPv4 or IPv6 address or CIDR"): the
  // entry is quoted as typed, never capitalised.
  const entry = VALUE_LISTS.has(f.field.split(".")[0] ?? "")
    ? /^(\S+) (is not .*?)\.?$/.exec(f.message)
    : null;
  if (entry) return `“${entry[1]}” ${entry[2]}.`;
  return f.message.charAt(0).toUpperCase() + f.message.slice(1) + (/[.!?]$/.test(f.message) ? "" : ".");
}

/**
 * The sentence for an error code the server put in a page's address (`/?error=CODE` after an external
 * sign-in): only known codes are shown, so a crafted link cannot put words on the page.
 */
export function codeInWords(code: string | null): string {
  if (!code) return "";
  return BY_CODE[code] ?? (BY_CODE.EXTERNAL_SIGNIN_FAILED as string);
}
