import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import fp from "fastify-plugin";

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
      openapi: {
        openapi: "3.1.0",
        info: {
          title: "Bulwark",
          version: opts.version,
          description: "The security core of a multi-tenant SaaS.",
        },
        components: {
          securitySchemes: {
            session: { type: "apiKey", in: "cookie", name: "__Host-bulwark_session" },
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
