import { BroadcastCache } from "../state/broadcast-cache.js";
import type { InvalidationBus } from "../state/bus.js";
import type { SessionRow } from "./tables.js";

/** A session with the public fields of its owner, as the guard needs them. */
export interface SessionEntry extends SessionRow {
  email: string | null;
  email_verified_at: number | null;
  /** The user's display name (null for admins and for users who set none). */
  name?: string | null;
}

const CHANNEL = "bulwark:sessions:revoked";

/**
 * Validated sessions, kept in process so an authenticated read costs no database round trip. An entry
 * lives at most `ttlMs` (30 s); expiry and idle time are still checked on every request from the cached
 * row. Revocation drops entries at once on this node and, through the invalidation bus (Redis pub/sub),
 * on every other node (OPS-4); the TTL bounds staleness should a message be lost while Redis is down.
 */
export class SessionCache {
  private readonly cache: BroadcastCache<SessionEntry>;

  constructor(ttlMs = 30_000, max = 50_000, bus?: InvalidationBus) {
    this.cache = new BroadcastCache<SessionEntry>(CHANNEL, ttlMs, max, bus, (map, message) => {
      const value = message.slice(2);
      if (message.startsWith("s:")) map.delete(value);
      else if (message.startsWith("u:")) map.deleteWhere((_, e) => e.user_id === value);
    });
  }

  get(id: string, now: number): SessionEntry | undefined {
    return this.cache.get(id, now);
  }

  set(entry: SessionEntry, now: number): void {
    this.cache.set(entry.id, entry, now);
  }

  /** Forgets one session here and on every node. */
  dropSession(id: string): void {
    this.cache.invalidate(`s:${id}`);
  }

  /** Forgets every session of a principal here and on every node. */
  dropPrincipal(principalId: string): void {
    this.cache.invalidate(`u:${principalId}`);
  }
}
