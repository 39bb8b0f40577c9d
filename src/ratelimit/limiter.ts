import { AppError } from "../http/errors.js";

/**
 * The counter store behind every limiter: a sliding-window counter (the current fixed window plus the
 * previous one, weighted by how much of it still overlaps the sliding window). It is exact enough for
 * abuse limits, needs two numbers per key, and maps onto one atomic Redis script later (RATE-1).
 */
export interface CounterStore {
  /**
   * Adds `by` hits to `key` (0 to only read) unless that would take the sliding-window count past `cap`,
   * and returns the count with them (`added` says whether they were). A refused hit is not recorded: a
   * client retrying against a closed door must not push its own reopening further out. One atomic step
   * (a Lua script on Redis).
   */
  add(
    key: string,
    windowMs: number,
    now: number,
    by: number,
    cap?: number,
  ): Promise<{ count: number; windowStart: number; previous: number; current: number; added: boolean }>;
  /**
   * Takes back one hit added at `at` (a reservation that turned out not to count): from the window it
   * went into, if that is still the current or the previous one; never below zero.
   */
  refund(key: string, windowMs: number, at: number, now: number): Promise<void>;
  reset(key: string): Promise<void>;
  /**
   * `add`, answered at once, by a store that holds its counters in process: the hot path of a single
   * node then costs no promise. Absent on stores that must ask another process (Redis).
   */
  addNow?(key: string, windowMs: number, now: number, by: number, cap?: number): Counted;
}

/** What a store answers for one `add`. */
export interface Counted {
  count: number;
  windowStart: number;
  previous: number;
  current: number;
  added: boolean;
}

/**
 * Whether a caller's window is behind a stored one by clock skew (at most one window): it then counts
 * into the stored window. A stored window further ahead came from a clock that jumped and was put back;
 * it is reset rather than honoured, or it would hold the counter closed until the wall clock caught up.
 */
const behind = (start: number, stored: number, windowMs: number): boolean =>
  start < stored && stored - start <= windowMs;

interface Entry {
  start: number;
  current: number;
  previous: number;
  windowMs: number;
}

/**
 * In-process counters: the default single-node store. Bounded per limiter (the name before the first
 * `:` of a key), so a flood of one limiter's keys (API traffic from many addresses) never evicts another's
 * counters (sign-in failures). Past `max` keys a limiter's map drops the entries whose own window has
 * passed, and if that is not enough, its oldest tenth: a flood of distinct keys costs a sweep per tenth of
 * `max`, never one per request. A counter never rolls backwards (as in the Redis store).
 */
export class MemoryCounterStore implements CounterStore {
  private readonly maps = new Map<string, Map<string, Entry>>();

  constructor(private readonly max = 100_000) {}

  private mapOf(key: string): Map<string, Entry> {
    const name = key.slice(0, key.indexOf(":") + 1);
    let m = this.maps.get(name);
    if (!m) {
      m = new Map();
      this.maps.set(name, m);
    }
    return m;
  }

  async add(key: string, windowMs: number, now: number, by: number, cap = Number.POSITIVE_INFINITY) {
    return this.addNow(key, windowMs, now, by, cap);
  }

  addNow(key: string, windowMs: number, now: number, by: number, cap = Number.POSITIVE_INFINITY): Counted {
    const start = now - (now % windowMs);
    const map = this.mapOf(key);
    let e = map.get(key);
    if (!e) {
      e = { start, current: 0, previous: 0, windowMs };
      if (map.size >= this.max) this.sweep(map, now);
      map.set(key, e);
    } else if (start !== e.start && !behind(start, e.start, windowMs)) {
      e.previous = e.start === start - windowMs ? e.current : 0;
      e.current = 0;
      e.start = start;
    }
    const weight = start < e.start ? 1 : 1 - (now - start) / windowMs;
    const added = e.previous * weight + e.current + by <= cap;
    if (added) e.current += by;
    return {
      count: e.previous * weight + e.current + (added ? 0 : by),
      windowStart: start,
      previous: e.previous,
      current: e.current,
      added,
    };
  }

  async refund(key: string, windowMs: number, at: number, now: number): Promise<void> {
    const e = this.mapOf(key).get(key);
    if (!e) return;
    const start = now - (now % windowMs);
    if (behind(start, e.start, windowMs)) {
      e.current = Math.max(0, e.current - 1);
      return;
    }
    if (e.start !== start) {
      // Roll the entry forward first, exactly as add() would.
      e.previous = e.start === start - windowMs ? e.current : 0;
      e.current = 0;
      e.start = start;
    }
    const from = at - (at % windowMs);
    if (from === e.start) e.current = Math.max(0, e.current - 1);
    else if (from === e.start - windowMs) e.previous = Math.max(0, e.previous - 1);
  }

  async reset(key: string): Promise<void> {
    this.mapOf(key).delete(key);
  }

  /** Drops entries no window weighs any more; then, if still full, the oldest tenth (insertion order). */
  private sweep(map: Map<string, Entry>, now: number): void {
    for (const [k, v] of map) if (v.start + 2 * v.windowMs <= now) map.delete(k);
    if (map.size < this.max * 0.9) return;
    let drop = map.size - Math.floor(this.max * 0.9);
    for (const k of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(k);
    }
  }
}

export interface Decision {
  readonly allowed: boolean;
  readonly limit: number;
  readonly remaining: number;
  /** Milliseconds until one more hit would be allowed (0 when allowed now). */
  readonly retryAfterMs: number;
  /** Milliseconds until the current fixed window ends and its count starts to decay. */
  readonly resetMs: number;
  /** The store could not be reached and the limiter fails open: nothing was counted. */
  readonly unchecked?: true;
  /** When it was counted (the limiter's clock), to refund it from the right window. */
  readonly at?: number;
}

/** What a limiter does when its store cannot be reached (RATE-5). */
export type OnStoreError = "open" | "closed";

/** A reserved hit: the decision, and when it was taken (to refund it from the right window). */
export interface Reservation extends Decision {
  readonly at: number;
}

/**
 * One named limit: `limit` hits per `windowMs` per key, on the two-bucket sliding-window counter. Its
 * error bound: the previous window's hits are assumed spread evenly, so a burst at the very end of one
 * window and the start of the next can admit up to `limit` × (1 + the previous window's weight) in the
 * worst case over a window that straddles both, never more than 2 × `limit`; with evenly spread traffic
 * the count is exact. Within one fixed window it is exact: N allowed, N + 1 refused.
 *
 * When the store cannot be reached, `onStoreError` decides (RATE-5): `open` admits the request uncounted,
 * `closed` refuses it with 503; undoing a reservation is best-effort either way.
 */
export class Limiter {
  constructor(
    private readonly store: CounterStore,
    readonly name: string,
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = () => Date.now(),
    readonly onStoreError: OnStoreError = "closed",
  ) {}

  /** Reads the key's state without counting: for limits that count failures only (sign-in). */
  check(key: string): Promise<Decision> {
    return this.decide(key, 0);
  }

  /**
   * Counts one hit and decides. A refused hit is not counted: the door reopens when the allowed hits age
   * out of the window, and `Retry-After` never moves further out because a client retried.
   */
  hit(key: string): Promise<Decision> {
    return this.decide(key, 1);
  }

  /**
   * Reserves one hit before the work it limits, so attempts already in flight count (a burst sent at
   * once cannot all pass a check made before any of them finished). Give the reservation back with
   * `refund` when the attempt turns out not to count.
   */
  async reserve(key: string): Promise<Reservation> {
    const at = this.now();
    return { ...(await this.decide(key, 1, at)), at };
  }

  /** Takes back a reservation made at `at` (no-op once it has aged out of the window). */
  refund(key: string, at: number): Promise<void> {
    return this.store.refund(`${this.name}:${key}`, this.windowMs, at, this.now()).catch(() => {});
  }

  reset(key: string): Promise<void> {
    return this.store.reset(`${this.name}:${key}`).catch(() => {});
  }

  /**
   * Counts `by` hits (the route's cost) and decides: at once on an in-process store, otherwise through
   * the store's promise. Throws (or rejects) 503 when a closed limiter's store is unreachable.
   */
  take(key: string, by = 1): Decision | Promise<Decision> {
    const now = this.now();
    const k = `${this.name}:${key}`;
    if (this.store.addNow)
      return this.judge(this.store.addNow(k, this.windowMs, now, by, this.limit), by, now);
    return this.store.add(k, this.windowMs, now, by, this.limit).then(
      (s) => this.judge(s, by, now),
      () => this.unreachable(),
    );
  }

  private async decide(key: string, by: number, now = this.now()): Promise<Decision> {
    let s: Counted;
    try {
      s = await this.store.add(`${this.name}:${key}`, this.windowMs, now, by, this.limit);
    } catch {
      return this.unreachable();
    }
    return this.judge(s, by, now);
  }

  /** The store could not be reached: admit uncounted (open) or refuse with 503 (closed). */
  private unreachable(): Decision {
    if (this.onStoreError === "open")
      return {
        allowed: true,
        limit: this.limit,
        remaining: this.limit,
        retryAfterMs: 0,
        resetMs: 0,
        unchecked: true,
      };
    throw new AppError("SERVICE_UNAVAILABLE", "Rate limiting is unavailable; retry shortly.", undefined, {
      "retry-after": "5",
    });
  }

  private judge(s: Counted, by: number, now: number): Decision {
    const resetMs = s.windowStart + this.windowMs - now;
    const allowed = by === 0 ? s.count < this.limit : s.added;
    if (allowed)
      return {
        allowed,
        limit: this.limit,
        remaining: Math.max(0, Math.floor(this.limit - s.count)),
        retryAfterMs: 0,
        resetMs,
        at: now,
      };
    return {
      allowed,
      limit: this.limit,
      remaining: 0,
      retryAfterMs: Math.max(1000, Math.ceil(this.reopensAt(s.windowStart, s.previous, s.current) - now)),
      resetMs,
    };
  }

  /**
   * When one more hit fits: the first time t at which previous·(1 − (t − start)/W) + current + 1 ≤ limit.
   * Within this window only the previous window's weight decays; if this window alone is full, it is in
   * the next one, where this window's count becomes the decaying one.
   */
  private reopensAt(start: number, previous: number, current: number): number {
    const W = this.windowMs;
    const room = this.limit - 1 - current;
    if (room >= 0) return previous > 0 ? start + W * (1 - room / previous) : start;
    return start + W + W * Math.max(0, 1 - (this.limit - 1) / current);
  }
}
