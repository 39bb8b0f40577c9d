import type { FastifyInstance } from "fastify";
import type { Migration } from "kysely";
import type { BulwarkContext } from "./context.js";
import type { SealedField } from "./crypto/seal.js";
import type { MigrationContext } from "./db/migrations.js";
import type { PersonalData } from "./privacy/personal.js";

/**
 * One capability of Bulwark (identity, sessions, MFA, organisations…) or of an embedding app: everything
 * it brings comes through this one entry, so `app.ts` only lists capabilities, in dependency order.
 */
export interface Capability {
  readonly name: string;
  /** Its migrations, named `<nnnn>_<what>` (core) or `<capability>_<nnnn>_<what>` (extensions). */
  migrations?(ctx: MigrationContext): Record<string, Migration>;
  /** The columns it stores sealed (DATA-1): checked against the keys at start-up, re-sealed on rotation. */
  readonly sealedFields?: readonly SealedField[];
  /** The columns of its tables that name a person (GDPR-1): what an account's export gathers. */
  readonly personalData?: readonly PersonalData[];
  /** Routes, credential kinds, security-page claims, health checks and metrics; services for later capabilities. */
  register(app: FastifyInstance, ctx: BulwarkContext): void | Promise<void>;
}

/** The migrations of every capability, merged; a name used twice is a start-up error. */
export function capabilityMigrations(
  capabilities: readonly Pick<Capability, "name" | "migrations">[],
): (ctx: MigrationContext) => Record<string, Migration> {
  return (ctx) => {
    const all: Record<string, Migration> = {};
    for (const c of capabilities) {
      for (const [name, m] of Object.entries(c.migrations?.(ctx) ?? {})) {
        if (name in all) throw new Error(`Migration ${name} (${c.name}) is declared twice`);
        all[name] = m;
      }
    }
    return all;
  };
}
