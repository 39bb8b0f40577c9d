/** What is wrong with a Sentry DSN (`https://<key>@<host>/<project>`), never echoing it: it holds a key. */
export function dsnProblem(dsn: string, production: boolean): string | undefined {
  let u: URL;
  try {
    u = new URL(dsn);
  } catch {
    return "not a URL (expected https://<key>@<host>/<project>)";
  }
  if (u.protocol !== "https:" && (production || u.protocol !== "http:"))
    return production ? "must be https in production" : "must be http or https";
  if (!u.username) return "names no key (https://<key>@<host>/<project>)";
  if (!/^\/(?:[^/]+\/)*\d+$/.test(u.pathname)) return "names no project (https://<key>@<host>/<project>)";
  return undefined;
}
