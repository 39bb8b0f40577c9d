import type { Redis } from "ioredis";
import type { Logger } from "../log/logger.js";

/**
 * Cache invalidation across nodes (OPS-4): in-process caches register a channel; a change published on
 * one node reaches every node over Redis pub/sub. Without Redis there is one node and nothing to
 * tell. When the subscription (re)connects, every cache is cleared: messages sent while this node was
 * cut off are lost, so nothing cached before can be trusted.
 */
export class InvalidationBus {
  private readonly handlers = new Map<
    string,
    { onMessage: (message: string) => void; onReset: () => void }
  >();
  private subscriber: Redis | undefined;

  constructor(private readonly redis?: Redis) {}

  /** Registers a cache's channel; call before `start`. */
  register(channel: string, onMessage: (message: string) => void, onReset: () => void): void {
    this.handlers.set(channel, { onMessage, onReset });
  }

  async start(log: Logger): Promise<void> {
    if (!this.redis || this.handlers.size === 0) return;
    const sub = this.redis.duplicate({ enableOfflineQueue: true });
    sub.on("error", () => {});
    sub.on("message", (channel: string, message: string) => this.handlers.get(channel)?.onMessage(message));
    sub.on("ready", () => {
      for (const h of this.handlers.values()) h.onReset();
    });
    this.subscriber = sub;
    await sub
      .subscribe(...this.handlers.keys())
      .catch((err: Error) =>
        log.warn({ reason: err.message }, "invalidation channel unavailable; caches rely on their TTL"),
      );
  }

  /**
   * Publishes a change. Resolves once Redis has passed it to every subscribed node (or has failed: a lost
   * message is bounded by the caches' TTL), so a caller that awaits it answers only after other nodes
   * have been told.
   */
  async publish(channel: string, message: string): Promise<void> {
    await this.redis?.publish(channel, message).catch(() => {});
  }

  async close(): Promise<void> {
    await this.subscriber?.quit().catch(() => {});
  }
}
