import { Redis } from "ioredis";
import { redactUrlPassword } from "../config/summary.js";
import type { Logger } from "../log/logger.js";

/**
 * The shared-state connection (OPS-4). Commands fail fast while Redis is down (no offline queue, one
 * retry), so callers can apply their fail-open or fail-closed policy instead of hanging; the client keeps
 * reconnecting in the background with capped backoff.
 */
export function connectRedis(url: string, log: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    // Commands issued in the same tick go out as one pipeline: the limiter's scripts of one request (and
    // of concurrent requests) share a round trip.
    enableAutoPipelining: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
    retryStrategy: (times) => Math.min(times * 200, 2000),
  });
  let down = false;
  redis.on("error", (err) => {
    if (!down) log.warn({ redis: redactUrlPassword(url), reason: err.message }, "redis unavailable");
    down = true;
  });
  redis.on("ready", () => {
    if (down) log.info({ redis: redactUrlPassword(url) }, "redis reachable again");
    down = false;
  });
  redis.connect().catch(() => {});
  return redis;
}
