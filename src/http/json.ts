import type { FastifyInstance } from "fastify";
import sjson from "secure-json-parse";
import { AppError } from "./errors.js";

/**
 * Nesting depth of a JSON text, counted without parsing it, so a hostile 100,000-deep document is refused
 * before JSON.parse spends time and stack on it. Brackets inside strings do not count.
 */
export function jsonDepthExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (++depth > max) return true;
    } else if (c === 125 /* } */ || c === 93 /* ] */) depth--;
  }
  return false;
}

/**
 * JSON is the only body type (INPUT-5): other media types get 415. Bodies are bounded in size (Fastify's
 * bodyLimit), in depth (above), and parsed by secure-json-parse, which refuses `__proto__` and
 * `constructor.prototype` keys instead of silently dropping them.
 */
export function installJsonParser(app: FastifyInstance, maxDepth: number): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    const text = body as string;
    if (text.length === 0) return done(new AppError("INVALID_JSON", "The body is empty."), undefined);
    if (jsonDepthExceeds(text, maxDepth))
      return done(
        new AppError("JSON_TOO_DEEP", `JSON nesting deeper than ${maxDepth} is refused.`),
        undefined,
      );
    try {
      done(null, sjson.parse(text, undefined, { protoAction: "error", constructorAction: "error" }));
    } catch (err) {
      const msg = (err as Error).message;
      done(
        /prototype/i.test(msg) ? new AppError("FORBIDDEN_PROPERTY") : new AppError("INVALID_JSON"),
        undefined,
      );
    }
  });
}
