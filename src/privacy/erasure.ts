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
import { type ErasedPerson, mentions, type PersonalDataStore } from "./store.js";
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
      claimed_at: null,
      email: null,
      name: null,
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

  /** Cancels a pending request, audited; NOT_FOUND when there is none, CONFLICT once erasure began. */
  async cancel(userId: string, req: FastifyRequest): Promise<void> {
    const outcome = await this.d.db.global.transaction().execute(async (tx) => {
      const result = await this.d.requests.cancel(userId, tx);
      if (result === "cancelled")
        await this.d.audit.record(
          tx,
          byRequest(req, { action: "user.deletion_cancelled", entity: { type: "user", id: userId } }),
        );
      return result;
    });
    if (outcome === "none") throw new AppError("NOT_FOUND", "No deletion of this account is pending.");
    if (outcome === "begun") throw new AppError("CONFLICT", "The erasure of this account has begun.");
  }

  /**
   * The job: erases the accounts whose cooling-off period has ended; returns how many. One that fails
   * does not stop the others; the run is then recorded as failed (and the next run tries it again).
   */
  async eraseDue(): Promise<number> {
    let erased = 0;
    const failed: string[] = [];
    for (const row of await this.d.requests.due(this.clock(), PER_RUN)) {
      try {
        if (await this.erase(row)) erased++;
      } catch (err) {
        failed.push(row.pseudonym);
        this.d.log.error({ err, account: row.pseudonym }, "account erasure failed; retried next run");
      }
      await setImmediate();
    }
    if (failed.length) throw new Error(`erasure failed for ${failed.join(", ")} (${erased} erased)`);
    return erased;
  }

  private async erase(row: AccountDeletionRow): Promise<boolean> {
    const { orgs, sessions, audit, store, sources } = this.d;
    const person = await this.claim(row);
    if (!person) return false;
    const id = person.id;
    // Its sessions first (on every process), its memberships (the owner rule checked again, in the same
    // transaction), then its other credentials and own rows, so no way in is left while the rest is
    // erased (dependents first: declarations in reverse order, a refresh token before its family).
    await sessions.revokeAll(id, "portal");
    const { blocked } = await orgs.removeUser(id);
    if (blocked.length) throw new Error(`the account became the only owner of ${blocked.join(", ")}`);
    const order = [...sources].reverse();
    let rows = 0;
    for (const p of order.filter((s) => !s.tenant)) rows += await store.erase(p, person);
    const entries = await audit.erase(this.d.db, {
      id,
      email: person.email,
      pseudonym: person.pseudonym,
      names: (text) => mentions(text, person),
    });
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
      await this.d.requests.remove(id, tx);
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
    await sessions.revokeAll(id, "portal");
    return true;
  }

  /**
   * Takes the request on: in one transaction, unless cancelled meanwhile, the request records what will
   * be erased and the account is retired (its address and password replaced: nobody signs in to it
   * again, and a cancellation is refused from then on). A request taken on by an earlier run that
   * stopped is continued from what it recorded. Undefined: nothing to erase (yet).
   */
  private async claim(row: AccountDeletionRow): Promise<ErasedPerson | undefined> {
    const base = { id: row.user_id, pseudonym: row.pseudonym };
    if (row.claimed_at !== null && row.email) return { ...base, email: row.email, name: row.name };
    const user = await this.d.identity.findUser(row.user_id);
    if (!user) {
      await this.d.requests.remove(row.user_id);
      return undefined;
    }
    const sole = await this.d.orgs.soleOwnerships(user.id);
    if (sole.length) {
      // Made the only owner again during the cooling-off period: kept until someone else owns them.
      this.d.log.warn({ account: row.pseudonym, orgs: sole }, "account erasure waits: sole owner");
      return undefined;
    }
    const person = { email: user.email, name: user.name ?? null };
    const claimed = await this.d.db.global.transaction().execute(async (tx) => {
      if (!(await this.d.requests.claim(user.id, this.clock(), person, tx))) return false;
      await this.d.identity.retire(user.id, `${row.pseudonym.toLowerCase()}@erased.invalid`, tx);
      return true;
    });
    return claimed ? { ...base, ...person } : undefined;
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
