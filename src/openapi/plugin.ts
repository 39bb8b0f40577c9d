import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { EffectiveSecurity } from "../auth/requirements.js";

/** The OpenAPI security scheme of each principal kind. */
const SCHEMES: Readonly<Record<string, string>> = { user: "portalSession", admin: "adminSession" };

/** swagger-ui needs its own scripts and styles; everything else stays as strict as the API's CSP. */
const DOCS_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The OpenAPI 3.1 document, generated from the route schemas (so it cannot drift from validation), at
 * `/openapi.json`, and a reference UI at `/docs`. Registered before any route so every route is seen.
 */
export const openapiPlugin = fp(
  async (app: FastifyInstance, opts: { version: string }) => {
    await app.register(swagger, {
      // Each operation states its row of the route table: the facts the guard pipeline enforces.
      transform: ({ schema, url, route }) => {
        const sec = (route as { config?: { guard?: EffectiveSecurity } }).config?.guard;
        if (!sec || !schema) return { schema, url };
        const schemes = sec.tenantKinds ? ["user"] : sec.accepts;
        return {
          url,
          schema: {
            ...schema,
            ...(schemes.length ? { security: schemes.map((k) => ({ [SCHEMES[k] ?? k]: [] })) } : {}),
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
          },
        };
      },
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "Bulwark",
          version: opts.version,
          description: "The security core of a multi-tenant SaaS.",
        },
        components: {
          securitySchemes: {
            portalSession: { type: "apiKey", in: "cookie", name: "__Host-bulwark_session" },
            adminSession: { type: "apiKey", in: "cookie", name: "__Host-bulwark_admin" },
            bearer: { type: "http", scheme: "bearer" },
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
