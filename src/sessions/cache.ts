import type { InvalidationBus } from "../state/bus.js";
import { TtlMap } from "../state/ttl-map.js";
import type { SessionRow } from "./tables.js";

/** A session with the public fields of its owner, as the guard needs them. */
export interface SessionEntry extends SessionRow {
  email: string | null;
  email_verified_at: number | null;
}

const CHANNEL = "bulwark:sessions:revoked";

/**
 * Validated sessions, kept in process so an authenticated read costs no database round trip. An entry
 * lives at most `ttlMs` (30 s); expiry and idle time are still checked on every request from the cached
 * row. Revocation drops entries at once on this node and, through the invalidation bus (Redis pub/sub),
 * on every other node (OPS-4); the TTL bounds staleness should a message be lost while Redis is down.
 */
export class SessionCache {
  private readonly map: TtlMap<SessionEntry>;

  constructor(
    ttlMs = 30_000,
    max = 50_000,
    private readonly bus?: InvalidationBus,
  ) {
    this.map = new TtlMap(ttlMs, max);
    bus?.register(
      CHANNEL,
      (m) => this.apply(m),
      () => this.map.clear(),
    );
  }

  get(id: string, now: number): SessionEntry | undefined {
    return this.map.get(id, now);
  }

  set(entry: SessionEntry, now: number): void {
    this.map.set(entry.id, entry, now);
  }

  /** Forgets one session here and on every node. */
  dropSession(id: string): void {
    this.map.delete(id);
    this.bus?.publish(CHANNEL, `s:${id}`);
  }

  /** Forgets every session of a principal here and on every node. */
  dropPrincipal(principalId: string): void {
    this.apply(`u:${principalId}`);
    this.bus?.publish(CHANNEL, `u:${principalId}`);
  }

  private apply(message: string): void {
    const value = message.slice(2);
    if (message.startsWith("s:")) this.map.delete(value);
    else if (message.startsWith("u:")) this.map.deleteWhere((_, e) => e.user_id === value);
  }
}
