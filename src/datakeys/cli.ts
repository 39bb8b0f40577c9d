import { capabilities } from "../app.js";
import type { Config } from "../config/load.js";
import { Sealer } from "../crypto/seal.js";
import type { Database } from "../db/database.js";
import type { Extension } from "../orgs/extension.js";
import { DataKeysService } from "./service.js";
import { SealedFieldStore } from "./store.js";

interface Out {
  write(s: string): unknown;
}

/**
 * `bulwark keys rotate-data [--limit N]` (DATA-1): every value sealed under an older key of DATA_KEYS is
 * re-sealed under the first, while servers run. Interrupted (a crash, --limit), it is simply run again.
 * It ends by counting the values still under an older key, in every column and organisation: an old key
 * leaves DATA_KEYS only once that is 0. Exit code 1 when a value opens with no key of the ring (left as
 * it is, and named) or values remain after a full pass. Run it with the app's extensions (the app's own
 * CLI entry, `runCli(…, { extensions })`): columns of an extension it is not given are not seen.
 */
export async function rotateData(
  db: Database,
  config: Config,
  extensions: readonly Extension[],
  limit: number | undefined,
  out: { stdout: Out; stderr: Out },
): Promise<number> {
  const fields = capabilities({ extensions }).flatMap((c) => c.sealedFields ?? []);
  const keys = new DataKeysService(new SealedFieldStore(db), new Sealer(config.dataKeys), fields);
  const started = performance.now();
  const done = await keys.reseal(limit);
  const seconds = (performance.now() - started) / 1000;
  const total = Object.values(done.resealed).reduce((a, b) => a + b, 0);
  for (const [field, n] of Object.entries(done.resealed)) out.stdout.write(`${field}: ${n} re-sealed\n`);
  out.stdout.write(
    `${total} values re-sealed under key ${config.dataKeys.current} in ${seconds.toFixed(1)} s` +
      (done.stopped ? `; stopped at --limit ${limit}: run the command again to go on.\n` : ".\n"),
  );
  for (const f of done.failed) out.stderr.write(`${f.field} (row ${f.row}): ${f.reason}\n`);
  out.stdout.write(
    done.remaining === 0
      ? `0 values remain under older keys: every key but ${config.dataKeys.current} can leave DATA_KEYS.\n`
      : `${done.remaining} values remain under older keys: keep those keys in DATA_KEYS.\n`,
  );
  return done.failed.length || (done.remaining && !done.stopped) ? 1 : 0;
}
