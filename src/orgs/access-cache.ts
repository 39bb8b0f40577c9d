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
  private readonly map = new Map<string, { value: Access; cachedAt: number }>();

  constructor(
    private readonly ttlMs = 30_000,
    private readonly max = 100_000,
    private readonly bus?: InvalidationBus,
  ) {
    bus?.register(
      CHANNEL,
      (m) => this.apply(m),
      () => this.map.clear(),
    );
  }

  get(orgId: string, userId: string, now: number): Access | undefined {
    const key = `${orgId}|${userId}`;
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (now - hit.cachedAt >= this.ttlMs) {
      this.map.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(orgId: string, userId: string, value: Access, now: number): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(`${orgId}|${userId}`, { value, cachedAt: now });
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
    else if (message.startsWith("o:"))
      for (const k of this.map.keys()) if (k.startsWith(`${value}|`)) this.map.delete(k);
  }
}
