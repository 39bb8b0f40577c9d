import { BroadcastCache } from "../state/broadcast-cache.js";
import type { InvalidationBus } from "../state/bus.js";
import type { Role } from "./permissions.js";

export interface Access {
  readonly role: Role;
  readonly require_mfa: number;
}

const CHANNEL = "bulwark:memberships:changed";

/**
 * A caller's role in an organisation, kept in process so a tenant request needs no membership query.
 * Only memberships that exist are cached (a new member is a miss, never a stale "no"); every change
 * of role, removal or requirement drops the entries here and on every node; 30 s bounds the rest.
 */
export class AccessCache {
  private readonly cache: BroadcastCache<Access>;

  constructor(ttlMs = 30_000, max = 100_000, bus?: InvalidationBus) {
    this.cache = new BroadcastCache<Access>(CHANNEL, ttlMs, max, bus, (map, message) => {
      const value = message.slice(2);
      if (message.startsWith("m:")) map.delete(value);
      else if (message.startsWith("o:")) map.deleteWhere((k) => k.startsWith(`${value}|`));
    });
  }

  get(orgId: string, userId: string, now: number): Access | undefined {
    return this.cache.get(`${orgId}|${userId}`, now);
  }

  set(orgId: string, userId: string, value: Access, now: number): void {
    this.cache.set(`${orgId}|${userId}`, value, now);
  }

  dropMember(orgId: string, userId: string): void {
    this.cache.invalidate(`m:${orgId}|${userId}`);
  }

  dropOrg(orgId: string): void {
    this.cache.invalidate(`o:${orgId}`);
  }
}
