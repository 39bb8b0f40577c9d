import type { AuditService } from "../audit/service.js";
import type { Config } from "../config/load.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import { type IdentityService, normaliseEmail } from "../identity/service.js";
import { templates } from "../mail/templates.js";
import { rateLimited } from "../ratelimit/auth-limits.js";
import type { Limiter } from "../ratelimit/limiter.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import { type InvitationRow, invitationsStore as store } from "./invitations-store.js";
import { ROLES, type Role } from "./permissions.js";
import type { Actor } from "./service.js";
import type { Stamp } from "./stamp.js";
import type { OrgStore } from "./store.js";

const TTL_MS = 7 * 86_400_000;
export const INVITATION_DAYS = TTL_MS / 86_400_000;

/** How many invitation mails may go out: the inbox they land in belongs to someone else. */
export const INVITATION_LIMITS = {
  perOrgPerDay: 100,
  perSenderPerHour: 20,
  perRecipientPerDay: 3,
  resendsPerHour: 3,
} as const;

/** The limiters behind INVITATION_LIMITS, on the shared counter store. */
export interface InvitationLimiters {
  readonly org: Limiter;
  readonly sender: Limiter;
  readonly recipient: Limiter;
  readonly resend: Limiter;
}

/** Neither accepted, revoked nor expired at `now`: the only state in which a link works or is resent. */
const isPending = (inv: InvitationRow, now: number): boolean =>
  inv.accepted_at === null && inv.revoked_at === null && inv.expires_at > now;

/** A higher role is a lower index in ROLES (OWNER first). */
const higher = (a: Role, b: Role): Role => (ROLES.indexOf(a) <= ROLES.indexOf(b) ? a : b);

/** The link in the invitation mail: its parameters are the accept body's names. */
export const invitationLink = (publicUrl: string, orgId: string, token: string): string =>
  `${publicUrl}/accept-invitation?orgId=${orgId}&token=${token}`;

/** What every invitation event says about it (AUDIT-2): never its token, nor the token's hash (`id`). */
const facts = (inv: InvitationRow) => ({
  entity: { type: "invitation", id: inv.public_id },
  metadata: { email: inv.email, role: inv.role },
});
const iso = (t: number) => new Date(t).toISOString();

/**
 * Invitations (AUTHZ-5): by email, with a role; the token is single-use, expires in 7 days, and is bound
 * to the invited address: a signed-in account with another address cannot use it. Someone without an
 * account accepts by choosing a password: the token that reached their mailbox verifies the address.
 * The sign-up rules hold here too (AUTH-12: in `domains` mode no outside address is invited or joins).
 * Mails (first sends and resends alike) are limited per organisation, per sender and per recipient, and
 * a resend also per invitation; they carry the organisation's name
 * only quoted in the body, never in the subject. Every query runs in the organisation's transaction, and
 * every change is recorded in the organisation's audit log in that same transaction (AUDIT-2).
 */
export class InvitationService {
  constructor(
    private readonly d: {
      readonly config: Config;
      readonly db: Database;
      readonly orgs: OrgStore;
      readonly identity: IdentityService;
      readonly audit: AuditService;
      readonly limits: InvitationLimiters;
      readonly now?: () => number;
    },
  ) {}

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /** Invites `email` with `role` and mails the link, under the rules of `assertMaySend` and the mail limits. */
  async invite(orgId: string, actor: Actor, email: string, role: Role, by: Stamp): Promise<InvitationRow> {
    this.assertMaySend(actor, email, role);
    const address = normaliseEmail(email);
    await this.limit(this.mailKeys(orgId, actor, address));
    const now = this.now();
    const token = newSecret("bwi");
    const inv: InvitationRow = {
      id: sha256(token),
      public_id: newId("inv", now),
      org_id: orgId,
      email: address,
      role,
      invited_by: actor.userId,
      expires_at: now + TTL_MS,
      accepted_at: null,
      revoked_at: null,
      created_at: now,
    };
    await this.d.db.withOrg(orgId, async (tx) => {
      await store.insert(tx, inv);
      await this.d.audit.record(
        tx,
        by({ action: "invitation.created", orgId, ...facts(inv), after: { expiresAt: iso(inv.expires_at) } }),
      );
    });
    await this.send(orgId, inv, token);
    return inv;
  }

  pending(orgId: string, limit: number, after?: string): Promise<InvitationRow[]> {
    return this.d.db.withOrg(orgId, (tx) => store.pending(tx, orgId, this.now(), limit, after));
  }

  async revoke(orgId: string, publicId: string, by: Stamp): Promise<void> {
    const now = this.now();
    const revoked = await this.d.db.withOrg(orgId, async (tx) => {
      const inv = await store.byPublicId(tx, orgId, publicId);
      if (!inv || !(await store.revoke(tx, orgId, publicId, now))) return false;
      await this.d.audit.record(tx, by({ action: "invitation.revoked", orgId, ...facts(inv) }));
      return true;
    });
    if (!revoked) throw new AppError("NOT_FOUND");
  }

  /**
   * A fresh token and expiry for a pending invitation, mailed again (the old link stops working). A resend
   * is an invitation mail sent by `actor` now, so every rule of `invite` applies as it stands now (only an
   * OWNER sends an OWNER's invitation; the sign-up domains; the limits per organisation, sender and
   * recipient), plus the limit per invitation. Accepted, revoked or expired: NOT_FOUND, and an expired
   * invitation stays expired: a resend never revives it.
   */
  async resend(orgId: string, actor: Actor, publicId: string, by: Stamp): Promise<InvitationRow> {
    const found = await this.d.db.withOrg(orgId, (tx) => store.byPublicId(tx, orgId, publicId));
    if (!found || !isPending(found, this.now())) throw new AppError("NOT_FOUND");
    this.assertMaySend(actor, found.email, found.role);
    await this.limit([...this.mailKeys(orgId, actor, found.email), [this.d.limits.resend, publicId]]);
    const token = newSecret("bwi");
    const now = this.now();
    const inv = await this.d.db.withOrg(orgId, async (tx) => {
      // Checked again in the update itself: one accepted, revoked or expired meanwhile stays so.
      const change = { id: sha256(token), expiresAt: now + TTL_MS, now };
      if (!(await store.retoken(tx, orgId, publicId, change))) return undefined;
      const renewed = await store.byPublicId(tx, orgId, publicId);
      if (renewed)
        await this.d.audit.record(
          tx,
          by({
            action: "invitation.resent",
            orgId,
            ...facts(renewed),
            before: { expiresAt: iso(found.expires_at) },
            after: { expiresAt: iso(renewed.expires_at) },
          }),
        );
      return renewed;
    });
    if (!inv) throw new AppError("NOT_FOUND");
    await this.send(orgId, inv, token);
    return inv;
  }

  /**
   * Spends the token and adds the membership, in one transaction. `signedIn`: the caller's account, which
   * must have the invited address; otherwise `password` creates a verified account for the address.
   * Atomic and single-use: of two racing acceptances exactly one joins. Recorded as the joining user's
   * act, with the role the membership had before (null: none) and has after.
   */
  async accept(
    input: {
      orgId: string;
      token: string;
      signedIn?: { userId: string; email: string | null } | undefined;
      password?: string | undefined;
    },
    by: Stamp,
  ): Promise<{ role: Role; createdUserId?: string }> {
    const { orgId } = input;
    const id = sha256(input.token);
    const now = this.now();
    const inv = await this.d.db.withOrg(orgId, (tx) => store.byTokenHash(tx, orgId, id));
    if (!inv || !isPending(inv, now)) throw new AppError("TOKEN_INVALID");
    let userId: string;
    let created = false;
    if (input.signedIn) {
      if (input.signedIn.email !== inv.email) throw new AppError("INVITATION_EMAIL_MISMATCH");
      userId = input.signedIn.userId;
    } else {
      if (!input.password)
        throw new AppError(
          "UNAUTHENTICATED",
          `Sign in as ${inv.email}, or choose a password to create the account.`,
        );
      // createVerifiedUser applies the sign-up domain rule (AUTH-12) to the newcomer.
      userId = (await this.d.identity.createVerifiedUser(inv.email, input.password)).id;
      created = true;
    }
    const accepted = await this.d.db.withOrg(orgId, async (tx) => {
      const used = await store.consume(tx, orgId, id, now);
      if (!used) return undefined;
      let current: Role | undefined;
      let role = used.role;
      if (!(await this.d.orgs.addMember(orgId, userId, used.role, now, tx))) {
        // Already a member: the invitation can raise the role, never lower it.
        current = (await this.d.orgs.membership(orgId, userId, tx))?.role;
        role = current ? higher(current, used.role) : used.role;
        if (role !== current) await this.d.orgs.setRole(orgId, userId, role, tx);
      }
      await this.d.audit.record(
        tx,
        by({
          action: "invitation.accepted",
          orgId,
          // The joining user acts, even when the request proved nobody yet (a newcomer choosing a password).
          actor: { type: "USER", id: userId, email: used.email },
          ...facts(used),
          before: { role: current ?? null },
          after: { role },
        }),
      );
      return role;
    });
    if (!accepted) throw new AppError("TOKEN_INVALID");
    return { role: accepted, ...(created ? { createdUserId: userId } : {}) };
  }

  /**
   * The rules on who may send an invitation mail, for a first send and a resend alike: only an OWNER
   * invites (or re-invites) an OWNER, and in `domains` sign-up mode no outside address is invited (AUTH-12).
   */
  private assertMaySend(actor: Actor, email: string, role: Role): void {
    if (role === "OWNER" && actor.role !== "OWNER")
      throw new AppError("OWNER_REQUIRED", "Only an owner can invite an owner.");
    this.d.identity.assertDomainAllowed(email);
  }

  /** The limits every invitation mail counts against: per organisation, per sender, per recipient address. */
  private mailKeys(orgId: string, actor: Actor, address: string): Array<readonly [Limiter, string]> {
    const { limits } = this.d;
    return [
      [limits.org, orgId],
      [limits.sender, actor.userId],
      [limits.recipient, address],
    ];
  }

  /** Counts one mail against every (limiter, key), or against none: refused (429) when any is full. */
  private async limit(keys: ReadonlyArray<readonly [Limiter, string]>): Promise<void> {
    const held = await Promise.all(keys.map(([limiter, key]) => limiter.reserve(key)));
    const refused = held.find((d) => !d.allowed);
    if (!refused) return;
    await Promise.all(
      keys.map(([limiter, key], i) => (held[i]!.allowed ? limiter.refund(key, held[i]!.at) : null)),
    );
    throw rateLimited(refused);
  }

  private async send(orgId: string, inv: InvitationRow, token: string): Promise<void> {
    const org = await this.d.orgs.find(orgId);
    this.d.identity.mail(
      templates.invitation(
        inv.email,
        org?.name ?? "an organisation",
        inv.role,
        invitationLink(this.d.config.publicUrl, orgId, token),
        INVITATION_DAYS,
      ),
    );
  }
}
