import type { FastifyBaseLogger } from "fastify";
import pino, { type DestinationStream } from "pino";
import { BatchedStdout } from "./stdout.js";

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

const RAW = Symbol("bulwark.rawWrite");

/**
 * The structured JSON logger (pino), with redaction on. `stream` lets tests capture every line. Lines
 * go to stdout in batches (BatchedStdout), flushed every 250 ms and at exit. Time is epoch milliseconds,
 * pino's default and the cheapest to produce.
 */
export function createLogger(options: { level: string; stream?: DestinationStream }): Logger {
  const stream = options.stream ?? new BatchedStdout();
  const log = pino(
    {
      level: options.level,
      base: { service: "bulwark" },
      formatters: { level: (label: string) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    },
    stream,
  );
  // Hand-built lines (the access line) go straight to the same destination, after the level check.
  Object.defineProperty(log, RAW, { value: (line: string) => stream.write(line), enumerable: false });
  return log as unknown as Logger;
}

/** Writes a complete, pre-serialised JSON line to the logger's destination (or through it, for a foreign logger). */
export function rawWriter(log: Logger): (line: string) => void {
  const raw = (log as unknown as Record<symbol, ((line: string) => void) | undefined>)[RAW];
  return raw ?? ((line: string) => log.info(JSON.parse(line) as object));
}

/**
 * Fastify makes a child logger for every request; with redaction on, that costs more than a small
 * route. This stand-in makes the real child only when the request actually logs, which most never do.
 * A class, not closures: one small object per request and nothing else to collect.
 */
class LazyChild {
  private real: Logger | undefined;

  constructor(
    private readonly parent: Logger,
    private readonly bindings: Record<string, unknown>,
    private readonly options: Record<string, unknown> | undefined,
  ) {}

  private get target(): Logger {
    this.real ??= this.parent.child(this.bindings, this.options);
    return this.real;
  }

  get level(): string {
    return this.real ? this.real.level : this.parent.level;
  }
  set level(value: string) {
    this.target.level = value;
  }
  fatal(...args: unknown[]): void {
    (this.target.fatal as (...a: unknown[]) => void)(...args);
  }
  error(...args: unknown[]): void {
    (this.target.error as (...a: unknown[]) => void)(...args);
  }
  warn(...args: unknown[]): void {
    (this.target.warn as (...a: unknown[]) => void)(...args);
  }
  info(...args: unknown[]): void {
    (this.target.info as (...a: unknown[]) => void)(...args);
  }
  debug(...args: unknown[]): void {
    (this.target.debug as (...a: unknown[]) => void)(...args);
  }
  trace(...args: unknown[]): void {
    (this.target.trace as (...a: unknown[]) => void)(...args);
  }
  silent(): void {}
  child(bindings: Record<string, unknown>, options?: Record<string, unknown>): Logger {
    return this.target.child(bindings, options);
  }
  isLevelEnabled(level: string): boolean {
    return (this.target as unknown as { isLevelEnabled(l: string): boolean }).isLevelEnabled(level);
  }
}

export function lazyChild(
  parent: Logger,
  bindings: Record<string, unknown>,
  options?: Record<string, unknown>,
): Logger {
  return new LazyChild(parent, bindings, options) as unknown as Logger;
}
