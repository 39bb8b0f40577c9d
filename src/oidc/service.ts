import type { AuditService } from "../audit/service.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { Stamp } from "../orgs/stamp.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import type { OidcClientStore } from "./store.js";
import type { OidcClientRow } from "./tables.js";

/** Clients per organisation. */
export const MAX_CLIENTS = 50;

export interface ClientInput {
  readonly name: string;
  readonly type: "confidential" | "public";
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris?: readonly string[] | undefined;
}

/** Hosts a redirect URI may use over plain HTTP: this machine (RFC 8252 §7.3, native apps and development). */
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

const entity = (id: string) => ({ type: "oidc_client", id });
/** What the audit log keeps of a client: never its secret, not even the hash. */
const facts = (r: OidcClientRow) => ({
  name: r.name,
  type: r.type,
  redirectUris: JSON.parse(r.redirect_uris) as string[],
  postLogoutRedirectUris: JSON.parse(r.post_logout_redirect_uris) as string[],
});

/**
 * OpenID Connect clients registered by an organisation (AUTH-10): exact redirect URIs (HTTPS, or HTTP on
 * this machine only), a secret for confidential clients shown once and stored as its SHA-256, changes in
 * the organisation's audit log. Only the organisation's members sign in to its clients.
 */
export class OidcClientService {
  constructor(
    private readonly db: Database,
    private readonly store: OidcClientStore,
    private readonly audit: AuditService,
    private readonly clock: () => number = () => Date.now(),
  ) {}

  list(orgId: string): Promise<OidcClientRow[]> {
    return this.store.list(this.db.global, orgId);
  }

  async get(orgId: string, id: string): Promise<OidcClientRow> {
    const row = await this.store.get(this.db.global, orgId, id);
    if (!row) throw new AppError("NOT_FOUND");
    return row;
  }

  /** The client behind a `client_id`, whatever its organisation (the sign-in page names both). */
  find(id: string): Promise<OidcClientRow | undefined> {
    return this.store.byId(this.db.global, id);
  }

  /** Registers a client; a confidential one gets its secret, returned this once. */
  async create(
    orgId: string,
    input: ClientInput,
    userId: string,
    by: Stamp,
  ): Promise<{ row: OidcClientRow; secret: string | undefined }> {
    const redirects = checkUris(input.redirectUris, "redirectUris");
    const logouts = checkUris(input.postLogoutRedirectUris ?? [], "postLogoutRedirectUris");
    if ((await this.list(orgId)).length >= MAX_CLIENTS)
      throw new AppError(
        "UNPROCESSABLE",
        `An organisation has at most ${MAX_CLIENTS} OpenID Connect clients.`,
      );
    const now = this.clock();
    const secret = input.type === "confidential" ? newSecret("ocs") : undefined;
    const row: OidcClientRow = {
      id: newId("oc", now),
      org_id: orgId,
      name: input.name.trim(),
      type: input.type,
      secret_hash: secret ? sha256(secret) : null,
      redirect_uris: JSON.stringify(redirects),
      post_logout_redirect_uris: JSON.stringify(logouts),
      created_by: userId,
      created_at: now,
      updated_at: now,
    };
    await this.db.global.transaction().execute(async (tx) => {
      await this.store.insert(tx, row);
      await this.audit.record(
        tx,
        by({ action: "oidc_client.created", orgId, entity: entity(row.id), after: facts(row) }),
      );
    });
    return { row, secret };
  }

  /** Changes a client's name or URIs (its type and id stay: register another client for another kind). */
  async update(
    orgId: string,
    id: string,
    input: Partial<Omit<ClientInput, "type">>,
    by: Stamp,
  ): Promise<OidcClientRow> {
    const set: Partial<OidcClientRow> = { updated_at: this.clock() };
    if (input.name !== undefined) set.name = input.name.trim();
    if (input.redirectUris !== undefined)
      set.redirect_uris = JSON.stringify(checkUris(input.redirectUris, "redirectUris"));
    if (input.postLogoutRedirectUris !== undefined)
      set.post_logout_redirect_uris = JSON.stringify(
        checkUris(input.postLogoutRedirectUris, "postLogoutRedirectUris"),
      );
    return this.change(orgId, id, "oidc_client.updated", set, by);
  }

  /** A new secret for a confidential client: the old one stops working at once. */
  async rotateSecret(orgId: string, id: string, by: Stamp): Promise<{ row: OidcClientRow; secret: string }> {
    const old = await this.get(orgId, id);
    if (old.type !== "confidential")
      throw new AppError("UNPROCESSABLE", "A public client has no secret: it proves itself with PKCE alone.");
    const secret = newSecret("ocs");
    const row = await this.change(
      orgId,
      id,
      "oidc_client.secret_rotated",
      { secret_hash: sha256(secret), updated_at: this.clock() },
      by,
    );
    return { row, secret };
  }

  async remove(orgId: string, id: string, by: Stamp): Promise<void> {
    await this.db.global.transaction().execute(async (tx) => {
      const old = await this.store.get(tx, orgId, id);
      if (!old || !(await this.store.remove(tx, orgId, id))) throw new AppError("NOT_FOUND");
      await this.audit.record(
        tx,
        by({ action: "oidc_client.deleted", orgId, entity: entity(id), before: facts(old) }),
      );
    });
  }

  private change(
    orgId: string,
    id: string,
    action: string,
    set: Partial<OidcClientRow>,
    by: Stamp,
  ): Promise<OidcClientRow> {
    return this.db.global.transaction().execute(async (tx) => {
      const old = await this.store.get(tx, orgId, id);
      if (!old) throw new AppError("NOT_FOUND");
      await this.store.update(tx, orgId, id, set);
      const row = { ...old, ...set };
      await this.audit.record(
        tx,
        by({ action, orgId, entity: entity(id), before: facts(old), after: facts(row) }),
      );
      return row;
    });
  }
}

/**
 * Exact redirect URIs (RFC 9700 §2.1: compared as strings, never as patterns): absolute, without a
 * fragment or credentials, HTTPS, or HTTP to this machine's loopback names. Duplicates are dropped.
 */
export function checkUris(uris: readonly string[], field: string): string[] {
  for (const value of uris) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new AppError("UNPROCESSABLE", `${field}: "${value.slice(0, 100)}" is not an absolute URL.`);
    }
    const problem =
      url.hash || value.includes("#")
        ? "has a fragment"
        : url.username || url.password
          ? "carries credentials"
          : url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname))
            ? undefined
            : "must use https (http only to localhost, 127.0.0.1 or [::1])";
    if (problem) throw new AppError("UNPROCESSABLE", `${field}: ${url.protocol}//${url.host}… ${problem}.`);
  }
  return [...new Set(uris)];
}
