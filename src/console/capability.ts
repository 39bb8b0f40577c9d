import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { PUBLIC } from "../auth/requirements.js";
import type { Capability } from "../capability.js";
import { AppError } from "../http/errors.js";
import { type ConsoleBuild, loadConsoleBuild, renderShell } from "./build.js";

/**
 * The console (HDR-3, AUTHZ-3): hosted sign-in pages, the tenant portal under `/app/` and the platform
 * console under `/admin/`, one single-page app built from `web/` into fingerprinted assets. Every page is
 * the same static shell: no value from the request is ever written into it, so a token in a mail link's
 * address never reaches the HTML. The shell is never cached and sends no referrer (mail-link addresses
 * hold tokens); the assets are immutable. The CSP admits scripts, styles and connections from this
 * origin only: nothing inline, nothing evaluated, never framed.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  // QR codes arrive as data: URLs of SVG images from the API.
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The console's CSP with uploads in an S3 bucket (DATA-3): the browser sends files to the bucket and shows
 * them from it, so that one origin joins `connect-src` and `img-src`; nothing else changes.
 */
export function consoleCsp(storage: string | undefined): string {
  if (!storage) return CONSOLE_CSP;
  return CONSOLE_CSP.replace("img-src 'self' data:", `img-src 'self' data: ${storage}`).replace(
    "connect-src 'self'",
    `connect-src 'self' ${storage}`,
  );
}

// Looked up in a map of the built files: any other name, the empty one included, is a 404.
const AssetName = Type.Object({ name: Type.String({ maxLength: 100 }) });

/**
 * The query parameters the console's addresses carry, read by the page's script, never by the server:
 * `token` and `orgId` from mail links, `next` after sign-in, `q` for admin searches, `uid` for an app's sign-in request. Unlike the API's
 * closed schemas, others are let through (bounded) and ignored: a mail gateway or click tracker that
 * appends `utm_source` must not turn a verification link into a JSON error. The shell is static, so no
 * parameter can reach it.
 */
const Param = Type.Optional(Type.String({ maxLength: 2000 }));
const ConsoleQuery = Type.Object(
  { token: Param, orgId: Param, org: Param, next: Param, q: Param, uid: Param },
  { additionalProperties: Type.String({ maxLength: 2000 }), maxProperties: 30 },
);

/** Every address the console answers: the hosted pages, then the portal and the admin console (and below). */
export const CONSOLE_PAGES = [
  "/",
  "/signup",
  "/verify-email",
  "/forgot-password",
  "/reset-password",
  "/accept-invitation",
  // An app's sign-in request (AUTH-10): the provider sends the browser here; the page asks the API.
  "/authorize",
  // An external identity waiting for its account's owner to confirm the link (AUTH-11).
  "/link-account",
  "/app",
  "/app/*",
  "/admin",
  "/admin/*",
] as const;

/** Whether an Accept-Encoding header admits gzip (RFC 9110 §12.5.3: named, or `*`, with a weight above 0). */
export function acceptsGzip(header: string | undefined): boolean {
  if (!header) return false;
  let star = false;
  for (const part of header.toLowerCase().split(",")) {
    const [coding = "", ...params] = part.split(";").map((p) => p.trim());
    const q = params.find((p) => p.startsWith("q="));
    const weight = q ? Number(q.slice(2)) : 1;
    if (coding === "gzip" || coding === "x-gzip") return weight > 0;
    if (coding === "*") star = weight > 0;
  }
  return star;
}

/** `build` defaults to the built console, read when the server is built (never for `bulwark migrate`). */
export function consoleCapability(given?: ConsoleBuild): Capability {
  return {
    name: "console",
    register(app, ctx) {
      const build = given ?? loadConsoleBuild();
      const html = renderShell(build);
      // One route for every asset (the names change with every build; the route table and docs do not).
      const assets = new Map(build.assets.map((a) => [a.name, a]));
      app.get(
        "/assets/:name",
        { schema: { hide: true, params: AssetName } },
        (req: FastifyRequest<{ Params: { name: string } }>, reply) => {
          const asset = assets.get(req.params.name);
          if (!asset) throw new AppError("NOT_FOUND");
          reply.header("cache-control", "public, max-age=31536000, immutable").type(asset.type);
          reply.header("vary", "accept-encoding");
          // Pre-compressed at build time: no compression work per request.
          if (asset.gzip && acceptsGzip(req.headers["accept-encoding"]))
            return reply.header("content-encoding", "gzip").send(asset.gzip);
          return reply.send(asset.body);
        },
      );
      // Browsers ask for /favicon.ico whatever the page says (the security page, the docs, a JSON error).
      const icon = build.assets.find((a) => a.name === build.icon);
      if (icon)
        app.get("/favicon.ico", { schema: { hide: true } }, (_req, reply) =>
          reply.header("cache-control", "public, max-age=86400").type(icon.type).send(icon.body),
        );
      const csp = consoleCsp(ctx.service("uploads").origin);
      for (const url of CONSOLE_PAGES) {
        // Each page declares its own exact row (one list of pages): a table prefix for the wildcard screens
        // would open every route below /app/ or /admin/, an app's own included.
        const config = { security: PUBLIC };
        app.get(url, { schema: { hide: true, querystring: ConsoleQuery }, config }, (_req, reply) => {
          reply
            .header("content-security-policy", csp)
            .header("referrer-policy", "no-referrer")
            .header("cache-control", "no-store")
            .type("text/html; charset=utf-8")
            .send(html);
        });
      }
    },
  };
}
