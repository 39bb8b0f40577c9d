import type { InvalidationBus } from "./bus.js";
import { TtlMap } from "./ttl-map.js";

/**
 * An in-process cache whose invalidations reach every node: `invalidate(message)` applies the message
 * here and publishes it on the bus; other nodes apply it when it arrives, and clear everything when their
 * subscription reconnects (messages may have been lost). The TTL bounds staleness in between.
 */
export class BroadcastCache<V> {
  private readonly map: TtlMap<V>;

  constructor(
    private readonly channel: string,
    ttlMs: number,
    max: number,
    private readonly bus: InvalidationBus | undefined,
    /** How a message (e.g. `s:<id>`) removes entries; the same function runs here and on other nodes. */
    private readonly onMessage: (map: TtlMap<V>, message: string) => void,
  ) {
    this.map = new TtlMap(ttlMs, max);
    bus?.register(
      channel,
      (m) => onMessage(this.map, m),
      () => this.map.clear(),
    );
  }

  get(key: string, now: number): V | undefined {
    return this.map.get(key, now);
  }

  set(key: string, value: V, now: number): void {
    this.map.set(key, value, now);
  }

  /** Applies the message here at once; the promise settles when other nodes have been sent it. */
  invalidate(message: string): Promise<void> {
    this.onMessage(this.map, message);
    return this.bus?.publish(this.channel, message) ?? Promise.resolve();
  }
}
