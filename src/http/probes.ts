import type { Config } from "../config/load.js";
import { errorCode, expectThat, header } from "../posture/checks.js";
import type { Probe } from "../posture/registry.js";

/**
 * The HTTP layer's live self-checks (POST-3): each asks the running server what a client would ask and
 * compares the answer with the claim, as configured. Paths under `/.well-known/bulwark-self-check` match
 * no route: they draw the server's own 404.
 */
export function httpProbes(
  config: Config,
  headers: Readonly<Record<string, string>>,
): Record<"https" | "hsts" | "headers" | "cors", Probe> {
  const publicHost = new URL(config.publicUrl).host;
  return {
    // HDR-1: plain HTTP is refused, or redirected to the public host (never to the Host the client sent).
    https: async (p) => {
      const res = await p.request({
        url: "/security.json",
        plain: true,
        headers: { host: "self-check.invalid" },
      });
      if (config.http.httpsPolicy === "reject")
        expectThat(
          res.statusCode === 400 && errorCode(res) === "HTTPS_REQUIRED",
          `a plain HTTP request was answered ${res.statusCode} ${errorCode(res)}`.trim(),
        );
      else
        expectThat(
          res.statusCode === 308 && header(res, "location") === `https://${publicHost}/security.json`,
          `a plain HTTP request was answered ${res.statusCode} ${header(res, "location")}`.trim(),
        );
    },
    // HDR-2: the HSTS header as configured, on an ordinary answer.
    hsts: async (p) => {
      const res = await p.request({ url: "/security.json" });
      const seen = header(res, "strict-transport-security");
      expectThat(seen === headers["strict-transport-security"], `Strict-Transport-Security was "${seen}"`);
    },
    // HDR-3: every configured header, and the error envelope, on an error answer.
    headers: async (p) => {
      const res = await p.request({ url: "/.well-known/bulwark-self-check/absent" });
      expectThat(
        res.statusCode === 404 && errorCode(res) === "NOT_FOUND",
        `a 404 was answered ${res.statusCode}`,
      );
      const wrong = Object.entries(headers)
        .filter(([name, value]) => header(res, name) !== value)
        .map(([name]) => name);
      expectThat(wrong.length === 0, `a 404 lacked or changed ${wrong.join(", ")}`);
      expectThat(header(res, "x-powered-by") === "", "a 404 carried X-Powered-By");
    },
    // CORS-1: an origin that is not listed gets no CORS grant on a session route, preflight or not.
    cors: async (p) => {
      const origin = "https://self-check.invalid";
      const pre = await p.request({
        method: "OPTIONS",
        url: "/v1/auth/login",
        headers: { origin, "access-control-request-method": "POST" },
      });
      const res = await p.request({ url: "/v1/orgs", headers: { origin } });
      for (const [what, r] of [
        ["a preflight", pre],
        ["a request", res],
      ] as const) {
        expectThat(header(r, "access-control-allow-origin") === "", `${what} from ${origin} was allowed`);
        expectThat(
          errorCode(r) === "CORS_ORIGIN_DENIED",
          `${what} from ${origin} was answered ${r.statusCode} ${errorCode(r)}`.trim(),
        );
      }
    },
  };
}
