import type { JWK } from "jose";
import Provider, {
  type AdapterConstructor,
  type Configuration,
  type FindAccount,
  type KoaContextWithOIDC,
} from "oidc-provider";
import { safeEqual, sha256 } from "../util/ids.js";

/** The scopes a client may ask for, and the claims each releases (OpenID Connect Core 5.4). */
export const OIDC_SCOPES = ["openid", "offline_access", "email", "profile", "organization"] as const;
const CLAIMS = {
  openid: ["sub"],
  email: ["email", "email_verified"],
  profile: ["name"],
  // Bulwark's own: the organisation that registered the client, and the user's role in it.
  organization: ["org_id", "org_role"],
};

/** Paths of the provider's endpoints: all under /oidc/ but discovery (OpenID Connect Discovery 1.0 §4). */
export const OIDC_ROUTES = {
  authorization: "/oidc/auth",
  token: "/oidc/token",
  userinfo: "/oidc/me",
  jwks: "/oidc/jwks",
  revocation: "/oidc/token/revocation",
  introspection: "/oidc/token/introspection",
  end_session: "/oidc/session/end",
  pushed_authorization_request: "/oidc/request",
  code_verification: "/oidc/device",
  device_authorization: "/oidc/device/auth",
  registration: "/oidc/reg",
  backchannel_authentication: "/oidc/backchannel",
  challenge: "/oidc/challenge",
} as const;

export interface ProviderSettings {
  /** This server's public URL: the `iss` of ID tokens, like the access tokens'. */
  readonly issuer: string;
  /** Private JWKs, the signing key first (SigningKeys.privateJwks). */
  readonly keys: JWK[];
  /** Keys of the provider's signed cookies, newest first. */
  readonly cookieKeys: string[];
  readonly adapter: AdapterConstructor;
  readonly findAccount: FindAccount;
  /** Seconds each artefact lives. */
  readonly ttl: { accessToken: number; refreshToken: number; session: number };
}

const escapeHtml = (s: unknown) =>
  String(s).replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] as string,
  );

/** The provider's few HTML pages (an error, the sign-out confirmation): plain, escaped, no script. */
function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head><body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`;
}

/**
 * The OpenID Connect provider (AUTH-10), oidc-provider configured for Bulwark: the authorization code flow
 * only, PKCE S256 required of every client (plain and none refused), ES256 ID tokens signed by the token
 * signing keys (one JWKS), refresh tokens rotated on every use, introspection and revocation limited to
 * clients of the token's organisation, RP-initiated logout, and sign-in and consent on the console's
 * hosted page. Its key set is fixed when built: the capability builds a new one when the keys change.
 */
export function buildProvider(s: ProviderSettings): Provider {
  const sameOrg = async (
    ctx: KoaContextWithOIDC,
    client: { clientId: string },
    token: { clientId?: string },
  ) => {
    if (!token.clientId) return false;
    if (token.clientId === client.clientId) return true;
    const owner = await ctx.oidc.provider.Client.find(token.clientId);
    const mine = await ctx.oidc.provider.Client.find(client.clientId);
    return owner !== undefined && mine !== undefined && owner.org_id === mine.org_id;
  };
  const configuration: Configuration = {
    adapter: s.adapter,
    clients: [],
    findAccount: s.findAccount,
    jwks: { keys: s.keys as NonNullable<Configuration["jwks"]>["keys"] },
    cookies: {
      keys: s.cookieKeys,
      names: {
        session: "bulwark_oidc",
        interaction: "bulwark_oidc_interaction",
        resume: "bulwark_oidc_resume",
      },
      long: { httpOnly: true, sameSite: "lax", signed: true },
      short: { httpOnly: true, sameSite: "lax", signed: true },
    },
    claims: CLAIMS,
    scopes: [...OIDC_SCOPES],
    responseTypes: ["code"],
    pkce: { required: () => true },
    routes: OIDC_ROUTES,
    enabledJWA: { idTokenSigningAlgValues: ["ES256"], userinfoSigningAlgValues: ["ES256"] },
    clientDefaults: {
      id_token_signed_response_alg: "ES256",
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_basic",
    },
    extraClientMetadata: { properties: ["org_id"] },
    // Browser clients may call the token, userinfo and revocation endpoints from their own origins only.
    clientBasedCORS: (_ctx, origin, client) =>
      client.redirectUris?.some((u) => URL.parse(u)?.origin === origin) ?? false,
    features: {
      devInteractions: { enabled: false },
      introspection: { enabled: true, allowedPolicy: sameOrg },
      revocation: { enabled: true, allowedPolicy: sameOrg },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource(ctx, form) {
          ctx.type = "html";
          ctx.body = page(
            "Sign out",
            `${form}<p>Sign out of this app's session at ${escapeHtml(new URL(s.issuer).host)}?</p><button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>`,
          );
        },
        postLogoutSuccessSource(ctx) {
          ctx.type = "html";
          ctx.body = page("Signed out", "<p>You have signed out. You can close this window.</p>");
        },
      },
    },
    // A used refresh token is replaced on every use; one presented again revokes its grant.
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/authorize/${interaction.uid}` },
    ttl: {
      AccessToken: s.ttl.accessToken,
      IdToken: s.ttl.accessToken,
      AuthorizationCode: 60,
      Interaction: 600,
      RefreshToken: s.ttl.refreshToken,
      Grant: s.ttl.refreshToken,
      Session: s.ttl.session,
    },
    renderError(ctx, out) {
      ctx.type = "html";
      ctx.body = page(
        "Sign-in could not continue",
        `<p>${escapeHtml(out.error)}${out.error_description ? `: ${escapeHtml(out.error_description)}` : ""}</p>`,
      );
    },
  };
  const provider = new Provider(s.issuer, configuration);
  // Behind Bulwark's HTTP layer, which overwrites X-Forwarded-Proto/Host from its own trusted view.
  provider.proxy = true;
  // Client secrets are stored as their SHA-256 only: compare the hash of what the client presents.
  provider.Client.prototype.compareClientSecret = function (this: { clientSecret?: string }, actual: string) {
    return this.clientSecret !== undefined && safeEqual(sha256(actual), this.clientSecret);
  };
  return provider;
}
