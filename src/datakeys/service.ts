import { setImmediate } from "node:timers/promises";
import { keyIdOf, type SealedField, type Sealer } from "../crypto/seal.js";
import type { Db } from "../db/database.js";
import type { SealedFieldStore } from "./store.js";

/** What one re-sealing pass did (DATA-1). */
export interface Resealed {
  /** Values re-sealed under the current key, by `table.column`. */
  readonly resealed: Record<string, number>;
  /** Values no key of the ring opens: left as they were, named here. */
  readonly failed: readonly { readonly field: string; readonly row: string; readonly reason: string }[];
  /** Whether the pass stopped at its `limit` before the end (the next pass goes on from there). */
  readonly stopped: boolean;
  /** Values still under an older key afterwards (failed ones, or ones a node without the new key wrote). */
  readonly remaining: number;
}

const BATCH = 500;
const ORGS = 200;

/**
 * The rules of field encryption over stored data (DATA-1): the key ring must open what is stored
 * (start-up refuses a ring that does not), and values sealed under an older key are re-sealed under the
 * current one, batch by batch, while the server runs. A pass can stop anywhere (a crash, a limit): each
 * row is replaced only if it still holds what was read, values already under the current key are skipped,
 * so the next pass simply finishes the work and nothing is re-sealed twice or lost.
 */
export class DataKeysService {
  constructor(
    private readonly store: SealedFieldStore,
    private readonly sealer: Sealer,
    private readonly fields: readonly SealedField[],
  ) {}

  /** Whether `field` is one of the declared sealed columns (an undeclared one would never rotate). */
  declares(field: SealedField): boolean {
    return this.fields.some(
      (f) => f.table === field.table && f.column === field.column && f.rowKey === field.rowKey,
    );
  }

  /**
   * What stops the server from starting: a value sealed under a key the ring does not hold, or a key
   * of the ring that fails to open a value sealed under its id (the wrong key given that id). Checks the
   * platform's sealed columns (second-factor seeds, signing keys, sign-in flows); an organisation's
   * (webhook secrets) are checked by `bulwark keys rotate-data`, which opens every value.
   */
  async problems(): Promise<string[]> {
    const out: string[] = [];
    const ids = this.sealer.ring.ids;
    for (const field of this.fields.filter((f) => !f.tenant)) {
      await this.store.scoped(field, undefined, async (db) => {
        const stray = await this.store.sample(db, field, { notUnder: ids });
        if (stray)
          out.push(
            `DATA_KEYS: ${name(field)} (row ${stray.row}) is sealed under key "${keyIdOf(stray.value)}", which DATA_KEYS does not hold: add that key back`,
          );
        for (const keyId of ids) {
          const one = await this.store.sample(db, field, { keyId });
          if (!one) continue;
          try {
            this.sealer.open(one.value, field, one.row);
          } catch {
            out.push(
              `DATA_KEYS: key "${keyId}" does not open ${name(field)} (row ${one.row}), sealed under that id: it is not the key that sealed it`,
            );
          }
        }
      });
    }
    return out;
  }

  /**
   * Re-seals every value not under the current key; stops after `limit` values when given. Each page of
   * rows is its own transaction (an organisation's scope for a tenant table), and the event loop gets a
   * turn between pages, so a server re-sealing in the background keeps serving.
   */
  async reseal(limit = Number.POSITIVE_INFINITY): Promise<Resealed> {
    const resealed: Record<string, number> = {};
    const failed: { field: string; row: string; reason: string }[] = [];
    let left = limit;
    /** One page of `field` after `after`; false when the limit stopped it, else the last row (or null: the end). */
    const page = (db: Db, field: SealedField, after: unknown) =>
      (async (): Promise<false | { last: unknown } | null> => {
        const rows = await this.store.page(db, field, after, BATCH);
        for (const { row, value } of rows) {
          if (this.sealer.isCurrent(value)) continue;
          if (left <= 0) return false;
          let plain: string;
          try {
            plain = this.sealer.open(value, field, row);
          } catch (err) {
            failed.push({ field: name(field), row, reason: (err as Error).message });
            continue;
          }
          if (await this.store.replace(db, field, row, value, this.sealer.seal(plain, field, row))) {
            resealed[name(field)] = (resealed[name(field)] ?? 0) + 1;
            left--;
          }
        }
        return rows.length < BATCH ? null : { last: rows[rows.length - 1]!.row };
      })();
    const walk = async (field: SealedField, org: string | undefined): Promise<boolean> => {
      for (let after: unknown; ; ) {
        const done = await this.store.scoped(field, org, (db) => page(db, field, after));
        await setImmediate();
        if (done === false) return false;
        if (done === null) return true;
        after = done.last;
      }
    };
    for (const field of this.fields)
      for await (const org of this.orgsOf(field))
        if (!(await walk(field, org)))
          return { resealed, failed, stopped: true, remaining: await this.remaining() };
    return { resealed, failed, stopped: false, remaining: await this.remaining() };
  }

  /** Values not under the current key, in every sealed column (every organisation's too): 0 before an old key goes. */
  async remaining(): Promise<number> {
    let n = 0;
    for (const field of this.fields)
      for await (const org of this.orgsOf(field))
        n += await this.store.scoped(field, org, (db) =>
          this.store.countNotUnder(db, field, [this.sealer.ring.current]),
        );
    return n;
  }

  /** The scopes a field's rows are reached through: each organisation for a tenant table, else none. */
  private async *orgsOf(field: SealedField): AsyncGenerator<string | undefined> {
    if (!field.tenant) {
      yield undefined;
      return;
    }
    for (let after = ""; ; ) {
      const orgs = await this.store.orgs(after, ORGS);
      yield* orgs;
      if (orgs.length < ORGS) return;
      after = orgs[orgs.length - 1]!;
    }
  }
}

const name = (f: SealedField) => `${f.table}.${f.column}`;
