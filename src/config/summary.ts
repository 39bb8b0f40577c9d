import type { Config } from "./load.js";
import { redactSecret } from "./secrets.js";

/** One screen of the effective configuration for the start-up log, with every secret redacted. */
export function configSummary(c: Config): string {
  const db = c.database.url
    ? `postgresql ${redactUrlPassword(c.database.url)} schema=${c.database.schema} role=${c.database.appRole}`
    : `sqlite ${c.dataDir}/bulwark.db`;
  return [
    `profile        ${c.profile}`,
    `listen         ${c.http.tls ? "https" : "http"}://${c.host}:${c.port}  public ${c.publicUrl}`,
    `database       ${db}`,
    `shared state   ${c.redisUrl ? `redis ${redactUrlPassword(c.redisUrl)}` : "in-process (single node)"}`,
    `https policy   ${c.http.httpsPolicy}  hsts ${c.http.hsts.enabled ? `max-age=${c.http.hsts.maxAge}` : "off"}  trusted proxies ${c.http.trustedProxies.join(",") || "none"}`,
    `cors origins   ${c.http.corsOrigins.join(", ") || "none (fail closed)"}`,
    `limits         body ${c.http.bodyLimit} B  json depth ${c.http.jsonMaxDepth}`,
    `secret         ${redactSecret(c.secret)}  metrics token ${redactSecret(c.metricsToken)}`,
    `sign-in with   ${c.auth.providers.map((p) => `${p.id} (${p.issuer}, secret ${redactSecret(p.clientSecret)})`).join(", ") || "no external provider"}`,
    `log level      ${c.logLevel}  access log ${c.accessLog}`,
    ...c.warnings.map((w) => `WARNING        ${w}`),
  ].join("\n");
}

/** A URL with its password replaced, for logs and summaries. */
export function redactUrlPassword(u: string): string {
  try {
    const url = new URL(u);
    if (url.password) url.password = "****";
    return url.toString();
  } catch {
    return "(invalid url)";
  }
}
