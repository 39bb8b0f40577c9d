// Runs Bulwark's TypeScript sources in a plain `node` process, for tests that need the real server in a
// child process (signals, exit codes): `node --import ./test/run-ts.mjs src/cli/index.ts start`.
// Each .ts module is transpiled on load by the project's own TypeScript (types erased, nothing else
// changes), and the `.js` specifiers of the sources resolve to their `.ts` files, as tsc's output would.
import { existsSync, readFileSync } from "node:fs";
import { register } from "node:module";
import { fileURLToPath } from "node:url";
import { isMainThread, workerData } from "node:worker_threads";

// The same file is the loader: registered from the main thread, loaded again in the hooks thread.
if (isMainThread || workerData?.typescript === true) register(import.meta.url);

/** @type {import("typescript") | undefined} */
let ts;

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (err) {
    const relative = /^\.{1,2}\//.test(specifier) && specifier.endsWith(".js") && context.parentURL;
    const candidate = relative ? new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL) : undefined;
    if (candidate && existsSync(candidate)) return { url: candidate.href, shortCircuit: true };
    throw err;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return next(url, context);
  ts ??= (await import("typescript")).default;
  const out = ts.transpileModule(readFileSync(new URL(url), "utf8"), {
    fileName: fileURLToPath(url),
    compilerOptions: {
      module: ts.ModuleKind.ESNext,
      target: ts.ScriptTarget.ES2022,
      verbatimModuleSyntax: true,
      sourceMap: false,
    },
  });
  return { format: "module", source: out.outputText, shortCircuit: true };
}
