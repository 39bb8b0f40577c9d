import type { Config } from "../config/load.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { IdentityService } from "../identity/service.js";
import { templates } from "../mail/templates.js";
import { newId, newSecret, sha256 } from "../util/ids.js";
import { type InvitationRow, invitationsStore as store } from "./invitations-store.js";
import type { Role } from "./permissions.js";
import type { Actor } from "./service.js";
import type { OrgStore } from "./store.js";

const TTL_MS = 7 * 86_400_000;
export const INVITATION_DAYS = TTL_MS / 86_400_000;

/** The link in the invitation mail: its parameters are the accept body's names. */
export const invitationLink = (publicUrl: string, orgId: string, token: string): string =>
  `${publicUrl}/accept-invitation?orgId=${orgId}&token=${token}`;

/**
 * Invitations (AUTHZ-5): by email, with a role; the token is single-use, expires in 7 days, and is bound
 * to the invited address: a signed-in account with another address cannot use it. Someone without an
 * account accepts by choosing a password: the token that reached their mailbox verifies the address.
 * Every query runs in the organisation's transaction (tenant data).
 */
export class InvitationService {
  constructor(
    private readonly d: {
      readonly config: Config;
      readonly db: Database;
      readonly orgs: OrgStore;
      readonly identity: IdentityService;
      readonly now?: () => number;
    },
  ) {}

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /** Invites `email` with `role` and mails the link. Only an OWNER invites an OWNER. */
  async invite(orgId: string, actor: Actor, email: string, role: Role): Promise<InvitationRow> {
    if (role === "OWNER" && actor.role !== "OWNER")
      throw new AppError("OWNER_REQUIRED", "Only an owner can invite an owner.");
    const now = this.now();
    const token = newSecret("bwi");
    const inv: InvitationRow = {
      id: sha256(token),
      public_id: newId("inv", now),
      org_id: orgId,
      email: email.trim().toLowerCase(),
      role,
      invited_by: actor.userId,
      expires_at: now + TTL_MS,
      accepted_at: null,
      revoked_at: null,
      created_at: now,
    };
    await this.d.db.withOrg(orgId, (tx) => store.insert(tx, inv));
    await this.send(orgId, inv, token);
    return inv;
  }

  pending(orgId: string): Promise<InvitationRow[]> {
    return this.d.db.withOrg(orgId, (tx) => store.pending(tx, orgId, this.now()));
  }

  async revoke(orgId: string, publicId: string): Promise<void> {
    if (!(await this.d.db.withOrg(orgId, (tx) => store.revoke(tx, orgId, publicId, this.now()))))
      throw new AppError("NOT_FOUND");
  }

  /** A fresh token and expiry for a pending invitation, mailed again (the old link stops working). */
  async resend(orgId: string, publicId: string): Promise<InvitationRow> {
    const token = newSecret("bwi");
    const inv = await this.d.db.withOrg(orgId, async (tx) => {
      if (!(await store.retoken(tx, orgId, publicId, sha256(token), this.now() + TTL_MS))) return undefined;
      return store.byPublicId(tx, orgId, publicId);
    });
    if (!inv) throw new AppError("NOT_FOUND");
    await this.send(orgId, inv, token);
    return inv;
  }

  /**
   * Spends the token and adds the membership, in one transaction. `signedIn`: the caller's account, which
   * must have the invited address; otherwise `password` creates a verified account for the address.
   * Atomic and single-use: of two racing acceptances exactly one joins.
   */
  async accept(input: {
    orgId: string;
    token: string;
    signedIn?: { userId: string; email: string | null } | undefined;
    password?: string | undefined;
  }): Promise<{ role: Role; createdUserId?: string }> {
    const { orgId } = input;
    const id = sha256(input.token);
    const now = this.now();
    const inv = await this.d.db.withOrg(orgId, (tx) => store.byTokenHash(tx, orgId, id));
    if (!inv || inv.accepted_at !== null || inv.revoked_at !== null || inv.expires_at <= now)
      throw new AppError("TOKEN_INVALID");
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
      userId = (await this.d.identity.createVerifiedUser(inv.email, input.password)).id;
      created = true;
    }
    const accepted = await this.d.db.withOrg(orgId, async (tx) => {
      const used = await store.consume(tx, orgId, id, now);
      if (!used) return undefined;
      await this.d.orgs.addMember(orgId, userId, used.role, now, tx);
      return used;
    });
    if (!accepted) throw new AppError("TOKEN_INVALID");
    return { role: accepted.role, ...(created ? { createdUserId: userId } : {}) };
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
