import type { FastifyReply, FastifyRequest } from "fastify";
import type { RequestLimits } from "../auth/pipeline.js";
import type { EffectiveSecurity } from "../auth/requirements.js";
import type { Config, LimitedTier } from "../config/load.js";
import { isSelfCheck, SELF_CHECK_BUCKET } from "../http/self-check.js";
import { ipv6Groups, plainIp } from "../util/ip.js";
import { rateLimited } from "./auth-limits.js";
import { type CounterStore, type Decision, Limiter } from "./limiter.js";

const MINUTE = 60_000;

/** One counted policy of a request: its name (in the RateLimit fields) and its decision. */
interface Counted {
  readonly policy: Limiter;
  readonly decision: Decision;
}

const COUNTED = Symbol("bulwark.rate");
type Tracked = FastifyRequest & { [COUNTED]?: Counted[] };

/**
 * The client key of an address: IPv4 as is (an IPv4-mapped IPv6 address as its IPv4), IPv6 by its /64,
 * the block one subscriber is normally given, so rotating through a /64 buys no extra quota.
 */
export function addressKey(ip: string): string {
  if (!ip.includes(":")) return ip;
  const v4 = plainIp(ip);
  if (v4 !== ip) return v4;
  const groups = ipv6Groups(ip);
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

/** The address a request counts against; the server's own self-checks count in a bucket of their own. */
const clientKey = (request: FastifyRequest): string =>
  isSelfCheck(request) ? SELF_CHECK_BUCKET : addressKey(request.ip);

/**
 * The API's request limits (RATE-1…RATE-4), as two steps of the guard pipeline. Before authentication:
 * per client address, so unauthenticated floods and key guessing count too. After it: per API key, per
 * user, per organisation, and the route's tier, counted per principal and operation (the general tier per address,
 * for anonymous callers only: signed-in callers have their per-user and per-key budgets). Whichever
 * policy is exhausted first refuses, with 429 and Retry-After. Every answer carries the most constraining
 * policy in `X-RateLimit-*` and in the IETF fields (draft-ietf-httpapi-ratelimit-headers-11), which also
 * list every policy applied in `RateLimit-Policy`. Authentication surfaces have their own limiters (AUTH-7).
 */
export class ApiLimits implements RequestLimits {
  private readonly ip: Limiter;
  private readonly key: Limiter;
  private readonly user: Limiter;
  private readonly org: Limiter;
  private readonly tiers: Record<LimitedTier, Limiter>;

  constructor(store: CounterStore, config: Config, now: () => number = () => Date.now()) {
    const r = config.rate;
    const make = (name: string, limit: number, windowMs: number) =>
      new Limiter(store, name, limit, windowMs, now, r.onStoreError);
    this.ip = make("ip", r.ipPerMinute, MINUTE);
    this.key = make("key", r.keyPerMinute, MINUTE);
    this.user = make("user", r.userPerMinute, MINUTE);
    this.org = make("org", r.orgPerMinute, MINUTE);
    this.tiers = {
      general: make("general", r.tiers.general.limit, r.tiers.general.windowMs),
      sensitive: make("sensitive", r.tiers.sensitive.limit, r.tiers.sensitive.windowMs),
      admin: make("admin", r.tiers.admin.limit, r.tiers.admin.windowMs),
      export: make("export", r.tiers.export.limit, r.tiers.export.windowMs),
    };
  }

  applies(sec: EffectiveSecurity): boolean {
    return sec.rate !== "none" && sec.rate !== "auth";
  }

  before(request: FastifyRequest, reply: FastifyReply, sec: EffectiveSecurity): void | Promise<void> {
    return this.count(request, reply, [[this.ip, clientKey(request)]], sec.cost ?? 1);
  }

  after(request: FastifyRequest, reply: FastifyReply, sec: EffectiveSecurity): void | Promise<void> {
    const p = request.principal;
    const address = clientKey(request);
    const checks: Array<[Limiter, string]> = [];
    if (p?.kind === "api_key") checks.push([this.key, p.id]);
    else if (p?.userId) checks.push([this.user, p.userId]);
    if (request.tenant) checks.push([this.org, request.tenant.orgId]);
    // A tier counts each operation on its own ("3 sensitive operations an hour" is per operation: enrolling
    // a second factor must not use up the password change).
    const tier = sec.rate as LimitedTier;
    if (tier !== "general")
      checks.push([this.tiers[tier], `${p?.id ?? address}|${request.method} ${request.routeOptions.url}`]);
    else if (!p) checks.push([this.tiers.general, address]);
    return this.count(request, reply, checks, sec.cost ?? 1);
  }

  /** Takes every check; synchronous when every store answers at once (in process). */
  private count(
    request: Tracked,
    reply: FastifyReply,
    checks: ReadonlyArray<readonly [Limiter, string]>,
    cost: number,
  ): void | Promise<void> {
    const taken = checks.map(([l, k]) => l.take(k, cost));
    if (taken.some((d) => d instanceof Promise))
      return Promise.all(taken).then((decisions) => this.settle(request, reply, checks, decisions, cost));
    this.settle(request, reply, checks, taken as Decision[], cost);
  }

  private settle(
    request: Tracked,
    reply: FastifyReply,
    checks: ReadonlyArray<readonly [Limiter, string]>,
    decisions: readonly Decision[],
    cost: number,
  ): void {
    const counted = request[COUNTED] ?? [];
    request[COUNTED] = counted;
    decisions.forEach((decision, i) => {
      if (!decision.unchecked) counted.push({ policy: checks[i]![0], decision });
    });
    let refused: Decision | undefined;
    for (const d of decisions)
      if (!d.allowed && (!refused || d.retryAfterMs > refused.retryAfterMs)) refused = d;
    // A request one policy refuses is not served: the others give back what it took, so a key past its
    // own limit cannot go on spending its organisation's budget (and lock the organisation's members out).
    if (refused)
      decisions.forEach((d, i) => {
        if (!d.allowed || d.unchecked || d.at === undefined) return;
        const [limiter, key] = checks[i]!;
        for (let n = 0; n < cost; n++) void limiter.refund(key, d.at);
      });
    writeHeaders(reply, counted, refused);
    if (refused) throw rateLimited(refused);
  }
}

const POLICY_FIELDS = new Map<string, string>();

/** `RateLimit-Policy` for a set of policies: a handful of sets exist, each built once. */
function policyField(counted: readonly Counted[]): string {
  let key = "";
  for (const c of counted) key += `${c.policy.name},`;
  let field = POLICY_FIELDS.get(key);
  if (field === undefined) {
    field = counted
      .map((c) => `"${c.policy.name}";q=${c.policy.limit};w=${c.policy.windowMs / 1000}`)
      .join(", ");
    if (POLICY_FIELDS.size < 1000) POLICY_FIELDS.set(key, field);
  }
  return field;
}

/** The binding policy: a refusal first, else the least remaining (as a share of its limit). */
function binding(counted: readonly Counted[]): Counted | undefined {
  let best: Counted | undefined;
  for (const c of counted) {
    if (!best) best = c;
    else if (c.decision.allowed !== best.decision.allowed) best = c.decision.allowed ? best : c;
    else if (c.decision.remaining / c.decision.limit < best.decision.remaining / best.decision.limit)
      best = c;
  }
  return best;
}

/**
 * RATE-4: `X-RateLimit-Limit/Remaining/Reset` (Reset in seconds from now, like the IETF `t`) for the
 * binding policy, `RateLimit-Policy` listing every policy applied (`"name";q=<quota>;w=<window s>`) and
 * `RateLimit` the binding one's state (`"name";r=<remaining>;t=<seconds>`), as RFC 9651 structured fields.
 */
function writeHeaders(reply: FastifyReply, counted: readonly Counted[], refused: Decision | undefined): void {
  const b = binding(counted);
  if (!b) return;
  const d = refused ?? b.decision;
  const t = Math.max(0, Math.ceil((refused ? d.retryAfterMs : d.resetMs) / 1000));
  reply
    .header("x-ratelimit-limit", String(b.policy.limit))
    .header("x-ratelimit-remaining", String(d.remaining))
    .header("x-ratelimit-reset", String(t))
    .header("ratelimit-policy", policyField(counted))
    .header("ratelimit", `"${b.policy.name}";r=${d.remaining};t=${t}`);
}
