import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import type { Migration } from "kysely";
import type { Database, Db } from "../db/database.js";
import type { MigrationContext } from "../db/migrations.js";
import type { PostureRegistry } from "../posture/registry.js";
import type { Action, Role } from "./permissions.js";

/** What a tenant route's handler receives: the caller, its organisation and role, and the org's transaction. */
export interface TenantContext<P, Q, B> {
  readonly orgId: string;
  readonly role: Role;
  readonly userId: string;
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /** The organisation's transaction (`withOrg`): the only handle that reaches tenant tables. */
  readonly tx: Db;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

export interface TenantRouteDefinition<P extends TObject, Q extends TObject, B extends TSchema> {
  readonly method: Exclude<HTTPMethods, "OPTIONS" | "HEAD" | "options" | "head">;
  /** Path under `/v1/orgs/:orgId`, e.g. `/products/:id`. */
  readonly url: string;
  /** The permission it needs, from the one table (AUTHZ-1). */
  readonly action: Action;
  readonly schema?: {
    readonly params?: P;
    readonly querystring?: Q;
    readonly body?: B;
    readonly response?: Record<number, TSchema>;
    readonly summary?: string;
    readonly tags?: string[];
  };
  /** Status of a successful response (default 200). */
  readonly status?: number;
  handler(ctx: TenantContext<Static<P>, Static<Q>, Static<B>>): Promise<unknown>;
}

/**
 * The extension API (library mode): an app registers tenant routes here and inherits every control:
 * authentication, the tenant guard and permission check, validation, headers, logging and metrics, and
 * a handler that runs inside the organisation's transaction, so its queries are tenant-scoped twice.
 */
export class TenantRouter {
  constructor(
    private readonly app: FastifyInstance,
    private readonly db: Database,
  ) {}

  route<P extends TObject = TObject, Q extends TObject = TObject, B extends TSchema = TSchema>(
    def: TenantRouteDefinition<P, Q, B>,
  ): void {
    const params = {
      type: "object",
      properties: { orgId: { type: "string", maxLength: 40 }, ...(def.schema?.params?.properties ?? {}) },
      required: ["orgId", ...(def.schema?.params?.required ?? [])],
      additionalProperties: false,
    };
    this.app.route({
      method: def.method,
      url: `/v1/orgs/:orgId${def.url}`,
      config: { auth: "user", action: def.action },
      schema: {
        params,
        ...(def.schema?.querystring ? { querystring: def.schema.querystring } : {}),
        ...(def.schema?.body ? { body: def.schema.body } : {}),
        ...(def.schema?.response ? { response: def.schema.response } : {}),
        ...(def.schema?.summary ? { summary: def.schema.summary } : {}),
        tags: def.schema?.tags ?? ["tenant"],
      },
      handler: async (request, reply) => {
        const { orgId, role } = request.tenant!;
        // Reads take the cheaper read-only scope; everything else one transaction.
        const scope = def.method === "GET" ? this.db.readOrg.bind(this.db) : this.db.withOrg.bind(this.db);
        const result = await scope(orgId, (tx) =>
          def.handler({
            orgId,
            role,
            userId: request.auth!.userId,
            params: request.params as Static<P>,
            query: request.query as Static<Q>,
            body: request.body as Static<B>,
            tx,
            request,
            reply,
          }),
        );
        if (reply.sent) return reply;
        return reply.code(def.status ?? 200).send(result);
      },
    });
  }
}

/** A module an app plugs into Bulwark: its migrations, its tenant routes, and its security-page claims. */
export interface Extension {
  readonly name: string;
  migrations?(ctx: MigrationContext): Record<string, Migration>;
  routes?(tenant: TenantRouter, app: FastifyInstance): void | Promise<void>;
  controls?(posture: PostureRegistry): void;
}

/** The extensions' migrations, merged (names must not collide; prefix them with the extension's name). */
export function extensionMigrations(
  extensions: readonly Extension[],
): (ctx: MigrationContext) => Record<string, Migration> {
  return (ctx) => Object.assign({}, ...extensions.map((e) => e.migrations?.(ctx) ?? {}));
}
