import type { EffectiveSecurity } from "../auth/requirements.js";
import type { Config } from "../config/load.js";
import { errorDefinition } from "../http/errors.js";
import { cookieName } from "../sessions/cookies.js";
import { withExamples } from "./examples.js";
import { OPERATIONS } from "./operations.js";
import { errorResponseSchemas, errorStatuses } from "./responses.js";

/** The description of a route that brought none: visible in /docs, and caught by the reference test. */
export const UNDOCUMENTED = "Not documented: give the route schema a summary and a description.";

/** The OpenAPI security scheme of each credential kind, and the cookie it names. */
export const SCHEMES: Readonly<Record<string, { scheme: string; surface?: "portal" | "admin" }>> = {
  user: { scheme: "portalSession", surface: "portal" },
  admin: { scheme: "adminSession", surface: "admin" },
  // A header credential: no cookie, so no CSRF token.
  api_key: { scheme: "apiKey" },
  access_token: { scheme: "accessToken" },
};
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Reason phrases for the success statuses a route may declare without a description. */
const SUCCESS: Readonly<Record<string, string>> = {
  200: "OK.",
  201: "Created.",
  202: "Accepted: the answer is the same whatever happens next (nothing is revealed).",
  204: "Done; no content.",
};

/** An extension route's declared error codes, grouped by their status. */
function byStatus(codes: readonly string[] = []): Record<number, string[]> {
  const out: Record<number, string[]> = {};
  for (const code of codes) {
    const status = errorDefinition(code).status;
    out[status] = [...(out[status] ?? []), code];
  }
  return out;
}

/** Who may call the operation, in words, for its description in /docs. */
function accessText(method: string, sec: EffectiveSecurity, config: Config): string {
  const csrf = UNSAFE.has(method) ? ", with its CSRF token in `X-CSRF-Token`" : "";
  const credentials = sec.accepts.map((k) => {
    const surface = SCHEMES[k]?.surface;
    if (!surface)
      return k === "api_key"
        ? "an organisation API key (`X-API-Key`, or `Authorization: Bearer bwk_…`) holding the permission as a scope"
        : k === "access_token"
          ? "an access token (`Authorization: Bearer eyJ…`) for the organisation, holding the permission as a scope"
          : k;
    const name = `\`${cookieName(config, surface)}\``;
    return `${k === "admin" ? "a platform admin session" : "a portal session"} (cookie ${name})${csrf}`;
  });
  const lines: string[] = [];
  if (credentials.length === 0) lines.push("anyone");
  else lines.push(`${credentials.join(" or ")}${sec.optional ? ", or anyone (optional)" : ""}`);
  if (sec.action) lines.push(`permission \`${sec.action}\` in the organisation of the path`);
  if (sec.reauth)
    lines.push(
      `the password proved within the last ${config.auth.reauthMs / 60_000} minutes (\`POST /v1/auth/reauth\`)`,
    );
  if (sec.impersonation === "refuse" && sec.accepts.length > 0) lines.push("not while impersonating");
  return `**Access:** ${lines.join("; ")}. **Rate tier:** ${sec.rate}.`;
}

/**
 * One operation as /openapi.json states it: summary and description, its success and every error status
 * it can answer (each with the envelope and its codes), the credentials it accepts (a cookie on an unsafe
 * method needs the CSRF token too: both schemes, ANDed; an optional credential also allows none), realistic
 * examples, and its whole row of the route table. Throws for a documented operation without a summary or
 * description (an extension brings its own in its schema), or accepting a credential kind that has no
 * security scheme: the document is refused rather than published half-true.
 */
export function operationSchema(
  method: string,
  url: string,
  schema: Record<string, unknown>,
  sec: EffectiveSecurity,
  config: Config,
  routeErrors: readonly string[] | undefined,
): Record<string, unknown> {
  const key = `${method} ${url}`;
  const op = OPERATIONS[key];
  // Pages the mails link to, and this document, are hidden by the routes that serve them; with an entry
  // in OPERATIONS they are documented like the rest (what they answer is part of the API's surface).
  const hide = schema.hide === true && !op;
  if (hide) return schema;
  // An undocumented route (an app's, say) is published plainly marked, never as a 500 of this document;
  // src/openapi/reference.test.ts fails when one of Bulwark's or the catalog's routes is.
  const summary = (schema.summary as string | undefined) ?? op?.summary ?? `${method} ${url}`;
  const description = (schema.description as string | undefined) ?? op?.description ?? UNDOCUMENTED;
  const statuses = errorStatuses(
    method,
    url,
    sec,
    Boolean(schema.body),
    config.http.httpsPolicy,
    byStatus([...(op?.errors ?? []), ...(routeErrors ?? [])]),
  );
  const declared = { ...((schema.response ?? {}) as Record<string, Record<string, unknown>>) };
  for (const [status, r] of Object.entries(declared))
    declared[status] = withExamples(
      r.description || !SUCCESS[status] ? r : { ...r, description: SUCCESS[status] },
      url,
    );
  // Without a declared success the document would claim none. (A 204 route declares its 204 itself.)
  const success = Object.keys(declared).some((k) => k.startsWith("2"))
    ? {}
    : {
        200: op?.media
          ? { description: SUCCESS[200], content: { [op.media]: { schema: { type: "string" } } } }
          : { description: SUCCESS[200] },
      };
  // HTTPS_POLICY=redirect: plain HTTP to a host that is not loopback is sent to HTTPS (no body).
  const redirect =
    config.http.httpsPolicy === "redirect" && sec.https === "required"
      ? {
          308: {
            type: "null",
            description:
              "Plain HTTP to a host that is not loopback: redirected to the same path on PUBLIC_URL's host, over HTTPS.",
          },
        }
      : {};
  // A credential kind without a scheme here yet (added by a later capability) is named by its kind.
  const security = sec.accepts.map((k) => ({
    [SCHEMES[k]?.scheme ?? k]: [],
    ...(UNSAFE.has(method) && SCHEMES[k]?.surface ? { csrfToken: [] } : {}),
  }));
  const { hide: _hidden, ...rest } = schema;
  return {
    ...rest,
    ...(schema.querystring ? { querystring: withExamples(schema.querystring, url) } : {}),
    ...(schema.params ? { params: withExamples(schema.params, url) } : {}),
    ...(schema.body ? { body: withExamples(schema.body, url) } : {}),
    summary,
    description: `${description}\n\n${accessText(method, sec, config)}`,
    // The route's own responses win: a declared 503 body (readiness) is not an error envelope.
    response: { ...success, ...redirect, ...errorResponseSchemas(statuses), ...declared },
    // No credential: an explicit empty requirement. An optional one: anonymous, or the credential. A
    // bearer token the handler checks itself (metrics), where one is configured: anonymous, or the token.
    security:
      op?.bearer && config.metricsToken
        ? [{}, { [op.bearer]: [] }]
        : [...(sec.optional ? [{}] : []), ...security],
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
