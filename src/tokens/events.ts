import type { DomainEvent } from "../orgs/stamp.js";
import type { TokenFamilyRow } from "./tables.js";

/** The family as the entity: never a token nor its hash, only ids, scopes and times. */
const about = (family: TokenFamilyRow) => ({
  orgId: family.org_id,
  entity: { type: "token_family", id: family.id },
});

/** Token events (AUTH-9), in the organisation's audit log; `auth.` events never go out as webhooks. */
export const tokenEvents = {
  issued: (family: TokenFamilyRow): DomainEvent => ({
    action: "auth.token_issued",
    ...about(family),
    after: {
      userId: family.user_id,
      scopes: JSON.parse(family.scopes) as string[],
      expiresAt: new Date(family.expires_at).toISOString(),
    },
  }),
  /** A used refresh token presented again: stolen or replayed, so the family is revoked. */
  reused: (family: TokenFamilyRow, tokenId: string): DomainEvent => ({
    action: "auth.token_reuse_detected",
    ...about(family),
    metadata: { userId: family.user_id, tokenId },
  }),
  revoked: (family: TokenFamilyRow, reason: string): DomainEvent => ({
    action: "auth.token_revoked",
    ...about(family),
    metadata: { userId: family.user_id, reason },
  }),
};
