/**
 * A local address to continue to after signing in, from `?next=`: only a path on this origin, so a crafted
 * link cannot send a person elsewhere after they sign in. Parsed as the browser will parse it (tabs and
 * newlines dropped, backslashes read as slashes): "/\t/evil.example" is "//evil.example", another origin.
 */
export function safeNext(value: string | null, fallback: string, origin: string): string {
  if (!value?.startsWith("/")) return fallback;
  let url: URL;
  try {
    url = new URL(value, origin);
  } catch {
    return fallback;
  }
  return url.origin === origin ? url.pathname + url.search + url.hash : fallback;
}
