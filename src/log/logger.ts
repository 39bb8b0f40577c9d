import type { FastifyBaseLogger } from "fastify";
import pino, { type DestinationStream } from "pino";

export type Logger = FastifyBaseLogger;

/**
 * Paths pino redacts in every log line (OBS-2). Access logs never include headers or bodies in the first
 * place; these paths are the second line of defence for an error log or a developer's `log.info(obj)`.
 */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-api-key"]',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  "headers.authorization",
  "headers.cookie",
  'headers["x-api-key"]',
  'headers["set-cookie"]',
  "*.headers.authorization",
  "*.headers.cookie",
  '*.headers["x-api-key"]',
  "password",
  "newPassword",
  "currentPassword",
  "token",
  "accessToken",
  "refreshToken",
  "secret",
  "apiKey",
  "cookie",
  "authorization",
  "*.password",
  "*.newPassword",
  "*.currentPassword",
  "*.token",
  "*.accessToken",
  "*.refreshToken",
  "*.secret",
  "*.apiKey",
  "*.cookie",
  "*.authorization",
];

/** Query parameters whose values are secrets (links in mail carry `?token=…`). */
const SECRET_PARAMS = /([?&](?:token|code|secret|password|key|api_key|access_token|refresh_token)=)[^&#]*/gi;

/** A URL safe to log: secret query values replaced. Cheap when there is no query string. */
export function redactUrl(url: string): string {
  return url.includes("?") ? url.replace(SECRET_PARAMS, "$1[REDACTED]") : url;
}

/** The structured JSON logger (pino), with redaction on. `stream` lets tests capture every line. */
export function createLogger(options: { level: string; stream?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
      base: { service: "bulwark" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.stream ?? pino.destination({ dest: 1, sync: false }),
  ) as unknown as Logger;
}
