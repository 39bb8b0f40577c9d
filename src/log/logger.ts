import type { FastifyBaseLogger } from "fastify";
import pino, { type DestinationStream } from "pino";
import { redactDeep, redactString } from "./redact.js";
import { BatchedStdout } from "./stdout.js";

export type Logger = FastifyBaseLogger;

export { redactUrl } from "./redact.js";

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
      // OBS-2: every field at any depth, and secret-looking values in any string, the message included.
      formatters: {
        level: (label: string) => ({ level: label }),
        log: (o) => redactDeep(o) as Record<string, unknown>,
      },
      hooks: {
        logMethod(args, method) {
          for (let i = 0; i < args.length; i++) {
            const a = args[i];
            if (typeof a === "string") args[i] = redactString(a);
            // `log.error(err)`: pino takes the message from the error itself.
            else if (a instanceof Error) args[i] = redactDeep(a);
          }
          method.apply(this, args as Parameters<typeof method>);
        },
      },
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
