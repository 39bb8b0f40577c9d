import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";
import type { EffectiveSecurity } from "../auth/requirements.js";
import type { Config } from "../config/load.js";
import { cookieName } from "../sessions/cookies.js";
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
    await app.register(swagger, {
      // Each operation states its row of the route table: the facts the guard pipeline enforces.
      transform: ({ schema, url, route }) => {
        const r = route as { config?: { guard?: EffectiveSecurity; errors?: readonly string[] } };
        const sec = r.config?.guard;
        if (!sec || !schema) return { schema, url };
        const method = String(Array.isArray(route.method) ? route.method[0] : route.method);
        return {
          url,
          schema: operationSchema(
            method,
            route.url,
            schema as Record<string, unknown>,
            sec,
            opts.config.production,
            r.config?.errors,
          ),
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
          // The cookie names this server really uses (the __Host- prefix only where cookies are Secure).
          securitySchemes: {
            portalSession: { type: "apiKey", in: "cookie", name: cookieName(opts.config, "portal") },
            adminSession: { type: "apiKey", in: "cookie", name: cookieName(opts.config, "admin") },
            csrfToken: {
              type: "apiKey",
              in: "header",
              name: "X-CSRF-Token",
              description:
                "The session's CSRF token (from sign-in or GET /v1/me), on every unsafe cookie request.",
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
