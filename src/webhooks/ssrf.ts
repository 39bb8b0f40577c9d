import { lookup as dnsLookup } from "node:dns/promises";
import { isIP, type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

/** A resolved address, as `dns.lookup(…, { all: true })` answers. */
export interface Resolved {
  readonly address: string;
  readonly family: number;
}
/** Resolves a host name to every address it has (injectable: tests answer for names no DNS knows). */
export type Resolver = (host: string) => Promise<readonly Resolved[]>;

export const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Thrown when a webhook URL may not be reached (HOOK-7); the message says why, never more. */
export class UnsafeTarget extends Error {
  override readonly name = "UnsafeTarget";
}

/**
 * Where webhooks may go (HOOK-7). Public unicast addresses only: loopback, private (RFC 1918), link-local
 * (and so the cloud metadata address 169.254.169.254), CGNAT (100.64/10, and Alibaba's metadata
 * 100.100.100.200), multicast, broadcast, unspecified, reserved, IPv6 unique-local (and AWS's metadata
 * fd00:ec2::254) and link-local are refused, and IPv4-mapped, NAT64 and 6to4 IPv6 forms are judged by
 * the IPv4 address inside. The allowlist (hosts, addresses, CIDRs) opens exceptions on purpose.
 */
export class TargetPolicy {
  private readonly hosts = new Set<string>();
  private readonly ranges: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];

  constructor(
    allowlist: readonly string[],
    /** Plain http to any host (development); else only to allowlisted ones. */
    private readonly allowHttp: boolean,
    private readonly resolve: Resolver = systemResolver,
  ) {
    for (const raw of allowlist) {
      const entry = raw.trim().toLowerCase();
      if (!entry) continue;
      if (entry.includes("/")) {
        try {
          this.ranges.push(ipaddr.parseCIDR(entry));
        } catch {
          throw new Error(`BULWARK_WEBHOOK_ALLOWLIST: "${raw}" is not a valid CIDR`);
        }
      } else if (isIP(entry) || isIP(entry.replace(/^\[|\]$/g, ""))) {
        const a = ipaddr.parse(entry.replace(/^\[|\]$/g, ""));
        this.ranges.push([a, a.kind() === "ipv4" ? 32 : 128]);
      } else if (/^[a-z0-9.-]{1,253}$/.test(entry)) this.hosts.add(entry);
      else throw new Error(`BULWARK_WEBHOOK_ALLOWLIST: "${raw}" is not a host, an address or a CIDR`);
    }
  }

  /** Whether the allowlist opens anything (the security page says so). */
  get hasExceptions(): boolean {
    return this.hosts.size > 0 || this.ranges.length > 0;
  }

  /**
   * Checks a URL's form: http(s), no credentials, a host; https unless http is allowed here or the host
   * is allowlisted. Returns the parsed URL. Does not resolve (see `check`).
   */
  parse(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw new UnsafeTarget("not a valid URL");
    }
    if (url.protocol !== "https:" && url.protocol !== "http:")
      throw new UnsafeTarget("the URL must be https");
    if (url.username || url.password) throw new UnsafeTarget("the URL may not carry credentials");
    if (!url.hostname) throw new UnsafeTarget("the URL has no host");
    if (url.protocol === "http:" && !this.allowHttp && !this.hostAllowed(url.hostname))
      throw new UnsafeTarget("the URL must be https");
    return url;
  }

  /**
   * Resolves the URL's host and checks every address it has (a name with one private address among
   * public ones is refused: a client could be sent to either). Returns the checked addresses, which the
   * caller must connect to (`lookup`), so no second resolution can answer differently (DNS rebinding).
   */
  async check(url: URL): Promise<readonly Resolved[]> {
    const host = bare(url.hostname);
    const literal = isIP(host);
    if (this.hostAllowed(url.hostname) && !literal) return this.resolve(host);
    const addresses = literal ? [{ address: host, family: literal }] : await this.resolve(host);
    if (addresses.length === 0) throw new UnsafeTarget(`${host} has no address`);
    for (const a of addresses) {
      const why = this.refusal(a.address);
      // The address itself is not said: a tenant must not learn internal addresses through this.
      if (why) throw new UnsafeTarget(`${host} resolves to ${why} address`);
    }
    return addresses;
  }

  /** Why an address may not be reached (a range's name), or undefined when it may. */
  refusal(address: string): string | undefined {
    let parsed: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      // process(): an IPv4-mapped IPv6 address (::ffff:127.0.0.1, ::ffff:7f00:1) becomes the IPv4 one.
      parsed = ipaddr.process(address);
    } catch {
      return "an unparsable";
    }
    if (this.ranges.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match(net, bits)))
      return undefined;
    let range = parsed.range();
    // IPv4-compatible IPv6 (::a.b.c.d, deprecated): reachable as the IPv4 inside on some hosts. Refused.
    if (parsed.kind() === "ipv6" && (parsed as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0))
      return range === "unicast" ? "an IPv4-compatible" : (RANGE_NAMES[range] ?? "a non-public");
    // NAT64 and 6to4 embed an IPv4 address that the gateway would reach: judge that one.
    if (parsed.kind() === "ipv6" && (range === "rfc6052" || range === "rfc6145" || range === "6to4")) {
      const bytes = (parsed as ipaddr.IPv6).toByteArray();
      const v4 = range === "6to4" ? bytes.slice(2, 6) : bytes.slice(12, 16);
      const inner = new ipaddr.IPv4(v4);
      if (this.ranges.some(([net, bits]) => net.kind() === "ipv4" && inner.match(net, bits)))
        return undefined;
      range = inner.range();
    }
    return range === "unicast" ? undefined : (RANGE_NAMES[range] ?? `a non-public (${range})`);
  }

  /**
   * A `lookup` for the socket of one delivery: answers with the addresses `check` approved, whatever
   * name is asked, so the connection goes exactly where the check looked (undici's `connect.lookup`).
   */
  pinned(addresses: readonly Resolved[]): LookupFunction {
    return (_host, options, callback) => {
      const all = (options as { all?: boolean }).all;
      if (all) (callback as (e: null, a: Resolved[]) => void)(null, [...addresses]);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
  }

  private hostAllowed(hostname: string): boolean {
    const host = bare(hostname).toLowerCase();
    if (this.hosts.has(host)) return true;
    if (!isIP(host)) return false;
    return this.refusal(host) === undefined && this.ranges.length > 0 && this.inRanges(host);
  }

  private inRanges(address: string): boolean {
    const parsed = ipaddr.process(address);
    return this.ranges.some(([net, bits]) => net.kind() === parsed.kind() && parsed.match(net, bits));
  }
}

const bare = (hostname: string) => hostname.replace(/^\[|\]$/g, "");

const RANGE_NAMES: Record<string, string> = {
  loopback: "a loopback",
  private: "a private",
  linkLocal: "a link-local (cloud metadata)",
  carrierGradeNat: "a carrier-grade NAT",
  uniqueLocal: "a unique-local",
  multicast: "a multicast",
  broadcast: "a broadcast",
  unspecified: "an unspecified",
  reserved: "a reserved",
  ipv4Mapped: "an IPv4-mapped",
  teredo: "a Teredo",
  benchmarking: "a benchmarking",
  amt: "an AMT",
  as112: "an AS112",
  deprecated: "a deprecated",
  orchid2: "an ORCHID",
  droneRemoteIdProtocolEntityTags: "a reserved",
};
