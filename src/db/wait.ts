import type { Logger } from "../log/logger.js";
import { type Database, MissingRoleError } from "./database.js";

/**
 * OPS-1: a database that is still starting (container boot order, failover) is waited for, with a log
 * line per attempt and capped backoff, up to `seconds`; then start-up fails with the last error. It waits
 * as the schema owner (`as: "owner"`), who migrates next: the app role may not exist yet. A missing
 * role is a configuration problem, named at once rather than waited on.
 */
export async function waitForDatabase(
  db: Database,
  seconds: number,
  log: Logger,
  sleep = (ms: number) => new Promise((r) => setTimeout(r, ms)),
  as: "owner" | "app" = "owner",
): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let delay = 250;
  for (let attempt = 1; ; attempt++) {
    try {
      await db.ping(2000, { as });
      if (attempt > 1) log.info({ attempt }, "database reachable");
      return;
    } catch (err) {
      if (err instanceof MissingRoleError) throw err;
      const message = (err as Error).message;
      if (Date.now() + delay > deadline)
        throw new Error(`Database not reachable after ${seconds} s: ${message}`);
      log.warn({ attempt, retryInMs: delay, reason: message }, "waiting for the database");
      await sleep(delay);
      delay = Math.min(delay * 2, 5000);
    }
  }
}
