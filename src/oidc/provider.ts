import type { JWK } from "jose";
import Provider, {
  type AdapterConstructor,
  type Configuration,
  type FindAccount,
  interactionPolicy,
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
  /** The user of the request's live Bulwark portal session (never an impersonation), or undefined. */
  readonly signedInAs: (req: KoaContextWithOIDC["req"]) => Promise<string | undefined>;
  /** Whether the user is still a member of the organisation (and enrolled in MFA where it requires it). */
  readonly member: (orgId: string, userId: string) => Promise<boolean>;
  /** Seconds each artefact lives. */
  readonly ttl: { accessToken: number; refreshToken: number; session: number };
}

const epoch = () => Math.floor(Date.now() / 1000);

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
  /**
   * Introspection and revocation: a client of the token's organisation (a public client, which proves
   * nothing, its own tokens only), and only while the token's user is still a member there: a removed
   * member's tokens introspect as inactive at once, like their refresh stops.
   */
  const sameOrg = async (
    ctx: KoaContextWithOIDC,
    client: { clientId: string; clientAuthMethod?: string },
    token: { clientId?: string; accountId?: string },
  ) => {
    if (!token.clientId) return false;
    if (client.clientAuthMethod === "none" && token.clientId !== client.clientId) return false;
    const owner = await ctx.oidc.provider.Client.find(token.clientId);
    const mine = await ctx.oidc.provider.Client.find(client.clientId);
    if (!owner || !mine || owner.org_id !== mine.org_id) return false;
    return !token.accountId || s.member(String(owner.org_id), token.accountId);
  };
  // The provider's sign-in session follows Bulwark's: when the browser's portal session has ended (signed
  // out, revoked, expired, password changed) or is another person's, the app's request goes through the
  // hosted page again instead of being answered from the provider's own session.
  const policy = interactionPolicy.base();
  policy.get("login")!.checks.add(
    new interactionPolicy.Check(
      "bulwark_session",
      "The Bulwark session ended or belongs to another account",
      // prompt=none gets login_required (OpenID Connect Core 3.1.2.6): the person is not signed in.
      "login_required",
      async (ctx) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT; // no_session asks already
        return (await s.signedInAs(ctx.req)) === accountId
          ? interactionPolicy.Check.NO_NEED_TO_PROMPT
          : interactionPolicy.Check.REQUEST_PROMPT;
      },
    ),
  );
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
    // The provider's interaction cookie is scoped to this path, which covers the page's API (/authorize/…).
    interactions: { policy, url: (_ctx, interaction) => `/authorize?uid=${interaction.uid}` },
    ttl: {
      AccessToken: s.ttl.accessToken,
      IdToken: s.ttl.accessToken,
      AuthorizationCode: 60,
      Interaction: 600,
      RefreshToken: s.ttl.refreshToken,
      Grant: s.ttl.refreshToken,
      // Absolute from the sign-in: saving the session on later requests never extends it.
      Session: (_ctx, session) => Math.max(1, (session.loginTs ?? epoch()) + s.ttl.session - epoch()),
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
