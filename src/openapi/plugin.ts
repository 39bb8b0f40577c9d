import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { EffectiveSecurity } from "../auth/requirements.js";
import type { Config } from "../config/load.js";
import { cookieName } from "../sessions/cookies.js";
import { finish } from "./document.js";
import { operationSchema } from "./transform.js";

/** swagger-ui needs its own scripts and styles; everything else stays as strict as the API's CSP. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The OpenAPI 3.1 document, generated from the route schemas (so it cannot drift from validation), at
 * `/openapi.json`, and a reference UI at `/docs`. Registered before any route so every route is seen.
 */
export const openapiPlugin = fp(
  async (app: FastifyInstance, opts: { version: string; config: Config }) => {
    const portal = cookieName(opts.config, "portal");
    const admin = cookieName(opts.config, "admin");
    await app.register(swagger, {
      // Each operation states its row of the route table: the facts the guard pipeline enforces.
      transform: ({ schema, url, route }) => {
        const r = route as {
          config?: { guard?: EffectiveSecurity; errors?: readonly string[]; idempotent?: boolean };
        };
        const sec = r.config?.guard;
        if (!sec || !schema) return { schema, url };
        const method = String(Array.isArray(route.method) ? route.method[0] : route.method);
        const idempotent = r.config?.idempotent === true;
        return {
          url,
          schema: operationSchema(
            method,
            route.url,
            idempotent
              ? { ...(schema as Record<string, unknown>), headers: idempotencyHeader(opts.config) }
              : (schema as Record<string, unknown>),
            sec,
            opts.config,
            idempotent ? [...(r.config?.errors ?? []), "CONFLICT", "UNPROCESSABLE"] : r.config?.errors,
          ),
        };
      },
      transformObject: (doc) => finish("openapiObject" in doc ? doc.openapiObject : {}),
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "Bulwark",
          version: opts.version,
          description: [
            "The security core of a multi-tenant SaaS.",
            "",
            `**Trying it out.** Sign in with \`POST /v1/auth/login\` (or \`POST /v1/admin/auth/login\`): the browser keeps the session cookie (\`${portal}\`, \`${admin}\`), which it sends by itself. Copy \`csrfToken\` from the answer into **Authorize → csrfToken**: every write (POST, PATCH, DELETE) needs it in \`X-CSRF-Token\`.`,
            "",
            "**Errors.** Every 4xx and 5xx carries `{ error: { code, message, requestId, details? } }`; each operation lists the codes it can answer with each status (docs/errors.md describes them).",
          ].join("\n"),
        },
        components: {
          // The cookie names this server really uses (the __Host- prefix only where cookies are Secure).
          securitySchemes: {
            portalSession: {
              type: "apiKey",
              in: "cookie",
              name: portal,
              description: "A portal session: set by sign-in (or by an admin's impersonation), HttpOnly.",
            },
            adminSession: {
              type: "apiKey",
              in: "cookie",
              name: admin,
              description: "A platform admin session: set by the admin sign-in, HttpOnly.",
            },
            apiKey: {
              type: "apiKey",
              in: "header",
              name: "X-API-Key",
              description:
                "An organisation API key (`bwk_…`), also accepted as `Authorization: Bearer bwk_…`. Acts in its organisation with its scopes; no CSRF token, any origin (unless the key is pinned).",
            },
            accessToken: {
              type: "http",
              scheme: "bearer",
              bearerFormat: "JWT",
              description:
                "An access token from POST /v1/auth/token (ES256, verified against /.well-known/jwks.json): acts for its user in one organisation, with its scopes and never beyond the user's role there; no CSRF token, any origin.",
            },
            // Offered only where a token is configured: otherwise no route accepts one.
            ...(opts.config.metricsToken
              ? {
                  metricsToken: {
                    type: "http",
                    scheme: "bearer",
                    description:
                      "METRICS_TOKEN, for GET /metrics in production: only over HTTPS, never over plain HTTP.",
                  },
                }
              : {}),
            csrfToken: {
              type: "apiKey",
              in: "header",
              name: "X-CSRF-Token",
              description:
                "The session's CSRF token, from the sign-in answer or GET /v1/me: needed with the session cookie on every POST, PATCH and DELETE.",
            },
          },
        },
      },
    });
    app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
    await app.register(swaggerUi, {
      routePrefix: "/docs",
      uiConfig: { url: "/openapi.json" },
      uiHooks: {
        onRequest: (_req, reply, done) => {
          reply.header("content-security-policy", DOCS_CSP);
          done();
        },
      },
    });
  },
  { name: "bulwark-openapi" },
);

/** The `Idempotency-Key` request header of the routes that accept one (IDEM-1), with its expiry policy. */
function idempotencyHeader(config: Config) {
  return {
    type: "object",
    properties: {
      "idempotency-key": {
        type: "string",
        description: `Optional (draft-ietf-httpapi-idempotency-key-header-07): a structured-field string such as \`"8e03978e-40d5-43e8-bc93-6894a57f9324"\`. The first answer is kept for ${config.idempotencyTtlMs / 3_600_000} hours under this organisation, caller, route and key, and replayed to a retry with \`Idempotent-Replayed: true\`; the same key with another body gets 422, a retry while the first runs gets 409.`,
        examples: ['"8e03978e-40d5-43e8-bc93-6894a57f9324"'],
      },
    },
  };
}
