import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { byRequest } from "../audit/actor.js";
import type { AuditService } from "../audit/service.js";
import type { Config } from "../config/load.js";
import { AppError } from "../http/errors.js";
import type { PortalSignIn } from "../identity/capability.js";
import { sessionOf } from "../identity/principal.js";
import { NoContent } from "../identity/schemas.js";
import type { IdentityService } from "../identity/service.js";
import { templates } from "../mail/templates.js";
import type { MfaService } from "../mfa/service.js";
import { stampOf } from "../orgs/stamp.js";
import { type AuthLimiters, enforce, limitedAttempt } from "../ratelimit/auth-limits.js";
import { addressKey } from "../ratelimit/request-limits.js";
import { readCookie, secure } from "../sessions/cookies.js";
import type { SessionService } from "../sessions/service.js";
import type { ExternalService } from "./service.js";
import type { ExternalIdentityRow } from "./tables.js";

const tags = ["external sign-in"];
const STATE_COOKIE = "bulwark_external";
const LINK_COOKIE = "bulwark_link";
const ProviderParam = Type.Object({
  provider: Type.String({ pattern: "^[a-z0-9][a-z0-9-]{0,31}$", examples: ["google"] }),
});
/** A path of the console's own to go to afterwards: never another origin. */
const Next = Type.String({ pattern: "^/(?![/\\\\])[A-Za-z0-9/_?=&.%:,+~-]{0,300}$", examples: ["/app"] });
const Identity = Type.Object({
  id: Type.String(),
  provider: Type.String(),
  providerName: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String(),
  lastUsedAt: Type.Union([Type.String(), Type.Null()]),
});

/**
 * External sign-in (AUTH-11): the providers, the round trip (start → provider → callback, which
 * answers the browser with a redirect into the console, never JSON), and the signed-in user's linked
 * identities (`/v1/me/identities`): listed, added, confirmed and removed.
 */
export async function externalRoutes(
  app: FastifyInstance,
  opts: {
    config: Config;
    external: ExternalService;
    portal: PortalSignIn;
    mfa: MfaService;
    identity: IdentityService;
    limits: AuthLimiters;
    sessions: SessionService;
    audit: AuditService;
    /** Whether the account has a way in besides linked identities (a password or a passkey). */
    otherWayIn: (userId: string) => Promise<boolean>;
  },
): Promise<void> {
  const { config, external, portal, mfa, identity, limits, sessions, audit, otherWayIn } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  // `__Host-` where cookies are Secure: no sibling subdomain can plant or overwrite them.
  const named = (base: string) => (secure(config) ? `__Host-${base}` : base);
  const cookie = (name: string, value: string, maxAge: number) =>
    `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAge}${secure(config) ? "; Secure" : ""}`;
  const stateName = named(STATE_COOKIE);
  const linkName = named(LINK_COOKIE);
  /** The state rides in a cookie of this browser too: a callback from another browser is refused. */
  const stateCookie = (state: string, maxAge = 600) => cookie(stateName, state, maxAge);
  /** A confirmation waits in the browser that made the round trip, never in a link that can be sent on. */
  const linkCookie = (token: string, maxAge = 600) => cookie(linkName, token, maxAge);
  const linkToken = (req: FastifyRequest) => readCookie(req.headers.cookie, linkName) ?? "";
  /** A refused external sign-in is a failed sign-in, in the platform log like a wrong password. */
  const refusal = (req: FastifyRequest, code: string) =>
    audit.recordSoon(
      byRequest(req, {
        action: "auth.login_failed",
        actor: { type: "ANONYMOUS", id: null, email: null },
        metadata: {
          reason: code.toLowerCase(),
          method: "external",
          provider: req.params && (req.params as { provider?: string }).provider,
        },
      }),
    );
  const to = (reply: FastifyReply, path: string) => reply.redirect(`${config.publicUrl}${path}`, 303);
  const view = (i: ExternalIdentityRow) => ({
    id: i.id,
    provider: i.provider,
    providerName: external.list().find((p) => p.id === i.provider)?.name ?? i.provider,
    email: i.email,
    createdAt: new Date(i.created_at).toISOString(),
    lastUsedAt: i.last_used_at === null ? null : new Date(i.last_used_at).toISOString(),
  });

  r.get(
    "/v1/auth/external",
    {
      schema: {
        tags,
        response: {
          200: Type.Object({
            providers: Type.Array(Type.Object({ id: Type.String(), name: Type.String() })),
          }),
        },
      },
    },
    async () => ({ providers: external.list() }),
  );

  r.get(
    "/v1/auth/external/:provider/start",
    {
      schema: {
        tags,
        params: ProviderParam,
        querystring: Type.Object({ next: Type.Optional(Next) }),
        response: { 303: Type.Null() },
      },
    },
    async (req, reply) => {
      // A provider that is not configured is a bad address: a plain 404. Anything else is told to the
      // person on the sign-in page, as this is a browser navigation.
      external.provider(req.params.provider);
      try {
        await enforce(limits.externalStartIp, addressKey(req.ip));
        const { url, state } = await external.start(req.params.provider, "signin", req.query.next ?? "/app");
        reply.header("set-cookie", stateCookie(state));
        return reply.redirect(url, 303);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        return to(reply, `/?error=${encodeURIComponent(err.code)}`);
      }
    },
  );

  r.get(
    "/v1/auth/external/:provider/callback",
    {
      schema: {
        tags,
        params: ProviderParam,
        // What providers send back (RFC 6749 4.1.2, RFC 9207 `iss`) and what known ones add (OpenID
        // Connect session management, Google): nothing else passes.
        querystring: Type.Object({
          code: Type.Optional(Type.String({ maxLength: 2048 })),
          state: Type.Optional(Type.String({ maxLength: 200 })),
          iss: Type.Optional(Type.String({ maxLength: 2048 })),
          error: Type.Optional(Type.String({ maxLength: 200 })),
          error_description: Type.Optional(Type.String({ maxLength: 2048 })),
          error_uri: Type.Optional(Type.String({ maxLength: 2048 })),
          scope: Type.Optional(Type.String({ maxLength: 2048 })),
          session_state: Type.Optional(Type.String({ maxLength: 2048 })),
          authuser: Type.Optional(Type.String({ maxLength: 20 })),
          hd: Type.Optional(Type.String({ maxLength: 253 })),
          prompt: Type.Optional(Type.String({ maxLength: 200 })),
        }),
        response: { 303: Type.Null() },
      },
    },
    async (req, reply) => {
      // A provider that is not configured is a bad address, not a sign-in under way: a plain 404.
      external.provider(req.params.provider);
      reply.header("set-cookie", stateCookie("", 0));
      // A link completes only in the session that started it (signed out since, or another person: no).
      const signedIn = await sessions.portalUser(req.headers.cookie);
      try {
        const url = new URL(req.url, config.publicUrl);
        // Counted per address when refused, like a wrong password (AUTH-7); a success gives it back.
        const outcome = await limitedAttempt(
          [[limits.externalIp, addressKey(req.ip)]],
          () =>
            external.finish(
              req.params.provider,
              url,
              readCookie(req.headers.cookie, stateName),
              stampOf(req),
              signedIn,
            ),
          [],
          (err) => err instanceof AppError && err.status < 500,
        );
        if (outcome.kind === "confirm") {
          reply.header("set-cookie", linkCookie(outcome.token));
          return to(reply, "/link-account");
        }
        if (outcome.kind === "linked") {
          const owner = await identity.findUser(outcome.userId);
          if (owner && outcome.added) mailLinked(req, identity, owner.email, outcome.added, external);
          return to(reply, `/app/account?linked=${req.params.provider}`);
        }
        // AUTH-8: a second factor on the account is asked for after the provider too.
        const methods = await mfa.methods(outcome.userId);
        if (methods.length) {
          const step = await mfa.createChallenge(outcome.userId, "external");
          const query = new URLSearchParams({ step, methods: methods.join(","), next: outcome.next });
          return to(reply, `/?${query}`);
        }
        await portal.start(req, reply, outcome.userId, "external");
        return to(reply, outcome.next);
      } catch (err) {
        // The browser is mid-navigation: it goes where it came from (the account page for a link, the
        // sign-in page otherwise), which says what happened.
        const code = err instanceof AppError ? err.code : "EXTERNAL_SIGNIN_FAILED";
        if (!(err instanceof AppError)) req.log.error({ err }, "external sign-in failed");
        else req.log.warn({ code, reason: err.message }, "external sign-in refused");
        if (code !== "RATE_LIMITED") refusal(req, code);
        return to(reply, `${signedIn ? "/app/account" : "/"}?error=${encodeURIComponent(code)}`);
      }
    },
  );

  r.get(
    "/v1/me/identities",
    { schema: { tags: ["me"], response: { 200: Type.Object({ identities: Type.Array(Identity) }) } } },
    async (req) => ({ identities: (await external.identities(sessionOf(req).user_id)).map(view) }),
  );

  r.post(
    "/v1/me/identities/:provider",
    {
      schema: {
        tags: ["me"],
        summary: "Link an external identity",
        description:
          "Answers the provider's URL: the console sends the browser there; the identity is linked to this account when the provider sends it back.",
        params: ProviderParam,
        body: Type.Optional(Type.Object({})),
        response: { 200: Type.Object({ url: Type.String() }) },
      },
    },
    async (req, reply) => {
      await enforce(limits.externalStartIp, addressKey(req.ip));
      const userId = sessionOf(req).user_id;
      const { url, state } = await external.start(req.params.provider, "link", "/app/account", userId);
      reply.header("set-cookie", stateCookie(state));
      return { url };
    },
  );

  r.get(
    "/v1/me/identities/pending",
    {
      schema: {
        tags: ["me"],
        description: "What the confirmation waiting in this browser (its cookie) would link to this account.",
        response: {
          200: Type.Object({ provider: Type.String(), name: Type.String(), email: Type.String() }),
        },
      },
    },
    async (req) => external.pending(linkToken(req), sessionOf(req).user_id),
  );

  r.post(
    "/v1/me/identities/confirm",
    {
      schema: {
        tags: ["me"],
        summary: "Confirm linking an external identity",
        description:
          "Links the identity waiting in this browser's confirmation (its cookie, set by the provider's round trip) to this account.",
        body: Type.Optional(Type.Object({})),
        response: { 201: Identity },
      },
    },
    async (req, reply) => {
      const row = await external.confirm(linkToken(req), sessionOf(req).user_id, stampOf(req));
      reply.header("set-cookie", linkCookie("", 0));
      if (req.principal?.email) mailLinked(req, identity, req.principal.email, row, external);
      return reply.code(201).send(view(row));
    },
  );

  r.delete(
    "/v1/me/identities/:id",
    {
      schema: {
        tags: ["me"],
        params: Type.Object({ id: Type.String({ pattern: "^xid_[0-9A-Z]{26}$" }) }),
        response: NoContent,
      },
    },
    async (req, reply) => {
      await external.remove(sessionOf(req).user_id, req.params.id, stampOf(req), otherWayIn);
      return reply.code(204).send();
    },
  );
}

/** The owner hears of every identity linked: it signs in to the account on its own. */
function mailLinked(
  req: FastifyRequest,
  identity: IdentityService,
  to: string,
  row: ExternalIdentityRow,
  external: ExternalService,
) {
  const name = external.list().find((p) => p.id === row.provider)?.name ?? row.provider;
  identity.mail(templates.identityLinked(to, name, row.email ?? "", req.ip));
}
