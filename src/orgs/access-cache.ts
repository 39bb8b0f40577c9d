import type { InvalidationBus } from "../state/bus.js";
import { TtlMap } from "../state/ttl-map.js";
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
  private readonly map: TtlMap<Access>;

  constructor(
    ttlMs = 30_000,
    max = 100_000,
    private readonly bus?: InvalidationBus,
  ) {
    this.map = new TtlMap(ttlMs, max);
    bus?.register(
      CHANNEL,
      (m) => this.apply(m),
      () => this.map.clear(),
    );
  }

  get(orgId: string, userId: string, now: number): Access | undefined {
    return this.map.get(`${orgId}|${userId}`, now);
  }

  set(orgId: string, userId: string, value: Access, now: number): void {
    this.map.set(`${orgId}|${userId}`, value, now);
  }

  dropMember(orgId: string, userId: string): void {
    this.apply(`m:${orgId}|${userId}`);
    this.bus?.publish(CHANNEL, `m:${orgId}|${userId}`);
  }

  dropOrg(orgId: string): void {
    this.apply(`o:${orgId}`);
    this.bus?.publish(CHANNEL, `o:${orgId}`);
  }

  private apply(message: string): void {
    const value = message.slice(2);
    if (message.startsWith("m:")) this.map.delete(value);
    else if (message.startsWith("o:")) this.map.deleteWhere((k) => k.startsWith(`${value}|`));
  }
}
