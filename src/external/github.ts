import * as client from "openid-client";
import type { SigninProvider } from "../config/signin-providers.js";

/**
 * Sign-in with GitHub (AUTH-11), which speaks OAuth 2 without OpenID Connect: no discovery, no ID token,
 * no userinfo. The endpoints follow from the server's address (github.com, or a GitHub Enterprise
 * Server's), and who signed in comes from GitHub's REST API with the access token: the numeric account
 * id (stable, unlike the login name, which its owner may change) and the primary address, with GitHub's
 * own "verified" flag for it.
 */

/**
 * What a sign-in asks for: the addresses with their verified flags. The account's id is public profile,
 * which any token reads; nothing more is asked, since the token (an OAuth app's never expires) is
 * dropped after these two reads but stays valid at GitHub until its owner revokes the app.
 */
export const GITHUB_SCOPE = "user:email";

/** The REST API version these reads are written against. */
const API_VERSION = "2022-11-28";

/** The REST API of a GitHub: api.github.com for github.com, `/api/v3` on an Enterprise Server. */
export function githubApi(issuer: string): string {
  return issuer === "https://github.com" ? "https://api.github.com" : `${issuer}/api/v3`;
}

/** openid-client's view of a GitHub: its two OAuth 2 endpoints, the client secret sent in the body. */
export function githubConfiguration(p: SigninProvider): client.Configuration {
  return new client.Configuration(
    {
      issuer: p.issuer,
      authorization_endpoint: `${p.issuer}/login/oauth/authorize`,
      token_endpoint: `${p.issuer}/login/oauth/access_token`,
    },
    p.clientId,
    { client_secret: p.clientSecret },
    client.ClientSecretPost(p.clientSecret),
  );
}

/**
 * GET one REST resource with the access token; its JSON, or an error naming what went wrong. Answers are
 * bounded in size by the fetch external sign-in reaches providers with (bounded-fetch.ts).
 */
async function read(config: client.Configuration, token: string, url: URL): Promise<unknown> {
  const res = await client.fetchProtectedResource(
    config,
    token,
    url,
    "GET",
    undefined,
    new Headers({ accept: "application/vnd.github+json", "x-github-api-version": API_VERSION }),
  );
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${url.pathname} answered ${res.status}`);
  return JSON.parse(text) as unknown;
}

/**
 * The GitHub account an access token belongs to: its id as the subject, and its primary address,
 * verified only when GitHub says so for that very address. A non-primary address never stands in: the
 * primary is the one GitHub mails, the one its owner chose.
 */
export async function githubAccount(
  config: client.Configuration,
  issuer: string,
  token: string,
): Promise<{ subject: string; email: string | undefined; verified: boolean }> {
  const api = githubApi(issuer);
  const user = (await read(config, token, new URL(`${api}/user`))) as { id?: unknown } | null;
  const id = user?.id;
  if (typeof id !== "number" || !Number.isSafeInteger(id) || id <= 0)
    throw new Error("the account has no numeric id");
  // The primary is on the first page unless an account has over 100 addresses (then: no address, refused).
  const emails = await read(config, token, new URL(`${api}/user/emails?per_page=100`));
  if (!Array.isArray(emails)) throw new Error("the address list is not a list");
  const primary = (emails as { email?: unknown; primary?: unknown; verified?: unknown }[]).find(
    (e) => e !== null && typeof e === "object" && e.primary === true && typeof e.email === "string",
  );
  return {
    subject: String(id),
    email: primary?.email as string | undefined,
    verified: primary?.verified === true,
  };
}
