import type { Capability } from "../capability.js";
import { type SealedField, Sealer } from "../crypto/seal.js";
import { DataKeysService } from "./service.js";
import { SealedFieldStore } from "./store.js";

declare module "../context.js" {
  interface Services {
    dataKeys: DataKeysService;
  }
}

/** How often a server re-seals values left under an older key (only while the ring holds one). */
const RESEAL_EVERY_MS = 3_600_000;

/**
 * Field encryption over stored data (DATA-1), given every sealed column the capabilities before it
 * declared: start-up refuses a key ring that cannot open what is stored, and while the ring holds an
 * older key a job re-seals its values under the current one, in batches, without downtime.
 */
export function dataKeysCapability(fields: readonly SealedField[]): Capability {
  return {
    name: "datakeys",
    async register(_app, ctx) {
      const sealer = new Sealer(ctx.config.dataKeys);
      const keys = new DataKeysService(new SealedFieldStore(ctx.db), sealer, fields);
      const problems = await keys.problems();
      if (problems.length) throw new Error(`Bulwark cannot start:\n  ${problems.join("\n  ")}`);
      ctx.provide("dataKeys", keys);

      const ring = ctx.config.dataKeys;
      if (ring.ids.length > 1) {
        ctx
          .service("jobs")
          // A lease per current key: a re-seal under the previous key does not hold back this one's.
          .schedule(
            "datakeys.reseal",
            { everyMs: RESEAL_EVERY_MS, firstMs: 5_000, lease: `datakeys.reseal.${ring.current}` },
            async () => {
              const done = await keys.reseal();
              for (const f of done.failed)
                ctx.log.error({ field: f.field, row: f.row, reason: f.reason }, "sealed value not re-sealed");
              if (done.failed.length) throw new Error(`${done.failed.length} sealed values open with no key`);
              if (done.remaining)
                ctx.log.warn({ remaining: done.remaining }, "sealed values remain under older keys");
              return Object.values(done.resealed).reduce((a, b) => a + b, 0);
            },
          );
      }

      ctx.posture.register({
        id: "DATA-1",
        title: "Field encryption with versioned keys",
        claim: `Secrets Bulwark must read back (${fields.map((f) => `${f.table}.${f.column}`).join(", ")}) are sealed with AES-256-GCM, each new value bound to its table, column and row (a value copied elsewhere does not open) and stored with the id of its key (now "${ring.current}"; held: ${ring.ids.join(", ")}). Keys come from DATA_KEYS or a secret file (or, when DATA_KEYS is unset outside production or lists v1, are derived from BULWARK_SECRET), never from the database. The first key seals; while older keys are listed a background job (datakeys.reseal) re-seals their values, and \`bulwark keys rotate-data\` does it at once, resumably, ending by counting what remains under older keys in every organisation. In production the server refuses to start without DATA_KEYS, and it refuses a key list that lacks a key the stored second-factor seeds, signing keys or sign-in flows were sealed under, or whose key under that id does not open them.`,
        settings: { algorithm: "AES-256-GCM", currentKey: ring.current, keys: ring.ids },
        enabled: true,
      });
    },
  };
}
