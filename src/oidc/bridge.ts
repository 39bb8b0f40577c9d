import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type Provider from "oidc-provider";

/** The provider's metadata (OpenID Connect Discovery 1.0 §4, and RFC 8414's name for the same document). */
const DISCOVERY = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"];

/**
 * The provider's pages are plain HTML with no script of their own; `form_post` responses carry one inline
 * script whose hash oidc-provider adds to `script-src`. A sign-out confirmation posts here, then goes on
 * to the client's registered `post_logout_redirect_uri` (which `form-action` also governs in Chromium).
 */
const csp = (plainHttp: boolean) =>
  [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    // Loopback http: native apps' redirect URIs (RFC 8252), allowed by the client registration too.
    `form-action 'self' https: ${plainHttp ? "http:" : "http://localhost:* http://127.0.0.1:* http://[::1]:*"}`,
    "base-uri 'none'",
    "frame-ancestors 'none'",
  ].join("; ");

/**
 * Mounts oidc-provider under Bulwark's HTTP layer (AUTH-10). Each path is a declared route, so the HTTPS
 * policy, the route table's rate limits, the request id and the access log apply.
 * The headers the HTTP layer chose are copied over, but for CORS (the provider answers it per client)
 * and the CSP (its own). The provider trusts X-Forwarded-* (it sits behind this layer): they are
 * overwritten from the configured public URL and the client address Bulwark's proxy list decided.
 */
export function mountProvider(
  app: FastifyInstance,
  current: () => Promise<Provider>,
  publicUrl: string,
  plainHttp: boolean,
): void {
  const url = new URL(publicUrl);
  const policy = csp(plainHttp);
  const handlers = new WeakMap<Provider, ReturnType<Provider["callback"]>>();
  /** Hands the request, as it arrived, to the provider, with the headers the HTTP layer chose. */
  const forward = async (req: FastifyRequest, reply: FastifyReply) => {
    const provider = await current();
    let handle = handlers.get(provider);
    if (!handle) {
      handle = provider.callback();
      handlers.set(provider, handle);
    }
    reply.hijack();
    const raw = reply.raw;
    for (const [name, value] of Object.entries(reply.getHeaders())) {
      if (value === undefined || name.startsWith("access-control-") || name === "vary") continue;
      raw.setHeader(name, name === "content-security-policy" ? policy : (value as string));
    }
    const headers = req.raw.headers;
    headers["x-forwarded-proto"] = url.protocol.slice(0, -1);
    headers["x-forwarded-host"] = url.host;
    headers["x-forwarded-for"] = req.ip;
    // The provider's events (the audit log's grant revocations) name the request by Bulwark's own id.
    headers["x-request-id"] = req.id;
    // RFC 8414's metadata is the same document under another name.
    if (req.raw.url?.startsWith("/.well-known/oauth-authorization-server"))
      req.raw.url = req.raw.url.replace("oauth-authorization-server", "openid-configuration");
    await handle(req.raw, raw);
  };
  // Discovery takes no input: Bulwark's own validation (no query, no body) runs first.
  for (const path of DISCOVERY) app.get(path, { schema: { tags: ["OpenID Connect"] } }, forward);
  // Everything else is read by the provider before Fastify touches the body (it parses its own forms and
  // answers bad input in OAuth's terms).
  // OPTIONS too: the provider answers CORS preflights per client (its registered origins).
  for (const method of ["GET", "POST", "OPTIONS"] as const)
    app.route({
      method,
      url: "/oidc/*",
      schema: {
        hide: true,
        ...(method === "POST" ? { body: Type.Unknown() } : {}),
        querystring: Type.Object({}, { additionalProperties: true }),
      },
      onRequest: forward,
      handler: async () => undefined,
    });
}
