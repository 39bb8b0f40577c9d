import { writeSync } from "node:fs";

/**
 * Log lines to stdout in batches. One syscall per line was a quarter of a small request's cost, and
 * pino's async destination (sonic-boom) re-measures its pending chunk in bytes on every line, which
 * costs as much again. This joins lines and writes when 16 KB are pending, every 250 ms, and
 * synchronously at exit. A hard kill (SIGKILL) loses at most the last 250 ms of log lines; the audit
 * trail lives in the database, not here.
 */
export class BatchedStdout {
  private lines: string[] = [];
  private size = 0;

  constructor(
    private readonly maxChars = 16_384,
    intervalMs = 250,
  ) {
    setInterval(() => this.flush(), intervalMs).unref();
    process.once("exit", () => this.flushSync());
  }

  write(line: string): void {
    this.lines.push(line);
    this.size += line.length;
    if (this.size >= this.maxChars) this.flush();
  }

  /** Hands pending lines to process.stdout, which queues them if the pipe is full. */
  flush(): void {
    if (this.size === 0) return;
    const chunk = this.lines.join("");
    this.lines = [];
    this.size = 0;
    process.stdout.write(chunk);
  }

  /** At exit the event loop is gone: write what is pending directly, retrying while a pipe is full. */
  flushSync(): void {
    if (this.size === 0) return;
    let chunk = Buffer.from(this.lines.join(""));
    this.lines = [];
    this.size = 0;
    for (let tries = 0; chunk.length > 0 && tries < 1000; tries++) {
      try {
        chunk = chunk.subarray(writeSync(1, chunk));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EAGAIN") return;
      }
    }
  }
}
