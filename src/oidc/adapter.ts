import { type Adapter, type AdapterConstructor, type AdapterPayload, errors } from "oidc-provider";
import type { Database } from "../db/database.js";
import type { OidcClientStore, OidcStateStore } from "./store.js";
import type { OidcClientRow } from "./tables.js";

/**
 * A client's metadata as oidc-provider reads it: the authorization code flow only (with refresh), ES256
 * ID tokens, exact redirect URIs. A confidential client's `client_secret` is the SHA-256 of its secret
 * (the provider's secret comparison is replaced by one that hashes what the client presents).
 */
export function clientMetadata(row: OidcClientRow): AdapterPayload {
  const confidential = row.type === "confidential";
  return {
    client_id: row.id,
    client_name: row.name,
    ...(confidential && row.secret_hash ? { client_secret: row.secret_hash } : {}),
    token_endpoint_auth_method: confidential ? "client_secret_basic" : "none",
    grant_types: ["authorization_code", "refresh_token"],
    response_types: ["code"],
    redirect_uris: JSON.parse(row.redirect_uris) as string[],
    post_logout_redirect_uris: JSON.parse(row.post_logout_redirect_uris) as string[],
    id_token_signed_response_alg: "ES256",
    org_id: row.org_id,
  };
}

/**
 * The provider's persistence on Bulwark's database (SQLite or PostgreSQL), so every node serves every
 * flow and a restart loses no session, code or token. Clients come from the organisations' registrations
 * on every lookup: a client removed or changed takes effect at its next request.
 */
export function oidcAdapter(
  db: Database,
  clients: OidcClientStore,
  state: OidcStateStore,
  clock: () => number,
  /** A grant ended here, outside the provider's own revocation (a code or refresh token used twice at once). */
  reused: (clientId: string, grantId: string, model: string) => void,
): AdapterConstructor {
  return class implements Adapter {
    constructor(private readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void> {
      if (this.model === "Client") throw new Error("clients are registered through the API");
      await state.upsert(db.global, {
        model: this.model,
        id,
        payload: JSON.stringify(payload),
        grant_id: payload.grantId ?? null,
        uid: payload.uid ?? null,
        expires_at: expiresIn ? clock() + expiresIn * 1000 : null,
        consumed_at: null,
      });
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      if (this.model === "Client") {
        const row = await clients.byId(db.global, id);
        return row ? clientMetadata(row) : undefined;
      }
      return this.read("id", id);
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      return this.read("uid", uid);
    }

    async findByUserCode(): Promise<undefined> {
      return undefined; // The device flow is not enabled.
    }

    /**
     * A code or refresh token is used once. oidc-provider checks `consumed` before it calls this, so two
     * requests presenting the same token at once would both pass its check: the second to mark it here
     * is a reuse like any other, and revokes the grant (every token of it) before it is refused.
     */
    async consume(id: string): Promise<void> {
      if (await state.consume(db.global, this.model, id, clock())) return;
      const row = await state.find(db.global, this.model, "id", id, clock());
      if (row?.grant_id) {
        await state.revokeWholeGrant(db.global, row.grant_id);
        const clientId = (JSON.parse(row.payload) as AdapterPayload).clientId;
        if (clientId) reused(clientId, row.grant_id, this.model);
      }
      throw new errors.InvalidGrant("grant request is invalid");
    }

    async destroy(id: string): Promise<void> {
      await state.destroy(db.global, this.model, id);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await state.revokeGrant(db.global, this.model, grantId);
    }

    private async read(column: "id" | "uid", value: string): Promise<AdapterPayload | undefined> {
      const row = await state.find(db.global, this.model, column, value, clock());
      if (!row) return undefined;
      const payload = JSON.parse(row.payload) as AdapterPayload;
      return row.consumed_at === null
        ? payload
        : { ...payload, consumed: Math.floor(row.consumed_at / 1000) };
    }
  };
}
