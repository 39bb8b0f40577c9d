import proxyAddr from "proxy-addr";

/**
 * Fastify's trustProxy, compiled once and memoised per peer address. proxy-addr parses the address on
 * every call, and Fastify asks for every `request.ip` and `request.protocol`; a busy server sees the same
 * few proxy addresses over and over. The cache is bounded, so a flood of peers cannot grow it.
 */
export function trustProxyFn(
  trusted: readonly string[],
): ((address: string, hop: number) => boolean) | false {
  if (trusted.length === 0) return false;
  const compiled = proxyAddr.compile([...trusted]);
  const cache = new Map<string, boolean>();
  return (address: string, hop: number): boolean => {
    let hit = cache.get(address);
    if (hit === undefined) {
      hit = compiled(address, hop);
      if (cache.size >= 10_000) cache.clear();
      cache.set(address, hit);
    }
    return hit;
  };
}
