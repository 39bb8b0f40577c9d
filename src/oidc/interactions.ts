import type { IncomingMessage, ServerResponse } from "node:http";
import type Provider from "oidc-provider";
import type { AuditService } from "../audit/service.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { IdentityService } from "../identity/service.js";
import type { MfaService } from "../mfa/service.js";
import type { OrgService } from "../orgs/service.js";
import type { Stamp } from "../orgs/stamp.js";
import { OIDC_SCOPES } from "./provider.js";
import type { OidcClientService } from "./service.js";

type Http = { req: IncomingMessage; res: ServerResponse };
type Interaction = Awaited<ReturnType<Provider["interactionDetails"]>>;

/** Who is signing in, as the interaction routes know them (a portal session). */
export interface SignedIn {
  readonly userId: string;
  /** When they last proved their password in this session (the re-authentication clock). */
  readonly provedAt: number;
}

/** What the hosted page shows: which app of which organisation asks for what. */
export interface InteractionView {
  readonly uid: string;
  readonly client: { id: string; name: string };
  readonly organization: { id: string; name: string };
  readonly scopes: string[];
  /** Whether the app asked to see the password proved again (prompt=login, or max_age passed). */
  readonly reauth: boolean;
  /** Why this account cannot continue (not a member, or the organisation requires MFA), or null. */
  readonly refusal: string | null;
  /** Which of the two it is, so the page can offer the way forward. */
  readonly refusalReason: "not_member" | "mfa_required" | null;
}

const expired = () =>
  new AppError(
    "NOT_FOUND",
    "This sign-in request has expired or was started in another browser. Start again from the app.",
  );

/**
 * The sign-in and consent step of the OpenID provider (AUTH-10), on the console's hosted page: the
 * person is signed in to Bulwark (password, and second factor when they have one), a member of the
 * organisation that registered the client (and enrolled in MFA when it requires it), and says yes.
 * The interaction is found only through its cookie (oidc-provider binds it to the browser that started
 * it), so a link to someone else's sign-in request leads nowhere.
 */
export class OidcInteractions {
  constructor(
    private readonly provider: () => Provider,
    private readonly db: Database,
    private readonly clients: OidcClientService,
    private readonly orgs: OrgService,
    private readonly identity: IdentityService,
    private readonly mfa: MfaService,
    private readonly audit: AuditService,
  ) {}

  async view(http: Http, uid: string, who: SignedIn): Promise<InteractionView> {
    const { interaction, client, org } = await this.load(http, uid);
    return {
      uid,
      client: { id: client.id, name: client.name },
      organization: { id: org.id, name: org.name },
      scopes: requested(interaction),
      reauth: needsReauth(interaction, who),
      ...(await this.refusal(client.org_id, org.name, who.userId)),
    };
  }

  /** Signs the person in to the client and grants what it asked for; returns where the browser goes next. */
  async allow(http: Http, uid: string, who: SignedIn, by: Stamp): Promise<string> {
    const { interaction, client, org } = await this.load(http, uid);
    const { refusal } = await this.refusal(client.org_id, org.name, who.userId);
    if (refusal) throw new AppError("FORBIDDEN", refusal);
    if (needsReauth(interaction, who)) throw new AppError("REAUTH_REQUIRED");
    const provider = this.provider();
    const previous = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
    const grant =
      previous && previous.accountId === who.userId
        ? previous
        : new provider.Grant({ accountId: who.userId, clientId: client.id });
    const scopes = requested(interaction);
    grant.addOIDCScope(scopes.join(" "));
    const claims = interaction.prompt.details.missingOIDCClaims;
    if (Array.isArray(claims)) grant.addOIDCClaims(claims as string[]);
    const grantId = await grant.save();
    const next = await provider.interactionResult(
      http.req,
      http.res,
      {
        // No `amr`: the session does not record which factors proved it, and a guess would mislead apps.
        login: { accountId: who.userId, ts: Math.floor(who.provedAt / 1000) },
        consent: { grantId },
      },
      { mergeWithLastSubmission: false },
    );
    await this.db.global.transaction().execute((tx) =>
      this.audit.record(
        tx,
        by({
          action: "oidc.consent_granted",
          orgId: client.org_id,
          entity: { type: "oidc_client", id: client.id },
          after: { scopes },
        }),
      ),
    );
    return next;
  }

  /** The person said no: the client receives `access_denied`. */
  async deny(http: Http, uid: string): Promise<string> {
    await this.load(http, uid);
    return this.provider().interactionResult(
      http.req,
      http.res,
      { error: "access_denied", error_description: "The person declined to sign in to this app." },
      { mergeWithLastSubmission: false },
    );
  }

  private async load(http: Http, uid: string) {
    let interaction: Interaction;
    try {
      interaction = await this.provider().interactionDetails(http.req, http.res);
    } catch {
      throw expired();
    }
    if (interaction.uid !== uid) throw expired();
    const client = await this.clients.find(String(interaction.params.client_id));
    if (!client) throw expired();
    const org = await this.orgs.get(client.org_id);
    return { interaction, client, org };
  }

  private async refusal(
    orgId: string,
    orgName: string,
    userId: string,
  ): Promise<Pick<InteractionView, "refusal" | "refusalReason">> {
    const access = await this.orgs.access(orgId, userId);
    const user = await this.identity.findUser(userId);
    if (!access || !user)
      return {
        refusal: `This app belongs to ${orgName}, and your account is not a member of it. Sign in with another account, or ask an administrator of ${orgName} to invite you.`,
        refusalReason: "not_member",
      };
    if (access.require_mfa && !(await this.mfa.isEnabled(userId)))
      return {
        refusal: `${orgName} requires two-factor authentication. Turn it on in your account, then come back to this page.`,
        refusalReason: "mfa_required",
      };
    return { refusal: null, refusalReason: null };
  }
}

/** The scopes asked for that Bulwark knows (others are ignored, as OpenID Connect Core 3.1.2.1 allows). */
function requested(i: Interaction): string[] {
  const asked = String(i.params.scope ?? "").split(" ");
  return OIDC_SCOPES.filter((s) => asked.includes(s));
}

/**
 * The client asked to see the password again (prompt=login) or gave a max_age the last proof exceeds:
 * the person must prove it after this request started.
 */
function needsReauth(i: Interaction, who: SignedIn): boolean {
  const reasons = i.prompt.reasons;
  if (!reasons.includes("login_prompt") && !reasons.includes("max_age")) return false;
  // `iat` is in whole seconds: a proof within its second may predate the request, so it does not count.
  return who.provedAt < ((i.iat ?? 0) + 1) * 1000;
}
