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
import { type ErasedPerson, namesInEntry, type PersonalDataStore } from "./store.js";
import type { AccountDeletionRow } from "./tables.js";

/** A pending deletion as the API shows it. */
export interface DeletionState {
  readonly requestedAt: number;
  /** When the erasure job may erase the account: the request's time plus the cooling-off period. */
  readonly dueAt: number;
  /** The job has taken it on: it can no longer be cancelled. */
  readonly erasing: boolean;
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

/** Due requests read at a time. */
const PER_PAGE = 50;

/** The account is the only owner of organisations with other members: its erasure waits. */
class Waiting extends Error {
  constructor(readonly orgs: readonly string[]) {
    super("sole owner");
  }
}

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
   * The job: erases the accounts whose cooling-off period has ended; returns how many. Pages past
   * requests that must wait (the only owner of an organisation with members), so they never hold up
   * the rest. One that fails does not stop the others; the run is then recorded as failed (and the next
   * run tries it again).
   */
  async eraseDue(): Promise<number> {
    let erased = 0;
    const failed: string[] = [];
    const now = this.clock();
    let after: AccountDeletionRow | undefined;
    for (;;) {
      const page = await this.d.requests.due(now, PER_PAGE, after);
      for (const row of page) {
        try {
          if (await this.erase(row, now)) erased++;
        } catch (err) {
          failed.push(row.pseudonym);
          this.d.log.error({ err, account: row.pseudonym }, "account erasure failed; retried next run");
        }
        await setImmediate();
      }
      if (page.length < PER_PAGE) break;
      after = page[page.length - 1];
    }
    if (failed.length) throw new Error(`erasure failed for ${failed.join(", ")} (${erased} erased)`);
    return erased;
  }

  private async erase(row: AccountDeletionRow, now: number): Promise<boolean> {
    const { audit, store, sources } = this.d;
    const claimed = await this.claim(row, now);
    if (!claimed) return false;
    const { person, claimedAt } = claimed;
    let rows = claimed.rows;
    // Its address was freed when it was retired: if someone has signed up with it since, entries from
    // then on name them, not this account.
    const reused = (await this.d.identity.findUserByEmail(person.email)) !== undefined;
    const entries = await audit.erase(this.d.db, {
      id: person.id,
      pseudonym: person.pseudonym,
      email: person.email,
      names: (entry, at) => namesInEntry(entry, person, reused && at >= claimedAt),
    });
    const tenant = [...sources].reverse().filter((s) => s.tenant);
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
      await this.d.requests.remove(person.id, tx);
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
    await this.d.sessions.revokeAll(person.id, "portal");
    return true;
  }

  /**
   * Takes the request on, in one transaction, unless it was cancelled (or cancelled and asked again)
   * meanwhile: the request records what will be erased; the account leaves its organisations (refused,
   * and nothing done, while it is the only owner of one with other members: it waits); it is retired
   * (address and password replaced); and every row of the global declarations (sessions, second
   * factors, passkeys, tokens and their families, linked sign-ins, provider grants) is deleted or
   * pseudonymised. So nobody signs in to it again, nor cancels, from the moment it is taken on. Then
   * every process's cached sessions and access are dropped. A request taken on by an earlier run that
   * stopped is continued from what it recorded. Undefined: nothing to erase (yet).
   */
  private async claim(
    row: AccountDeletionRow,
    now: number,
  ): Promise<{ person: ErasedPerson; claimedAt: number; rows: number } | undefined> {
    const { identity, orgs, sessions, store, requests } = this.d;
    const global = [...this.d.sources].reverse().filter((s) => !s.tenant);
    const base = { id: row.user_id, pseudonym: row.pseudonym };
    if (row.claimed_at !== null && row.email) {
      const person = { ...base, email: row.email, name: row.name };
      let rows = 0;
      for (const p of global) rows += await store.erase(p, person);
      await sessions.revokeAll(person.id, "portal");
      return { person, claimedAt: Number(row.claimed_at), rows };
    }
    const user = await identity.findUser(row.user_id);
    if (!user) {
      await requests.remove(row.user_id);
      return undefined;
    }
    const person: ErasedPerson = { ...base, email: user.email, name: user.name ?? null };
    const taken = await this.d.db.global
      .transaction()
      .execute(async (tx) => {
        if (!(await requests.claim(row, now, person, tx))) return undefined;
        const { left, blocked } = await orgs.removeUser(user.id, tx);
        if (blocked.length) throw new Waiting(blocked);
        await identity.retire(user.id, `${row.pseudonym.toLowerCase()}@erased.invalid`, tx);
        let rows = 0;
        for (const p of global) rows += await store.erase(p, person, tx);
        return { left, rows };
      })
      .catch((err: unknown) => {
        if (!(err instanceof Waiting)) throw err;
        // Made the only owner again during the cooling-off period: kept until someone else owns them.
        this.d.log.warn({ account: row.pseudonym, orgs: err.orgs }, "account erasure waits: sole owner");
        return undefined;
      });
    if (!taken) return undefined;
    orgs.forgetMember(taken.left, user.id);
    await sessions.revokeAll(user.id, "portal");
    return { person, claimedAt: now, rows: taken.rows };
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
  erasing: row.claimed_at !== null,
});
