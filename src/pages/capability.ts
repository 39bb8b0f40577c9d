import { existsSync, readFileSync } from "node:fs";
import { Type } from "@sinclair/typebox";
import type { Capability } from "../capability.js";
import { assetName, PAGES, renderPage } from "./render.js";

/**
 * The pages every mail links to: `/verify-email`, `/reset-password`, `/accept-invitation`. Until the
 * console takes them over, each is a small server-rendered form whose external script calls the public
 * JSON API. Strict CSP (scripts and styles from this origin only, nothing inline), no referrer (the
 * address holds a token), never cached. No value from the request is written into the HTML.
 */
export const PAGE_CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The assets ship as source files: found from src/ (tests) and from dist/src/ (built). */
function asset(name: string): string {
  for (const rel of [`./assets/${name}`, `../../../src/pages/assets/${name}`]) {
    const file = new URL(rel, import.meta.url);
    if (existsSync(file)) return readFileSync(file, "utf8");
  }
  throw new Error(`pages: asset ${name} not found`);
}

const Query = Type.Object({
  token: Type.Optional(Type.String({ maxLength: 300 })),
  orgId: Type.Optional(Type.String({ maxLength: 40 })),
  org: Type.Optional(Type.String({ maxLength: 40 })),
});

export const pagesCapability: Capability = {
  name: "pages",
  register(app) {
    const js = asset("links.js");
    const css = asset("links.css");
    const names = { js: assetName("links.js", js), css: assetName("links.css", css) };
    for (const [name, body, type] of [
      [names.js, js, "text/javascript; charset=utf-8"],
      [names.css, css, "text/css; charset=utf-8"],
    ] as const) {
      app.get(`/assets/${name}`, { schema: { hide: true } }, (_req, reply) => {
        reply.header("cache-control", "public, max-age=31536000, immutable").type(type).send(body);
      });
    }
    for (const spec of PAGES) {
      const html = renderPage(spec, names);
      app.get(`/${spec.page}`, { schema: { hide: true, querystring: Query } }, (_req, reply) => {
        reply
          .header("content-security-policy", PAGE_CSP)
          .header("referrer-policy", "no-referrer")
          .header("cache-control", "no-store")
          .type("text/html; charset=utf-8")
          .send(html);
      });
    }
  },
};
