/**
 * A bounded map whose entries expire `ttlMs` after they were set: the storage of Bulwark's in-process
 * caches. Past `max` entries it starts afresh rather than track recency: a full clear only costs
 * cache misses, and it keeps a flood of distinct keys from growing memory.
 */
export class TtlMap<V> {
  private readonly map = new Map<string, { value: V; at: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max: number,
  ) {}

  get(key: string, now: number): V | undefined {
    const hit = this.map.get(key);
    if (!hit) return undefined;
    if (now - hit.at >= this.ttlMs) {
      this.map.delete(key);
      return undefined;
    }
    return hit.value;
  }

  set(key: string, value: V, now: number): void {
    if (this.map.size >= this.max) this.map.clear();
    this.map.set(key, { value, at: now });
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  deleteWhere(matches: (key: string, value: V) => boolean): void {
    for (const [k, v] of this.map) if (matches(k, v.value)) this.map.delete(k);
  }

  clear(): void {
    this.map.clear();
  }
}
