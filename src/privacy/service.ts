import { setImmediate } from "node:timers/promises";
import { PLATFORM_LOG } from "../audit/entry.js";
import type { AuditService } from "../audit/service.js";
import { type PersonalData, sectionOf } from "./personal.js";
import type { Person, PersonalDataStore } from "./store.js";

/** What `POST /v1/me/export` answers (GDPR-1): every row that names the person, by table. */
export interface PersonalDataExport {
  readonly format: "bulwark.personal-data.v1";
  readonly exportedAt: string;
  readonly user: { readonly id: string; readonly email: string };
  /** Rows as stored (timestamps in epoch milliseconds), per table (or `table.column`). */
  readonly tables: Record<string, Record<string, unknown>[]>;
  /** The columns left out, per table: secrets, their hashes and tokens. */
  readonly withheld: Record<string, string[]>;
  readonly notes: string[];
}

const PERSON_ID = /\b(usr|adm)_[0-9A-HJKMNP-TV-Z]{26}\b/g;
/** Anything with an @ between non-blank characters: an address in any syntax the Email schema takes. */
const AN_ADDRESS = /[^\s<>"]*[^\s<>"@]@[^\s<>"@]+/g;

/**
 * Privacy requests (GDPR-1): an account's personal data, gathered from every declared table. Reads
 * only; the request is audited by the route. Other people are not exported with the person: in what is
 * theirs (a colleague named in an audit entry, the inviter of an invitation) other users' ids and other
 * addresses are replaced by "[another person]".
 */
export class PrivacyService {
  constructor(
    private readonly store: PersonalDataStore,
    private readonly sources: readonly PersonalData[],
    private readonly audit: AuditService,
    private readonly clock: () => number = Date.now,
  ) {}

  /**
   * The person's data now: the audit log's buffered entries written first, so none is missing. Global
   * tables first; then the organisations they name the person in (memberships, keys and tokens they
   * created, audit logs and webhook messages that name them: organisations they left included), each
   * read once for every tenant table, yielding between organisations.
   */
  async export(person: Person): Promise<PersonalDataExport> {
    await this.audit.flush();
    const tables: Record<string, Record<string, unknown>[]> = {};
    const withheld: Record<string, string[]> = {};
    const orgs = new Set<string>();
    const add = (p: PersonalData, rows: Record<string, unknown>[]) => {
      const name = sectionOf(p);
      if (p.omit?.length) withheld[name] = [...p.omit];
      const list = tables[name] ?? [];
      tables[name] = list;
      for (const row of rows) {
        for (const key of ["org_id", "log_id"])
          if (typeof row[key] === "string" && row[key] !== PLATFORM_LOG) orgs.add(row[key] as string);
        list.push(this.shape(p, row, person));
      }
    };
    const tenant = this.sources.filter((p) => p.tenant);
    for (const p of this.sources.filter((s) => !s.tenant)) add(p, await this.store.rows(p, person));
    for (const p of tenant) add(p, []);
    if (tenant.length)
      for (const org of [...orgs].sort()) {
        const found = await this.store.inOrg(org, async (db) => {
          const out: Record<string, unknown>[][] = [];
          for (const p of tenant) out.push(await this.store.rows(p, person, db));
          return out;
        });
        for (const [i, p] of tenant.entries()) add(p, found[i] ?? []);
        // SQLite answers synchronously: let other requests in between organisations.
        await setImmediate();
      }
    return {
      format: "bulwark.personal-data.v1",
      exportedAt: new Date(this.clock()).toISOString(),
      user: { id: person.id, email: person.email },
      tables,
      withheld,
      notes: [
        "Timestamps are milliseconds since 1970-01-01 UTC.",
        "Withheld columns hold secrets, their hashes or tokens: they identify nothing about you and would let whoever holds this file act as you.",
        'Other people are not part of your export: their user ids and addresses are shown as "[another person]", platform staff as "[a platform admin]"; the network address and browser of someone else acting on your account (an admin impersonating you) are left out.',
      ],
    };
  }

  private shape(p: PersonalData, row: Record<string, unknown>, person: Person): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [column, value] of Object.entries(row)) {
      if (p.omit?.includes(column)) continue;
      let v = value;
      // PostgreSQL returns bigint columns as text: times are numbers on both engines.
      if (typeof v === "string" && /(_at|^until)$/.test(column) && /^\d+$/.test(v)) v = Number(v);
      if (p.json?.includes(column) && typeof v === "string") {
        try {
          v = JSON.parse(v);
        } catch {
          // Kept as text: an export never fails on one value.
        }
      }
      out[column] = v;
    }
    return others(p.shape ? p.shape(out, person.id) : out, person) as Record<string, unknown>;
  }
}

/** `value` with every other user's or admin's id and every address but the person's replaced, keys too. */
function others(value: unknown, person: Person): unknown {
  if (typeof value === "string") return otherText(value, person);
  if (typeof value === "bigint") return Number(value);
  if (Array.isArray(value)) return value.map((v) => others(v, person));
  if (value && typeof value === "object")
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [otherText(k, person), others(v, person)]),
    );
  return value;
}

function otherText(text: string, person: Person): string {
  const own = person.email.toLowerCase();
  return text
    .replace(PERSON_ID, (id, kind: string) =>
      id === person.id ? id : kind === "adm" ? "[a platform admin]" : "[another person]",
    )
    .replace(AN_ADDRESS, (a) => (a.toLowerCase().replace(/[.,;:)]+$/, "") === own ? a : "[another person]"));
}
