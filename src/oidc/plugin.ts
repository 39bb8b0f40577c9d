import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { NoContent } from "../identity/schemas.js";
import { stampOf } from "../orgs/stamp.js";
import type { OidcInteractions, SignedIn } from "./interactions.js";
import type { OidcClientService } from "./service.js";
import type { OidcClientRow } from "./tables.js";

const tags = ["OpenID Connect"];
const CLIENT_ID = "^oc_[0-9A-Z]{26}$";
const OrgParams = Type.Object({ orgId: Type.String({ maxLength: 40 }) });
const ClientParams = Type.Object({
  orgId: Type.String({ maxLength: 40 }),
  id: Type.String({ pattern: CLIENT_ID, examples: ["oc_01JD8X5K2M3N4P5Q6R7S8T9V0W"] }),
});
const Uris = Type.Array(
  Type.String({ minLength: 1, maxLength: 2048, examples: ["https://app.example.org/callback"] }),
  { maxItems: 20, uniqueItems: true },
);
const Name = Type.String({ minLength: 1, maxLength: 100, examples: ["Billing portal"] });

const Client = Type.Object({
  id: Type.String({ description: "The `client_id`." }),
  name: Type.String(),
  type: Type.Union([Type.Literal("confidential"), Type.Literal("public")]),
  redirectUris: Type.Array(Type.String()),
  postLogoutRedirectUris: Type.Array(Type.String()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
});
const WithSecret = Type.Object({
  client: Client,
  clientSecret: Type.Union([Type.String(), Type.Null()], {
    description:
      "A confidential client's secret (`ocs_…`), shown this once: Bulwark keeps only its SHA-256. Null for a public client.",
  }),
});

const clientView = (r: OidcClientRow) => ({
  id: r.id,
  name: r.name,
  type: r.type as "confidential" | "public",
  redirectUris: JSON.parse(r.redirect_uris) as string[],
  postLogoutRedirectUris: JSON.parse(r.post_logout_redirect_uris) as string[],
  createdAt: new Date(r.created_at).toISOString(),
  updatedAt: new Date(r.updated_at).toISOString(),
});

const Uid = Type.Object({
  uid: Type.String({
    pattern: "^[A-Za-z0-9_-]{1,64}$",
    description: "The sign-in request, from the hosted page's address.",
    examples: ["yQ3kX9bLr2TnW8cVd5HmA"],
  }),
});
const Next = Type.Object({ location: Type.String({ description: "Where the browser continues." }) });

/** The signed-in person of an interaction route (a portal session: the route table admits nothing else). */
const signedIn = (req: FastifyRequest): SignedIn => ({
  userId: req.principal!.userId!,
  provedAt: req.principal!.session!.reauth_at,
});

/**
 * Clients per organisation (`/v1/orgs/:orgId/oidc-clients`), and the JSON side of the hosted sign-in
 * page (`/authorize/:uid/…`): it lives under the page's own path because the provider's interaction
 * cookie is scoped to it.
 */
export async function oidcRoutes(
  app: FastifyInstance,
  opts: { clients: OidcClientService; interactions: OidcInteractions },
): Promise<void> {
  const { clients, interactions } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    "/v1/orgs/:orgId/oidc-clients",
    { schema: { tags, params: OrgParams, response: { 200: Type.Object({ clients: Type.Array(Client) }) } } },
    async (req) => ({ clients: (await clients.list(req.tenant!.orgId)).map(clientView) }),
  );

  r.get(
    "/v1/orgs/:orgId/oidc-clients/:id",
    { schema: { tags, params: ClientParams, response: { 200: Client } } },
    async (req) => clientView(await clients.get(req.tenant!.orgId, req.params.id)),
  );

  r.post(
    "/v1/orgs/:orgId/oidc-clients",
    {
      schema: {
        tags,
        params: OrgParams,
        body: Type.Object({
          name: Name,
          type: Type.Union([Type.Literal("confidential"), Type.Literal("public")], {
            description:
              "`confidential`: a server that keeps a secret. `public`: a browser or native app (PKCE alone).",
          }),
          redirectUris: Type.Array(Uris.items, {
            ...Uris,
            minItems: 1,
            examples: [["https://app.example.org/callback"]],
          }),
          postLogoutRedirectUris: Type.Optional(Uris),
        }),
        response: { 201: WithSecret },
      },
    },
    async (req, reply) => {
      const made = await clients.create(req.tenant!.orgId, req.body, req.principal!.id, stampOf(req));
      return reply.code(201).send({ client: clientView(made.row), clientSecret: made.secret ?? null });
    },
  );

  r.patch(
    "/v1/orgs/:orgId/oidc-clients/:id",
    {
      schema: {
        tags,
        params: ClientParams,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            redirectUris: Type.Optional(Type.Array(Uris.items, { ...Uris, minItems: 1 })),
            postLogoutRedirectUris: Type.Optional(Uris),
          },
          { minProperties: 1 },
        ),
        response: { 200: Client },
      },
    },
    async (req) => clientView(await clients.update(req.tenant!.orgId, req.params.id, req.body, stampOf(req))),
  );

  r.post(
    "/v1/orgs/:orgId/oidc-clients/:id/rotate-secret",
    {
      schema: {
        tags,
        params: ClientParams,
        body: Type.Optional(Type.Object({})),
        response: { 201: WithSecret },
      },
    },
    async (req, reply) => {
      const made = await clients.rotateSecret(req.tenant!.orgId, req.params.id, stampOf(req));
      return reply.code(201).send({ client: clientView(made.row), clientSecret: made.secret });
    },
  );

  r.delete(
    "/v1/orgs/:orgId/oidc-clients/:id",
    { schema: { tags, params: ClientParams, response: NoContent } },
    async (req, reply) => {
      await clients.remove(req.tenant!.orgId, req.params.id, stampOf(req));
      return reply.code(204).send();
    },
  );

  const hidden = { tags: ["Hosted sign-in"], params: Uid };
  r.get(
    "/authorize/:uid/details",
    {
      schema: {
        ...hidden,
        response: {
          200: Type.Object({
            uid: Type.String(),
            client: Type.Object({ id: Type.String(), name: Type.String() }),
            organization: Type.Object({ id: Type.String(), name: Type.String() }),
            scopes: Type.Array(Type.String()),
            reauth: Type.Boolean(),
            refusal: Type.Union([Type.String(), Type.Null()]),
            refusalReason: Type.Union([
              Type.Literal("not_member"),
              Type.Literal("mfa_required"),
              Type.Null(),
            ]),
          }),
        },
      },
    },
    async (req, reply) => interactions.view({ req: req.raw, res: reply.raw }, req.params.uid, signedIn(req)),
  );

  r.post(
    "/authorize/:uid/allow",
    { schema: { ...hidden, body: Type.Optional(Type.Object({})), response: { 200: Next } } },
    async (req, reply) => ({
      location: await interactions.allow(
        { req: req.raw, res: reply.raw },
        req.params.uid,
        signedIn(req),
        stampOf(req),
      ),
    }),
  );

  r.post(
    "/authorize/:uid/deny",
    { schema: { ...hidden, body: Type.Optional(Type.Object({})), response: { 200: Next } } },
    async (req, reply) => ({
      location: await interactions.deny({ req: req.raw, res: reply.raw }, req.params.uid),
    }),
  );
}
