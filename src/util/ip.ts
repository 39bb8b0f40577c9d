/**
 * The eight 16-bit groups of an IPv6 address, as hexadecimal text: `::` expanded, and an embedded IPv4
 * tail (`::ffff:192.0.2.1`) written as its two groups. For callers that reason about prefixes (a /64 as
 * one client, a CIDR's host bits); the address must already be valid (`net.isIP(a) === 6`).
 */
export function ipv6Groups(addr: string): string[] {
  let a = addr.toLowerCase();
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(a);
  if (v4) {
    const [b1, b2, b3, b4] = v4.slice(1).map(Number) as [number, number, number, number];
    a = `${a.slice(0, v4.index)}${((b1 << 8) | b2).toString(16)}:${((b3 << 8) | b4).toString(16)}`;
  }
  const part = (s: string): string[] => (s ? s.split(":") : []);
  if (!a.includes("::")) return part(a);
  const [head = "", tail = ""] = a.split("::");
  const left = part(head);
  const right = part(tail);
  return [...left, ...Array<string>(8 - left.length - right.length).fill("0"), ...right];
}

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports) as plain IPv4. */
export const plainIp = (ip: string): string => MAPPED.exec(ip)?.[1] ?? ip;
