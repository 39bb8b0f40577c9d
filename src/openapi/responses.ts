import type { EffectiveSecurity } from "../auth/requirements.js";

/** The error envelope every 4xx and 5xx carries (docs/errors.md lists the codes). */
export const ERROR_ENVELOPE = {
  type: "object",
  required: ["error"],
  properties: {
    error: {
      type: "object",
      required: ["code", "message", "requestId"],
      properties: {
        code: { type: "string", description: "Stable, machine-readable code (docs/errors.md)." },
        message: { type: "string", description: "For people; may change." },
        requestId: { type: "string", description: "Also in the X-Request-Id header and every log line." },
        details: { description: "Field errors for VALIDATION_FAILED: `[{ in, field, message }]`." },
      },
    },
  },
} as const;

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const COOKIE_KINDS = new Set(["user", "admin"]);

/**
 * The error statuses an operation can answer, each with the codes behind it, derived from the facts the
 * pipeline enforces (its row of the route table) and from its schemas, plus the codes its handler
 * raises (`extra`). A test compares them with every status the hostile sweep observed.
 */
export function errorStatuses(
  method: string,
  url: string,
  sec: EffectiveSecurity,
  hasBody: boolean,
  httpsPolicy: "reject" | "redirect" | "off",
  extra: Readonly<Record<number, readonly string[]>> = {},
): Map<number, Set<string>> {
  const out = new Map<number, Set<string>>();
  const add = (status: number, ...codes: string[]) => {
    const set = out.get(status) ?? new Set<string>();
    for (const c of codes) set.add(c);
    out.set(status, set);
  };
  add(400, "VALIDATION_FAILED");
  // Plain HTTP where HTTPS is required, under HTTPS_POLICY=reject (redirect answers 308: transform.ts).
  if (httpsPolicy === "reject" && sec.https === "required") add(400, "HTTPS_REQUIRED");
  if (hasBody) {
    // BAD_REQUEST: a Content-Length that is not a number.
    add(400, "INVALID_JSON", "JSON_TOO_DEEP", "FORBIDDEN_PROPERTY", "BAD_REQUEST");
    add(413, "PAYLOAD_TOO_LARGE");
    add(415, "UNSUPPORTED_MEDIA_TYPE");
  }
  // A path parameter the router cannot decode (BAD_REQUEST) or longer than it accepts (URI_TOO_LONG).
  if (url.includes(":")) {
    add(400, "BAD_REQUEST");
    add(414, "URI_TOO_LONG");
  }
  // A credentialed route refuses a cross-origin caller whose Origin is not allowed (CORS-1).
  if (sec.cors === "session") add(403, "CORS_ORIGIN_DENIED");
  if (sec.accepts.length > 0 && !sec.optional) add(401, "UNAUTHENTICATED");
  if (UNSAFE.has(method) && sec.accepts.some((k) => COOKIE_KINDS.has(k))) add(403, "CSRF_FAILED");
  if (sec.impersonation === "refuse" && sec.accepts.includes("user")) add(403, "IMPERSONATION_FORBIDDEN");
  if (sec.reauth) add(403, "REAUTH_REQUIRED");
  if (sec.action) {
    add(403, "FORBIDDEN", "MFA_ENROLMENT_REQUIRED");
    add(404, "NOT_FOUND");
  }
  if (sec.rate === "auth" || sec.rate === "sensitive") add(429, "RATE_LIMITED");
  // Anything that reads the database can meet it unavailable; probes and static documents do not.
  if (url.startsWith("/v1/")) add(503, "SERVICE_UNAVAILABLE");
  for (const [status, codes] of Object.entries(extra)) add(Number(status), ...codes);
  return out;
}

/**
 * The Fastify response schemas for those statuses: the envelope, its `code` restricted to the codes this
 * operation can answer with that status (so a client can switch on them, and a test compares them with
 * the codes the hostile sweep observed).
 */
export function errorResponseSchemas(statuses: Map<number, Set<string>>): Record<string, object> {
  const out: Record<string, object> = {};
  for (const [status, set] of [...statuses].sort((a, b) => a[0] - b[0])) {
    const codes = [...set].sort();
    const { error } = ERROR_ENVELOPE.properties;
    out[String(status)] = {
      ...ERROR_ENVELOPE,
      properties: {
        error: {
          ...error,
          properties: { ...error.properties, code: { ...error.properties.code, enum: codes } },
        },
      },
      description: `Error: ${codes.map((c) => `\`${c}\``).join(", ")}.`,
    };
  }
  return out;
}
