import type { EffectiveSecurity } from "../auth/requirements.js";
import { errorDefinition } from "../http/errors.js";
import { NO_CONTENT, OPERATIONS } from "./operations.js";
import { errorResponseSchemas, errorStatuses } from "./responses.js";

/** The OpenAPI security scheme of each principal kind. */
const SCHEMES: Readonly<Record<string, string>> = { user: "portalSession", admin: "adminSession" };
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** An extension route's declared error codes, grouped by their status. */
function byStatus(codes: readonly string[] = []): Record<number, string[]> {
  const out: Record<number, string[]> = {};
  for (const code of codes) {
    const status = errorDefinition(code).status;
    out[status] = [...(out[status] ?? []), code];
  }
  return out;
}

/**
 * One operation as /openapi.json states it: summary and description, its success and every error status
 * it can answer (each with the envelope and its codes), the credentials it accepts (a cookie on an unsafe
 * method needs the CSRF token too: both schemes, ANDed), and its whole row of the route table.
 */
export function operationSchema(
  method: string,
  url: string,
  schema: Record<string, unknown>,
  sec: EffectiveSecurity,
  production: boolean,
  routeErrors: readonly string[] | undefined,
): Record<string, unknown> {
  const key = `${method} ${url}`;
  const op = OPERATIONS[key];
  const statuses = errorStatuses(method, url, sec, Boolean(schema.body), production, {
    ...op?.errors,
    ...byStatus(routeErrors),
  });
  const declared = (schema.response ?? {}) as Record<string, unknown>;
  // Without a declared success the document would claim none (or Swagger's default 200 for a 204).
  const success = Object.keys(declared).some((k) => k.startsWith("2"))
    ? {}
    : NO_CONTENT.has(key)
      ? { 204: { type: "null", description: "Done; no content." } }
      : { 200: { description: "Success." } };
  const kinds = sec.tenantKinds ? ["user"] : sec.accepts;
  const security = kinds.map((k) => ({
    [SCHEMES[k] ?? k]: [],
    ...(UNSAFE.has(method) && SCHEMES[k] ? { csrfToken: [] } : {}),
  }));
  return {
    ...schema,
    ...(op && !schema.summary ? { summary: op.summary } : {}),
    ...(op && !schema.description ? { description: op.description } : {}),
    // The route's own responses win: a declared 503 body (readiness) is not an error envelope.
    response: { ...success, ...errorResponseSchemas(statuses), ...declared },
    ...(security.length ? { security } : {}),
    "x-bulwark-security": {
      accepts: sec.tenantKinds ? "tenant" : sec.accepts,
      ...(sec.optional ? { optional: true } : {}),
      ...(sec.action ? { action: sec.action } : {}),
      ...(sec.reauth ? { reauth: true } : {}),
      impersonation: sec.impersonation,
      cors: sec.cors,
      https: sec.https,
      rate: sec.rate,
    },
  };
}
