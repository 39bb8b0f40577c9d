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

const SUSPECT_ESCAPE = /\\u(0000|[dD][89abAB])/;
const UNPAIRED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NUL = String.fromCharCode(0);

/**
 * Whether every string (keys included) is well-formed Unicode without NUL: PostgreSQL cannot store a NUL
 * in text (it would fail the statement), and an unpaired surrogate is not text at all.
 */
function wellFormed(value: unknown): boolean {
  if (typeof value === "string") return !value.includes(NUL) && !UNPAIRED.test(value);
  if (Array.isArray(value)) return value.every(wellFormed);
  if (value && typeof value === "object")
    return Object.entries(value).every(([k, v]) => wellFormed(k) && wellFormed(v));
  return true;
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
      const value = sjson.parse(text, undefined, { protoAction: "error", constructorAction: "error" });
      // Escapes are the only way a NUL or an unpaired surrogate gets into a string: look only then.
      if (SUSPECT_ESCAPE.test(text) && !wellFormed(value))
        return done(
          new AppError("INVALID_JSON", "Strings may not contain NUL characters or unpaired surrogates."),
          undefined,
        );
      done(null, value);
    } catch (err) {
      const msg = (err as Error).message;
      done(
        /prototype/i.test(msg) ? new AppError("FORBIDDEN_PROPERTY") : new AppError("INVALID_JSON"),
        undefined,
      );
    }
  });
}
