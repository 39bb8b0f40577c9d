import type { Principal } from "../auth/principal.js";
import { BroadcastCache } from "../state/broadcast-cache.js";
import type { InvalidationBus } from "../state/bus.js";
import type { IpAllowlist } from "./allowlist.js";
import type { ApiKeyRow } from "./tables.js";

/** A key as the guard needs it: its row, its principal and its compiled pins, built once per cache fill. */
export interface VerifiedKey {
  readonly row: ApiKeyRow;
  readonly principal: Principal;
  /** Allowed origins; empty: any. */
  readonly origins: ReadonlySet<string>;
  readonly ips: IpAllowlist;
}

const CHANNEL = "bulwark:apikeys:changed";

/**
 * Verified keys by hash, in each process, so an API call costs no database round trip (KEY-4). Revoke
 * and rotate drop the key here and, through the invalidation bus, on every node; expiry and a rotation's
 * grace are checked on every request from the cached row, so they hold to the millisecond. The TTL (10 s)
 * bounds staleness should an invalidation message be lost while Redis is unreachable.
 */
export class ApiKeyCache {
  private readonly cache: BroadcastCache<VerifiedKey>;
  /**
   * Bumped by every invalidation, here or from another node. A lookup that read the database before an
   * invalidation must not cache what it read after it (the row may predate the revoke): `set` takes the
   * generation seen before the read and stores nothing if it has moved.
   */
  private gen = 0;

  constructor(bus: InvalidationBus | undefined, ttlMs = 10_000, max = 50_000) {
    this.cache = new BroadcastCache<VerifiedKey>(CHANNEL, ttlMs, max, bus, (map, message) => {
      this.gen++;
      if (message.startsWith("k:")) {
        const id = message.slice(2);
        map.deleteWhere((_, v) => v.row.id === id);
      }
    });
  }

  get(hash: string, now: number): VerifiedKey | undefined {
    return this.cache.get(hash, now);
  }

  /** The invalidation generation, to pass back to `set` after a database read. */
  get generation(): number {
    return this.gen;
  }

  set(hash: string, key: VerifiedKey, now: number, generation: number): void {
    if (generation === this.gen) this.cache.set(hash, key, now);
  }

  /** Forgets a key here and on every node: its next use reads the database. */
  drop(id: string): Promise<void> {
    return this.cache.invalidate(`k:${id}`);
  }
}
