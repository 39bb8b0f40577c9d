/**
 * External sign-in providers (AUTH-11), from the `SIGNIN_PROVIDERS` variable: a JSON array of OpenID
 * Connect providers, each found by discovery from its issuer URL, and GitHub (`"type": "github"`), which
 * speaks OAuth 2 without OpenID Connect: its endpoints follow from its address (github.com, or a GitHub
 * Enterprise Server's). The variable is a secret (it holds client secrets): it may come from
 * `SIGNIN_PROVIDERS_FILE` and is redacted in every summary and log.
 */
export interface SigninProvider {
  /** Its name in URLs (`/v1/auth/external/{id}/…`) and in linked identities: `google`, `acme-okta`. */
  readonly id: string;
  /** What the sign-in button says: "Continue with {name}". */
  readonly name: string;
  /**
   * `oidc`: discovery from `issuer`, an ID token. `github`: OAuth 2 at `issuer` (github.com by default,
   * or a GitHub Enterprise Server), the account and its addresses read from GitHub's REST API.
   */
  readonly type: "oidc" | "github";
  /** Identities are keyed by issuer and subject: for GitHub, its address and the numeric account id. */
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
}

const ID = /^[a-z0-9][a-z0-9-]{0,31}$/;
const KEYS = new Set(["id", "name", "type", "issuer", "clientId", "clientSecret"]);
const GITHUB = "https://github.com";

/** Parses the variable; every problem goes to `problems` (named by provider), the valid ones are returned. */
export function parseSigninProviders(
  raw: string | undefined,
  production: boolean,
  problems: string[],
): SigninProvider[] {
  if (!raw) return [];
  const bad = (why: string): void => {
    problems.push(`SIGNIN_PROVIDERS: ${why}`);
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    bad("not valid JSON (expected an array of {id, name, issuer, clientId, clientSecret})");
    return [];
  }
  if (!Array.isArray(parsed)) {
    bad("expected a JSON array of {id, name, issuer, clientId, clientSecret}");
    return [];
  }
  const out: SigninProvider[] = [];
  const seen = new Set<string>();
  for (const [i, p] of parsed.entries()) {
    const problem = checkOne(p, `provider ${i + 1}`, production, seen);
    if (typeof problem === "string") bad(problem);
    else out.push(problem);
  }
  return out;
}

/** One provider, or what is wrong with it (named by its id when it has one). */
function checkOne(p: unknown, at: string, production: boolean, seen: Set<string>): SigninProvider | string {
  if (typeof p !== "object" || p === null) return `${at}: not an object`;
  const o = p as Record<string, unknown>;
  const unknown = Object.keys(o).find((k) => !KEYS.has(k));
  if (unknown) return `${at}: unknown key ${unknown}`;
  const s = (k: string) =>
    typeof o[k] === "string" && (o[k] as string).trim() ? (o[k] as string).trim() : undefined;
  const id = s("id");
  if (!id || !ID.test(id)) return `${at}: id must be 1-32 lower-case letters, digits or dashes`;
  if (seen.has(id)) return `${at}: id ${id} appears twice`;
  seen.add(id);
  const type = s("type") ?? "oidc";
  if (type !== "oidc" && type !== "github") return `${id}: type must be oidc or github`;
  const issuer = s("issuer") ?? (type === "github" ? GITHUB : undefined);
  let url: URL | undefined;
  try {
    url = issuer ? new URL(issuer) : undefined;
  } catch {
    url = undefined;
  }
  if (!url || !["https:", "http:"].includes(url.protocol)) return `${id}: issuer must be an https URL`;
  // The issuer is shown (start-up summary, security page): credentials never belong in it.
  if (url.username || url.password) return `${id}: issuer must not carry credentials`;
  if (production && url.protocol !== "https:") return `${id}: issuer must be https in production`;
  if (type === "github" && (url.pathname !== "/" || /[?#]/.test(issuer!)))
    return `${id}: a GitHub issuer is the server's address (https://github.com, or your GitHub Enterprise Server's), without a path`;
  const clientId = s("clientId");
  const clientSecret = s("clientSecret");
  if (!clientId || !clientSecret) return `${id}: clientId and clientSecret are required`;
  // One spelling per GitHub (identities are keyed by its issuer): its origin, so "https://GitHub.com/"
  // and "https://github.com:443" are github.com. An OpenID issuer stays as written: discovery must
  // return exactly it.
  const key = type === "github" ? url.origin : issuer!;
  return { id, name: s("name") ?? id, type, issuer: key, clientId, clientSecret };
}
