import * as client from "openid-client";
import type { AuditService } from "../audit/service.js";
import type { SigninProvider } from "../config/signin-providers.js";
import type { Sealer } from "../crypto/seal.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { IdentityService } from "../identity/service.js";
import type { Stamp } from "../orgs/stamp.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import { boundedFetch } from "./bounded-fetch.js";
import { GITHUB_SCOPE, githubAccount, githubConfiguration } from "./github.js";
import type { ExternalStore } from "./store.js";
import type { ExternalIdentityRow } from "./tables.js";
import { PKCE_VERIFIER } from "./tables.js";

/** How long a round trip through a provider, or a pending confirmation, may take. */
const FLOW_MS = 10 * 60_000;
/** Linked identities per account: one or two per provider is a need; more is a mistake. */
const MAX_IDENTITIES = 20;

/** What a provider's answer came to. */
export type Outcome =
  | { readonly kind: "signin"; readonly userId: string; readonly next: string }
  /** `added`: the identity newly linked (undefined when it already was this account's). */
  | {
      readonly kind: "linked";
      readonly userId: string;
      readonly next: string;
      readonly added?: ExternalIdentityRow;
    }
  /** An account already has the address: its owner must sign in and confirm (the token), never silently. */
  | { readonly kind: "confirm"; readonly token: string };

const failed = (why: string) => new AppError("EXTERNAL_SIGNIN_FAILED", why);

/**
 * Sign-in with external OpenID Connect providers and GitHub (AUTH-11), with openid-client: authorization
 * code with PKCE (S256), state and (OpenID Connect) nonce, each flow bound to the browser that started
 * it (the state is also in a cookie) and used once within ten minutes; an OpenID provider's ID token and
 * userinfo verified by openid-client, GitHub's account read from its API (github.ts). An identity signs in to the account it is linked to. An unlinked one creates an account only under the
 * sign-up rules (AUTH-12) and only for an address the provider asserts as verified; when the address
 * already has an account it is linked only after that account's owner signs in and confirms.
 */
export class ExternalService {
  private readonly configs = new Map<string, Promise<client.Configuration>>();

  constructor(
    private readonly db: Database,
    private readonly store: ExternalStore,
    private readonly providers: readonly SigninProvider[],
    private readonly sealer: Sealer,
    private readonly audit: AuditService,
    private readonly identity: IdentityService,
    private readonly publicUrl: string,
    private readonly options: {
      allowHttp: boolean;
      clock?: () => number;
      fetch?: typeof fetch;
      log?: { warn(obj: object, msg: string): void };
    },
  ) {}

  /** How providers are reached: the given fetch (or the global one), each answer bounded in size. */
  private readonly reach: typeof fetch = boundedFetch((input, init) =>
    (this.options.fetch ?? fetch)(input, init),
  );

  private now(): number {
    return this.options.clock?.() ?? Date.now();
  }

  /** The providers a sign-in page offers: id and name, never a secret. */
  list(): Array<{ id: string; name: string }> {
    return this.providers.map((p) => ({ id: p.id, name: p.name }));
  }

  provider(id: string): SigninProvider {
    const p = this.providers.find((x) => x.id === id);
    if (!p) throw new AppError("NOT_FOUND", "No such sign-in provider.");
    return p;
  }

  redirectUri(id: string): string {
    return `${this.publicUrl}/v1/auth/external/${id}/callback`;
  }

  /**
   * The provider's metadata, discovered once (again after a failure), with a 10 s timeout per request.
   * GitHub's is known from its address: nothing to discover.
   */
  private config(p: SigninProvider): Promise<client.Configuration> {
    let found = this.configs.get(p.id);
    if (!found && p.type === "github") {
      const config = githubConfiguration(p);
      config.timeout = 10;
      config[client.customFetch] = this.reach;
      if (this.options.allowHttp && new URL(p.issuer).protocol === "http:")
        client.allowInsecureRequests(config);
      found = Promise.resolve(config);
      this.configs.set(p.id, found);
    }
    if (!found) {
      const reach = { [client.customFetch]: this.reach };
      found = client
        .discovery(
          new URL(p.issuer),
          p.clientId,
          { client_secret: p.clientSecret },
          client.ClientSecretBasic(p.clientSecret),
          {
            timeout: 10,
            ...reach,
            ...(this.options.allowHttp && p.issuer.startsWith("http:")
              ? { execute: [client.allowInsecureRequests] }
              : {}),
          },
        )
        .then((config) => {
          config[client.customFetch] = this.reach;
          // openid-client checks an ID token's signature only when told to: against the provider's JWKS.
          client.enableNonRepudiationChecks(config);
          return config;
        })
        .catch((err: Error) => {
          this.configs.delete(p.id);
          // The cause is for the operators' log, not for whoever started the sign-in.
          this.options.log?.warn(
            { provider: p.id, reason: err.message.slice(0, 200) },
            "provider discovery failed",
          );
          throw new AppError("SERVICE_UNAVAILABLE", `The sign-in provider ${p.name} could not be reached.`);
        });
      this.configs.set(p.id, found);
    }
    return found;
  }

  /**
   * Starts a round trip: the provider's authorization URL, and the state the browser must bring back
   * (in its cookie and in the URL). `link` adds an identity to `userId`'s account.
   */
  async start(
    providerId: string,
    purpose: "signin" | "link",
    next: string,
    userId?: string,
  ): Promise<{ url: string; state: string }> {
    const p = this.provider(providerId);
    const config = await this.config(p);
    const state = newSecret("bwx");
    const verifier = client.randomPKCECodeVerifier();
    // GitHub issues no ID token: there is nothing a nonce would bind.
    const nonce = p.type === "github" ? null : client.randomNonce();
    const id = sha256(state);
    await this.store.addFlow({
      id,
      provider: p.id,
      purpose,
      user_id: userId ?? null,
      verifier_sealed: this.sealer.seal(verifier, PKCE_VERIFIER, id),
      nonce,
      next,
      subject: null,
      email: null,
      expires_at: this.now() + FLOW_MS,
      used_at: null,
    });
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri(p.id),
      scope: p.type === "github" ? GITHUB_SCOPE : "openid email profile",
      code_challenge: await client.calculatePKCECodeChallenge(verifier),
      code_challenge_method: "S256",
      state,
      ...(nonce ? { nonce } : {}),
    });
    return { url: url.href, state };
  }

  /**
   * The provider's answer at the callback. The state must be the one this browser's cookie holds, of a
   * live flow of this provider; openid-client then checks the response's issuer (where the provider
   * sends one), redeems the code with the PKCE verifier, and verifies the ID token (signature, issuer,
   * audience, expiry, nonce); for GitHub, which has none, the account is read from its API.
   */
  async finish(
    providerId: string,
    callback: URL,
    browserState: string | undefined,
    record: Stamp,
    /** The user the browser is signed in as: a link completes only in the session that started it. */
    signedIn: string | undefined,
  ): Promise<Outcome> {
    const p = this.provider(providerId);
    const state = callback.searchParams.get("state") ?? "";
    if (!browserState || browserState !== state)
      throw failed("This sign-in was not started in this browser.");
    const flow = await this.store.takeFlow(sha256(state), this.now(), p.id, ["signin", "link"]);
    if (!flow) throw failed("This sign-in expired or was already used; start again.");
    if (flow.purpose === "link" && flow.user_id !== signedIn)
      throw failed("The session that started linking has ended; sign in and start again.");
    const config = await this.config(p);
    let subject: string;
    let email: string | undefined;
    let verified = false;
    try {
      const pkceCodeVerifier = this.sealer.open(flow.verifier_sealed ?? "", PKCE_VERIFIER, flow.id);
      if (p.type === "github") {
        const tokens = await client.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier,
          expectedState: state,
        });
        ({ subject, email, verified } = await githubAccount(config, p.issuer, tokens.access_token));
      } else {
        const tokens = await client.authorizationCodeGrant(config, callback, {
          pkceCodeVerifier,
          expectedState: state,
          expectedNonce: flow.nonce ?? "",
          idTokenExpected: true,
        });
        const claims = tokens.claims()!;
        subject = claims.sub;
        // The address and whether it is verified come as a pair from one source: the ID token when it
        // names an address, else userinfo (OpenID Connect Core 5.4), never one from each.
        let source: { email?: unknown; email_verified?: unknown } = {
          email: claims.email,
          email_verified: claims.email_verified,
        };
        if (typeof claims.email !== "string" && config.serverMetadata().userinfo_endpoint)
          source = await client.fetchUserInfo(config, tokens.access_token, subject);
        email = typeof source.email === "string" ? source.email : undefined;
        verified = source.email_verified === true;
      }
    } catch (err) {
      if (err instanceof AppError) throw err;
      this.options.log?.warn(
        { provider: p.id, reason: (err as Error).message.slice(0, 200) },
        "provider answer refused",
      );
      throw failed(`${p.name} did not complete the sign-in.`);
    }
    const linked = await this.store.bySubject(p.issuer, subject);
    if (flow.purpose === "link") {
      const userId = flow.user_id!;
      if (linked && linked.user_id !== userId) throw new AppError("EXTERNAL_IDENTITY_TAKEN");
      if (linked) return { kind: "linked", userId, next: flow.next };
      const added = await this.link(userId, p, subject, email ?? null, "link", record);
      return { kind: "linked", userId, next: flow.next, added };
    }
    if (linked) {
      await this.store.used(linked.id, this.now());
      return { kind: "signin", userId: linked.user_id, next: flow.next };
    }
    if (!email || !verified)
      throw new AppError("EXTERNAL_EMAIL_UNVERIFIED", `${p.name} did not assert a verified email address.`);
    const created = (await this.identity.findUserByEmail(email))
      ? undefined
      : await this.identity.createExternalUser(email);
    if (created) {
      await this.link(created.id, p, subject, email, "signup", record);
      return { kind: "signin", userId: created.id, next: flow.next };
    }
    const owner = await this.identity.findUserByEmail(email);
    if (!owner) throw failed("The account for this address changed during the sign-in; start again.");
    const token = newSecret("bwl");
    await this.store.addFlow({
      id: sha256(token),
      provider: p.id,
      purpose: "confirm",
      user_id: owner.id,
      verifier_sealed: null,
      nonce: null,
      next: flow.next,
      subject,
      email,
      expires_at: this.now() + FLOW_MS,
      used_at: null,
    });
    return { kind: "confirm", token };
  }

  /** What a pending confirmation would link, for its account's owner only. */
  async pending(token: string, userId: string): Promise<{ provider: string; name: string; email: string }> {
    const flow = await this.store.peekFlow(sha256(token), this.now());
    if (flow?.purpose !== "confirm" || flow.user_id !== userId)
      throw new AppError("TOKEN_INVALID", "This link request expired, was used, or is for another account.");
    return { provider: flow.provider, name: this.provider(flow.provider).name, email: flow.email ?? "" };
  }

  /** The owner confirms: the identity is linked to their account (AUTH-11: never silently). */
  async confirm(token: string, userId: string, record: Stamp): Promise<ExternalIdentityRow> {
    await this.pending(token, userId);
    const flow = await this.store.takeFlow(sha256(token), this.now(), undefined, ["confirm"]);
    if (!flow || flow.user_id !== userId) throw new AppError("TOKEN_INVALID");
    const p = this.provider(flow.provider);
    const linked = await this.store.bySubject(p.issuer, flow.subject!);
    if (linked && linked.user_id !== userId) throw new AppError("EXTERNAL_IDENTITY_TAKEN");
    return linked ?? this.link(userId, p, flow.subject!, flow.email, "confirmed", record);
  }

  identities(userId: string): Promise<ExternalIdentityRow[]> {
    return this.store.list(userId);
  }

  /** Removes a linked identity, unless it is the account's only way in (`otherWayIn` says whether there is another). */
  async remove(
    userId: string,
    id: string,
    record: Stamp,
    otherWayIn: (userId: string) => Promise<boolean>,
  ): Promise<void> {
    const all = await this.store.list(userId);
    const old = all.find((i) => i.id === id);
    if (!old) throw new AppError("NOT_FOUND");
    if (all.length === 1 && !(await otherWayIn(userId)))
      throw new AppError(
        "CONFLICT",
        "This is the only way into your account: set a password (Forgot your password?) or add a passkey first.",
      );
    await this.db.global.transaction().execute(async (tx) => {
      if (!(await this.store.remove(tx, userId, id))) throw new AppError("NOT_FOUND");
      await this.audit.record(
        tx,
        record({
          action: "external_identity.removed",
          entity: { type: "user", id: userId },
          before: facts(old),
        }),
      );
    });
  }

  purge(): Promise<number> {
    return this.store.purgeFlows(this.now());
  }

  private async link(
    userId: string,
    provider: SigninProvider,
    subject: string,
    email: string | null,
    how: "signup" | "link" | "confirmed",
    record: Stamp,
  ): Promise<ExternalIdentityRow> {
    const now = this.now();
    const row: ExternalIdentityRow = {
      id: newId("xid", now),
      user_id: userId,
      provider: provider.id,
      issuer: provider.issuer,
      subject,
      email,
      created_at: now,
      last_used_at: now,
    };
    try {
      await this.db.global.transaction().execute(async (tx) => {
        if ((await this.store.list(userId, tx)).length >= MAX_IDENTITIES)
          throw new AppError("UNPROCESSABLE", `An account has at most ${MAX_IDENTITIES} linked identities.`);
        await this.store.insert(tx, row);
        // The account's owner acts: the callback itself carries no session.
        await this.audit.record(
          tx,
          record({
            action: "external_identity.linked",
            actor: { type: "USER", id: userId, email: null },
            entity: { type: "user", id: userId },
            after: facts(row),
            metadata: { how },
          }),
        );
      });
    } catch (err) {
      // The same identity linked twice at once: the unique (provider, subject) let one in.
      const now = err instanceof AppError ? undefined : await this.store.bySubject(provider.issuer, subject);
      if (now?.user_id === userId) return now;
      if (now) throw new AppError("EXTERNAL_IDENTITY_TAKEN");
      throw err;
    }
    return row;
  }
}

/** What the audit log keeps of a linked identity. */
const facts = (i: ExternalIdentityRow) => ({
  id: i.id,
  provider: i.provider,
  subject: i.subject,
  email: i.email,
});
