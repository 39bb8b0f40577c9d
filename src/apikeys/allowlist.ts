import { BlockList, isIP } from "node:net";
import { ipv6Groups, plainIp } from "../util/ip.js";

/** An address as a number (IPv4: 32 bits, IPv6: 128), for the host-bits check. */
function toBig(addr: string, family: number): bigint {
  if (family === 4) return addr.split(".").reduce((n, o) => (n << 8n) | BigInt(o), 0n);
  const groups = ipv6Groups(addr);
  return groups.reduce((n, g) => (n << 16n) | BigInt(`0x${g || "0"}`), 0n);
}

/**
 * Parses one allowlist entry (KEY-6): an IPv4 or IPv6 address or CIDR. Returns the canonical text, or
 * undefined when the entry is not one (the API answers 400 naming it). A CIDR with host bits set
 * (`10.0.0.1/0`) is refused: it reads like one address and allows a whole range.
 */
export function parseIpEntry(entry: string): string | undefined {
  const [addr = "", bits, extra] = entry.trim().split("/");
  // A zone id (fe80::1%eth0) names an interface of this host, not a caller.
  if (extra !== undefined || addr.includes("%")) return undefined;
  const family = isIP(addr);
  if (family === 0) return undefined;
  if (bits === undefined) return addr.toLowerCase();
  const width = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > width) return undefined;
  const host = (1n << BigInt(width - Number(bits))) - 1n;
  if ((toBig(addr, family) & host) !== 0n) return undefined;
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
    const address = plainIp(ip);
    const family = isIP(address);
    if (family === 0) return false;
    return this.list.check(address, family === 6 ? "ipv6" : "ipv4");
  }
}
