import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from "fastify";
import type { Migration } from "kysely";
import { byRequest } from "../audit/actor.js";
import type { AuditEvent } from "../audit/entry.js";
import type { Principal, PrincipalKind } from "../auth/principal.js";
import { type RouteSecurity, tenant } from "../auth/requirements.js";
import type { Capability } from "../capability.js";
import type { BulwarkContext } from "../context.js";
import { type SealedField, Sealer } from "../crypto/seal.js";
import type { Db } from "../db/database.js";
import type { MigrationContext } from "../db/migrations.js";
import { type ErrorDefinition, registerErrorCodes } from "../http/errors.js";
import type { PostureRegistry } from "../posture/registry.js";
import type { PersonalData } from "../privacy/personal.js";
import type { AttachedUpload } from "../uploads/service.js";
import type { Action, Role } from "./permissions.js";

/** A domain event an extension records (AUDIT-2); who, where and which organisation come from the request. */
export type TenantAuditEvent = Pick<AuditEvent, "action" | "entity" | "before" | "after" | "metadata">;

/** `entity.verb`, lower case, as Bulwark's own actions (`product.updated`, `order.status_changed`). */
const ACTION = /^[a-z][a-z0-9_]{0,30}(\.[a-z][a-z0-9_]{0,30}){1,3}$/;

/** What a tenant route's handler receives: the caller, its organisation, and the org's scoped database. */
export interface TenantContext<P, Q, B> {
  readonly orgId: string;
  /** The caller's role, when it acts as a member (a session); undefined for org-bound credentials. */
  readonly role: Role | undefined;
  readonly principal: Principal;
  /** Who acts, for `created_by` columns: the principal's id (a user, or an API key). */
  readonly actorId: string;
  /** The human behind the principal, when there is one. */
  readonly userId: string | undefined;
  /** Whether the caller may also perform another action here (role table or scopes). */
  can(action: Action): boolean;
  /**
   * Counts `quantity` (default 1) of one of the app's metered units for this organisation (RATE-6, units
   * from QUOTAS or set by a platform admin; a unit without an allowance counts nothing). Throws
   * QUOTA_EXCEEDED (429) when the organisation's `refuse` quota would be exceeded: meter before the work.
   */
  meter(unit: string, quantity?: number): Promise<void>;
  /**
   * Records a domain event in this organisation's audit log (AUDIT-2) through `tx`, so the entry commits
   * or rolls back with the handler's own writes: a handler that throws after recording leaves no entry, one
   * that returns always has it. Record after the change succeeded, with `before` and `after` of what it
   * changed. The actor, an impersonating admin, the request id and IP come from the request; `action` is
   * `entity.verb`, lower case. Before, after and metadata are redacted of Bulwark's own secrets (by key name
   * and format), not of yours: never put secrets in them. A GET handler's scope is read-only, so there it
   * throws: a read changes nothing worth an event (the request log is AUDIT-1's).
   */
  audit(event: TenantAuditEvent): Promise<void>;
  /**
   * Seals a secret the app must read back (a third party's API key) for `field` of row `row` (DATA-1):
   * AES-256-GCM under the current data key, bound to the table, column and row. List the field in
   * `Extension.sealedFields` (with `tenant: true` for a tenant table), so start-up checks it and
   * `bulwark keys rotate-data` re-seals it when the key changes.
   */
  seal(plaintext: string, field: SealedField, row: string): string;
  /** What `seal` sealed for this field and row; throws for a value altered or copied from elsewhere. */
  open(sealed: string, field: SealedField, row: string): string;
  /**
   * The organisation's uploads (DATA-3). `attach` marks one as used by the handler's row (a product's
   * image): it must belong to this organisation and its body must be in the store with the announced
   * size and type (UPLOAD_UNKNOWN, UPLOAD_INCOMPLETE otherwise). `url` is a short-lived link that reads
   * it (undefined for an id the organisation has no upload by).
   */
  readonly uploads: {
    /** `accept`: the media types this use takes (UPLOAD_NOT_ALLOWED for another), e.g. images only. */
    attach(uploadId: string, accept?: (contentType: string) => boolean): Promise<AttachedUpload>;
    url(uploadId: string): Promise<string | undefined>;
  };
  /** The request's clock: one reading per request, so a handler never calls Date.now(). */
  readonly now: number;
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  /**
   * The organisation's scope (`withOrg`, or the read-only `readOrg` for GET): the only handle that
   * reaches tenant tables, and every statement through it is restricted to this organisation.
   */
  readonly tx: Db;
  readonly request: FastifyRequest;
  readonly reply: FastifyReply;
}

export interface TenantRouteDefinition<P extends TObject, Q extends TObject, B extends TSchema> {
  readonly method: Exclude<HTTPMethods, "OPTIONS" | "HEAD" | "options" | "head">;
  /** Path under `/v1/orgs/:orgId`, e.g. `/products/:id`. */
  readonly url: string;
  /** The permission it needs, from the one table (AUTHZ-1): a core action or the extension's own. */
  readonly action: Action;
  /** Its row of the route table, beyond the action (defaults: every tenant credential kind, general tier). */
  readonly security?: Partial<Pick<RouteSecurity, "reauth" | "rate" | "impersonation">> & {
    readonly accepts?: readonly PrincipalKind[];
  };
  readonly schema?: {
    readonly params?: P;
    readonly querystring?: Q;
    readonly body?: B;
    readonly response?: Record<number, TSchema>;
    /** For /openapi.json and /docs: a test fails when a route in the document has none. */
    readonly summary?: string;
    readonly description?: string;
    readonly tags?: string[];
  };
  /** The error codes the handler raises (core or the extension's own), declared in /openapi.json. */
  readonly errors?: readonly string[];
  /** Status of a successful response (default 200). */
  readonly status?: number;
  /** Accepts `Idempotency-Key` (IDEM-1): a retry with the same key gets the first answer back. */
  readonly idempotent?: boolean;
  handler(ctx: TenantContext<Static<P>, Static<Q>, Static<B>>): Promise<unknown>;
}

/**
 * The extension API (library mode): an app registers tenant routes here and inherits every control:
 * its row in the route table (so authentication, the tenant check and the permission check of the guard
 * pipeline), validation, headers, logging and metrics, and a handler that runs inside the organisation's
 * scope, so its queries are tenant-scoped twice.
 */
export class TenantRouter {
  private readonly sealer: Sealer;

  constructor(
    private readonly app: FastifyInstance,
    private readonly ctx: BulwarkContext,
    private readonly clock: () => number = () => Date.now(),
  ) {
    this.sealer = new Sealer(ctx.config.dataKeys);
  }

  route<P extends TObject = TObject, Q extends TObject = TObject, B extends TSchema = TSchema>(
    def: TenantRouteDefinition<P, Q, B>,
  ): void {
    if (!this.ctx.permissions.has(def.action))
      throw new Error(
        `Tenant route ${def.method} ${def.url}: unknown action "${def.action}" (add it to Extension.actions)`,
      );
    const url = `/v1/orgs/:orgId${def.url}`;
    const { accepts, ...rest } = def.security ?? {};
    this.ctx.routeTable.declare(
      `${def.method} ${url}`,
      tenant(def.action, { ...rest, ...(accepts ? { accepts } : {}) }),
    );
    const params = {
      type: "object",
      properties: { orgId: { type: "string", maxLength: 40 }, ...(def.schema?.params?.properties ?? {}) },
      required: ["orgId", ...(def.schema?.params?.required ?? [])],
      additionalProperties: false,
    };
    const db = this.ctx.db;
    const permissions = this.ctx.permissions;
    const log = this.ctx.service("audit");
    const readOnly = def.method === "GET";
    this.app.route({
      method: def.method,
      url,
      config: { errors: def.errors ?? [], ...(def.idempotent ? { idempotent: true } : {}) },
      schema: {
        params,
        ...(def.schema?.querystring ? { querystring: def.schema.querystring } : {}),
        ...(def.schema?.body ? { body: def.schema.body } : {}),
        ...(def.schema?.response
          ? { response: def.schema.response }
          : def.status === 204
            ? { response: { 204: { type: "null", description: "Done; no content." } } }
            : {}),
        ...(def.schema?.summary ? { summary: def.schema.summary } : {}),
        ...(def.schema?.description ? { description: def.schema.description } : {}),
        tags: def.schema?.tags ?? ["tenant"],
      },
      handler: async (request, reply) => {
        const access = request.tenant!;
        const principal = request.principal!;
        const role = access.role as Role | undefined;
        const context = (tx: Db) =>
          def.handler({
            orgId: access.orgId,
            role,
            principal,
            actorId: principal.id,
            userId: principal.userId,
            can: (action) => (role ? permissions.can(role, action) : access.can(action)),
            meter: async (unit, quantity) =>
              void (await this.ctx.service("quotas").meter(access.orgId, unit, quantity)),
            audit: async (event) => {
              if (readOnly)
                throw new Error(
                  `${def.method} ${url}: ctx.audit needs a writing route (a GET's scope is read-only)`,
                );
              if (!ACTION.test(event.action))
                throw new Error(`ctx.audit: action "${event.action}" is not entity.verb in lower case`);
              const { action, entity, before, after, metadata } = event;
              await log.record(
                tx,
                byRequest(request, { action, orgId: access.orgId, entity, before, after, metadata }),
              );
            },
            seal: (plaintext, field, row) => {
              if (!this.ctx.service("dataKeys").declares(field))
                throw new Error(
                  `ctx.seal: ${field.table}.${field.column} is not in the extension's sealedFields (rotation would never re-seal it)`,
                );
              return this.sealer.seal(plaintext, field, row);
            },
            open: (sealed, field, row) => this.sealer.open(sealed, field, row),
            uploads: {
              attach: (id, accept) =>
                this.ctx.service("uploads").attach(tx, access.orgId, id, this.clock(), accept),
              url: (id) => this.ctx.service("uploads").downloadUrl(tx, access.orgId, id, this.clock()),
            },
            now: this.clock(),
            params: request.params as Static<P>,
            query: request.query as Static<Q>,
            body: request.body as Static<B>,
            tx,
            request,
            reply,
          });
        // Reads take the cheaper read-only scope; everything else one transaction.
        const result = readOnly
          ? await db.readOrg(access.orgId, context)
          : await db.withOrg(access.orgId, context);
        if (reply.sent) return reply;
        return reply.code(def.status ?? 200).send(result);
      },
    });
  }
}

/**
 * A module an app plugs into Bulwark through the public entry point: its migrations, its own actions
 * (with the roles granted each; OWNER holds every action), its own error codes, its tenant routes and its
 * security-page claims. Name its actions, error codes and tables for the type checker with
 *
 *   declare module "bulwark" {
 *     interface Actions { "notes:read": true }
 *     interface ErrorCodes { NOTE_LOCKED: true }
 *     interface Tables { notes: NoteRow }
 *   }
 */
export interface Extension {
  readonly name: string;
  readonly actions?: Readonly<Record<string, readonly Role[]>>;
  readonly errors?: Readonly<Record<string, ErrorDefinition>>;
  migrations?(ctx: MigrationContext): Record<string, Migration>;
  /** Columns the extension stores sealed with `TenantContext.seal` (DATA-1): checked and re-sealed like Bulwark's. */
  readonly sealedFields?: readonly SealedField[];
  /** Columns of its tables that name a person (GDPR-1): the user's export includes their rows. */
  readonly personalData?: readonly PersonalData[];
  routes?(tenant: TenantRouter, app: FastifyInstance): void | Promise<void>;
  controls?(posture: PostureRegistry): void;
}

/** An extension as a capability: its actions and error codes first, then its routes and claims. */
export function extensionCapability(ext: Extension): Capability {
  return {
    name: ext.name,
    ...(ext.migrations ? { migrations: (ctx: MigrationContext) => ext.migrations!(ctx) } : {}),
    ...(ext.sealedFields ? { sealedFields: ext.sealedFields } : {}),
    ...(ext.personalData ? { personalData: ext.personalData } : {}),
    async register(app, ctx) {
      if (ext.actions) ctx.permissions.add(ext.actions, ext.name);
      if (ext.errors) registerErrorCodes(ext.errors, ext.name);
      await ext.routes?.(new TenantRouter(app, ctx), app);
      ext.controls?.(ctx.posture);
    },
  };
}
