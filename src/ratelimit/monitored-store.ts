import type { Logger } from "../log/logger.js";
import type { CounterStore } from "./limiter.js";

/**
 * A counter store that knows whether its backend answers (RATE-5): an outage is logged once when it
 * begins and once when it ends (never per request), counted, and readable by /health and /metrics.
 * Errors still reach the limiter, whose own policy (fail open or closed) decides the request. Recovery
 * needs no restart: the next command that succeeds ends the episode.
 */
export class MonitoredStore implements CounterStore {
  private downSince: number | undefined;
  private lastError = "";
  errors = 0;

  /** An in-process store cannot become unreachable: its synchronous path is offered as is. */
  readonly addNow?: CounterStore["addNow"];

  constructor(
    private readonly inner: CounterStore,
    private readonly log: Logger,
    private readonly backend: string,
  ) {
    if (inner.addNow) this.addNow = inner.addNow.bind(inner);
  }

  /** Whether the last command reached the store. */
  get up(): boolean {
    return this.downSince === undefined;
  }

  /** Why the store is down, for /health; undefined while it answers. */
  get problem(): string | undefined {
    if (this.downSince === undefined) return undefined;
    return `${this.backend} unreachable since ${new Date(this.downSince).toISOString()}: ${this.lastError}`;
  }

  add(...args: Parameters<CounterStore["add"]>): ReturnType<CounterStore["add"]> {
    return this.watch(this.inner.add(...args));
  }

  refund(...args: Parameters<CounterStore["refund"]>): Promise<void> {
    return this.watch(this.inner.refund(...args));
  }

  reset(key: string): Promise<void> {
    return this.watch(this.inner.reset(key));
  }

  private watch<T>(p: Promise<T>): Promise<T> {
    return p.then(
      (v) => {
        if (this.downSince !== undefined) {
          this.log.info(
            { store: this.backend, downMs: Date.now() - this.downSince },
            "rate-limit store reachable again",
          );
          this.downSince = undefined;
        }
        return v;
      },
      (err: Error) => {
        this.errors++;
        this.lastError = err.message;
        if (this.downSince === undefined) {
          this.downSince = Date.now();
          this.log.warn({ store: this.backend, reason: err.message }, "rate-limit store unreachable");
        }
        throw err;
      },
    );
  }
}
