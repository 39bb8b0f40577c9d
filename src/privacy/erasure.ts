import { setImmediate } from "node:timers/promises";
import type { FastifyRequest } from "fastify";
import { byRequest, SYSTEM } from "../audit/actor.js";
import type { AuditService } from "../audit/service.js";
import type { Database } from "../db/database.js";
import { AppError } from "../http/errors.js";
import type { IdentityService } from "../identity/service.js";
import type { Logger } from "../log/logger.js";
import type { OrgService } from "../orgs/service.js";
import type { SessionService } from "../sessions/service.js";
import { newId } from "../util/ids.js";
import type { PersonalData } from "./personal.js";
import type { DeletionRequests } from "./requests.js";
import { type ErasedPerson, namesExactly, type PersonalDataStore } from "./store.js";
import type { AccountDeletionRow } from "./tables.js";

/** A pending deletion as the API shows it. */
export interface DeletionState {
  readonly requestedAt: number;
  /** When the erasure job may erase the account: the request's time plus the cooling-off period. */
  readonly dueAt: number;
}

export interface ErasureDeps {
  readonly db: Database;
  readonly store: PersonalDataStore;
  readonly requests: DeletionRequests;
  readonly sources: readonly PersonalData[];
  readonly audit: AuditService;
  readonly identity: IdentityService;
  readonly orgs: OrgService;
  readonly sessions: SessionService;
  readonly coolingOffMs: number;
  readonly log: Logger;
  readonly clock?: () => number;
}

/** How many due requests one run of the job takes on (the next run takes the rest). */
const PER_RUN = 50;

/**
 * Account deletion (GDPR-2): a request, a cooling-off period in which the user may cancel it by signing
 * in, then erasure by a job. Erasure ends the account's sessions, takes it out of its organisations,
 * blanks the audit entries that name it (they keep their leaves, so every log still verifies, and a
 * pseudonym for its id), deletes every row of the `personalData` declarations that is the person's and
 * pseudonymises those that belong to an organisation (an API key they created stays, created by
 * `anon_…`), then deletes the account itself with its request, in one transaction, last: a run that
 * stops half-way leaves the request in place and the next run finishes it.
 */
export class ErasureService {
  private readonly clock: () => number;

  constructor(private readonly d: ErasureDeps) {
    this.clock = d.clock ?? (() => Date.now());
  }

  /** The cooling-off period, in days. */
  get coolingOffDays(): number {
    return Math.round(this.d.coolingOffMs / 86_400_000);
  }

  async status(userId: string): Promise<DeletionState | undefined> {
    const row = await this.d.requests.find(userId);
    return row ? stateOf(row) : undefined;
  }

  /**
   * Records the request (once: a second one answers the first) with its audit event. Refused while the
   * user is the only owner of an organisation that has other members: it would be left without one.
   */
  async request(userId: string, req: FastifyRequest): Promise<DeletionState> {
    await this.refuseSoleOwner(userId);
    const now = this.clock();
    const row: AccountDeletionRow = {
      user_id: userId,
      pseudonym: newId("anon", now),
      requested_at: now,
      due_at: now + this.d.coolingOffMs,
    };
    const db = this.d.db.global;
    const stored = await db.transaction().execute(async (tx) => {
      if (!(await this.d.requests.add(row, tx))) return this.d.requests.find(userId, tx);
      await this.d.audit.record(
        tx,
        byRequest(req, {
          action: "user.deletion_requested",
          entity: { type: "user", id: userId },
          metadata: { dueAt: new Date(row.due_at).toISOString() },
        }),
      );
      return row;
    });
    return stateOf(stored ?? row);
  }

  /** Cancels a pending request, audited; NOT_FOUND when there is none. */
  async cancel(userId: string, req: FastifyRequest): Promise<void> {
    const removed = await this.d.db.global.transaction().execute(async (tx) => {
      if (!(await this.d.requests.remove(userId, tx))) return false;
      await this.d.audit.record(
        tx,
        byRequest(req, { action: "user.deletion_cancelled", entity: { type: "user", id: userId } }),
      );
      return true;
    });
    if (!removed) throw new AppError("NOT_FOUND", "No deletion of this account is pending.");
  }

  /** The job: erases the accounts whose cooling-off period has ended; returns how many. */
  async eraseDue(): Promise<number> {
    let erased = 0;
    for (const row of await this.d.requests.due(this.clock(), PER_RUN)) {
      if (await this.erase(row)) erased++;
      await setImmediate();
    }
    return erased;
  }

  private async erase(row: AccountDeletionRow): Promise<boolean> {
    const { identity, orgs, sessions, audit, store, sources } = this.d;
    const user = await identity.findUser(row.user_id);
    if (!user) {
      await this.d.requests.remove(row.user_id);
      return false;
    }
    const sole = await orgs.soleOwnerships(user.id);
    if (sole.length) {
      // Someone else was made an owner, then left, during the cooling-off period: kept until resolved.
      this.d.log.warn({ user: user.id, orgs: sole }, "account erasure waits: sole owner of organisations");
      return false;
    }
    const person: ErasedPerson = {
      id: user.id,
      email: user.email,
      name: user.name ?? null,
      pseudonym: row.pseudonym,
    };
    await sessions.revokeAll(user.id, "portal");
    await orgs.removeUser(user.id);
    const entries = await audit.erase(this.d.db, {
      id: person.id,
      email: person.email,
      pseudonym: person.pseudonym,
      names: (text) => namesExactly(text, person),
    });
    // Dependents first: declarations in reverse order (a refresh token before its family).
    const order = [...sources].reverse();
    let rows = 0;
    for (const p of order.filter((s) => !s.tenant)) rows += await store.erase(p, person);
    const tenant = order.filter((s) => s.tenant);
    if (tenant.length)
      for (const org of await store.organisations()) {
        rows += await store.inOrgWrite(org, async (tx) => {
          let n = 0;
          for (const p of tenant) n += await store.erase(p, person, tx);
          return n;
        });
        await setImmediate();
      }
    const accounts = sources.filter((s) => s.erase === "account");
    await this.d.db.global.transaction().execute(async (tx) => {
      for (const p of accounts) rows += await store.eraseAccount(p, person, tx);
      await this.d.requests.remove(user.id, tx);
      await audit.record(tx, {
        action: "user.erased",
        actor: SYSTEM,
        entity: { type: "user", id: person.pseudonym },
        metadata: {
          requestedAt: new Date(row.requested_at).toISOString(),
          rows,
          auditEntries: entries,
        },
      });
    });
    return true;
  }

  private async refuseSoleOwner(userId: string): Promise<void> {
    const sole = await this.d.orgs.soleOwnerships(userId);
    if (sole.length)
      throw new AppError(
        "LAST_OWNER",
        "You are the only owner of an organisation with other members: make one of them an owner first.",
        { orgs: sole },
      );
  }
}

const stateOf = (row: AccountDeletionRow): DeletionState => ({
  requestedAt: Number(row.requested_at),
  dueAt: Number(row.due_at),
});
