import { BlockList, isIP } from "node:net";

/** An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports) as plain IPv4. */
const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;
const plain = (ip: string): string => MAPPED.exec(ip)?.[1] ?? ip;

/**
 * Parses one allowlist entry (KEY-6): an IPv4 or IPv6 address or CIDR. Returns the canonical text, or
 * undefined when the entry is not one (the API answers 400 naming it).
 */
export function parseIpEntry(entry: string): string | undefined {
  const [addr = "", bits, extra] = entry.trim().split("/");
  if (extra !== undefined) return undefined;
  const family = isIP(addr);
  if (family === 0) return undefined;
  if (bits === undefined) return addr.toLowerCase();
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128)) return undefined;
  return `${addr.toLowerCase()}/${Number(bits)}`;
}

/**
 * A key's IP allowlist, compiled once per cached key into node's BlockList (prefix matching for both
 * families, no dependency). An empty list allows every address.
 */
export class IpAllowlist {
  private readonly list: BlockList | undefined;

  constructor(entries: readonly string[]) {
    if (entries.length === 0) return;
    const list = new BlockList();
    for (const e of entries) {
      const [addr = "", bits] = e.split("/");
      const type = isIP(addr) === 6 ? "ipv6" : "ipv4";
      if (bits === undefined) list.addAddress(addr, type);
      else list.addSubnet(addr, Number(bits), type);
    }
    this.list = list;
  }

  allows(ip: string): boolean {
    if (!this.list) return true;
    const address = plain(ip);
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 6 ? "ipv6" : "ipv4");
  }
}
