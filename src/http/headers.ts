import type { Config } from "../config/load.js";

/** API responses never render in a browser, so their CSP forbids everything. Pages set their own. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The security headers every response carries (HDR-2, HDR-3), computed once at start-up: the hot path
 * only copies them, which is most of why Bulwark's hook stack stays close to bare Fastify.
 */
export function securityHeaders(config: Config): Readonly<Record<string, string>> {
  const h: Record<string, string> = {
    "content-security-policy": API_CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=(), browsing-topics=()",
    // Legacy XSS auditors could be abused to blank pages; modern advice is to switch them off.
    "x-xss-protection": "0",
  };
  if (config.http.coop !== "off") h["cross-origin-opener-policy"] = config.http.coop;
  if (config.http.coep !== "off") h["cross-origin-embedder-policy"] = config.http.coep;
  if (config.http.corp !== "off") h["cross-origin-resource-policy"] = config.http.corp;
  if (config.http.hsts.enabled)
    h["strict-transport-security"] = `max-age=${config.http.hsts.maxAge}; includeSubDomains; preload`;
  return Object.freeze(h);
}
