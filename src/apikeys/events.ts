import type { DomainEvent } from "../orgs/stamp.js";
import { KEY_PREFIX } from "./format.js";
import type { ApiKeyRow } from "./tables.js";

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
const displayed = (row: ApiKeyRow) => `${KEY_PREFIX}${row.prefix}`;

/**
 * What an audit entry says about a key (AUDIT-2, KEY-3): never the key nor its hash, only what the
 * key list shows (name, scopes, the 8 display characters, expiry).
 */
function facts(row: ApiKeyRow) {
  return {
    name: row.name,
    scopes: JSON.parse(row.scopes) as string[],
    prefix: displayed(row),
    expiresAt: iso(row.expires_at),
  };
}

/** The key's organisation's log, the key as the entity. */
const about = (row: ApiKeyRow) => ({ orgId: row.org_id, entity: { type: "apikey", id: row.id } });

/** The domain events of API keys, recorded by the service in the transaction of each change. */
export const keyEvents = {
  created: (row: ApiKeyRow): DomainEvent => ({ action: "apikey.created", ...about(row), after: facts(row) }),

  /** The successor is the entity (its history starts here); the key it replaces is named in metadata. */
  rotated: (row: ApiKeyRow, old: ApiKeyRow, graceEndsAt: number): DomainEvent => ({
    action: "apikey.rotated",
    ...about(row),
    after: facts(row),
    metadata: { replaces: old.id, replacesPrefix: displayed(old), graceEndsAt: iso(graceEndsAt) },
  }),

  /** `before.revokedAt`: a rotation's grace the revocation cuts short, or null. */
  revoked: (row: ApiKeyRow, at: number): DomainEvent => ({
    action: "apikey.revoked",
    ...about(row),
    before: { ...facts(row), revokedAt: iso(row.revoked_at) },
    after: { ...facts(row), revokedAt: iso(at) },
  }),
};
