// The package as a stranger gets it: `npm pack`, install the tarball into a fresh app outside the repo,
// type-check the README's library example there against the installed types, run it, and call its
// tenant route over HTTP (sign up, verify by the mailed link, sign in, create an organisation, use its
// own action, error code and table). Run by .ci/run; bounded in time; cleans up after itself.
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(new URL("..", import.meta.url).pathname);
const work = mkdtempSync(join(tmpdir(), "bulwark-pack-"));
const run = (cmd, args, cwd) =>
  execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "inherit"] }).toString();
const step = (s) => console.log(`pack-test: ${s}`);
let server;

try {
  step("npm pack");
  const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", work], repo))[0];
  const files = packed.files.map((f) => f.path);
  for (const bad of files.filter((f) => /(^|\/)(test|bench|examples)\/|\.test\.|^data\//.test(f)))
    throw new Error(`the tarball ships ${bad}`);
  if (!files.includes("dist/src/index.js") || !files.includes("dist/src/index.d.ts"))
    throw new Error("the tarball lacks dist/src/index.js or its types");
  step(`${packed.filename}: ${files.length} files, ${Math.round(packed.size / 1024)} KiB`);

  const app = join(work, "app");
  run("mkdir", ["-p", app]);
  const pkg = JSON.parse(readFileSync(join(repo, "package.json"), "utf8"));
  const typebox = pkg.dependencies["@sinclair/typebox"];
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "notes-app", private: true, type: "module" }),
  );
  step("npm install the tarball into a fresh app");
  run(
    "npm",
    [
      "install",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      join(work, packed.filename),
      `@sinclair/typebox@${typebox}`,
    ],
    app,
  );

  // The README's library example, as written.
  const readme = readFileSync(join(repo, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## As a library"));
  const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!example) throw new Error("README has no library example");
  writeFileSync(join(app, "app.ts"), example);
  writeFileSync(
    join(app, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noUncheckedIndexedAccess: true,
        skipLibCheck: false,
        types: ["node"],
        typeRoots: [join(repo, "node_modules/@types")],
        outDir: "out",
      },
      files: ["app.ts"],
    }),
  );
  step("type-check and compile the README example against the installed package");
  run(process.execPath, [join(repo, "node_modules/typescript/bin/tsc"), "-p", "."], app);

  const port = await new Promise((ok) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => ok(p));
    });
  });
  const data = join(work, "data");
  step(`start the app on :${port}`);
  server = spawn(process.execPath, ["out/app.js"], {
    cwd: app,
    env: {
      PATH: process.env.PATH,
      NODE_ENV: "development",
      PORT: String(port),
      BULWARK_DATA_DIR: data,
      CATALOG_EXAMPLE: "false",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "inherit", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (
      await fetch(`${base}/health/live`).then(
        (r) => r.ok,
        () => false,
      )
    )
      break;
    if (i > 100) throw new Error("the app did not start");
    await new Promise((r) => setTimeout(r, 200));
  }

  let cookie = "";
  let csrf = "";
  const call = async (method, path, body) => {
    const headers = { origin: base, ...(cookie ? { cookie, "x-csrf-token": csrf } : {}) };
    if (body) headers["content-type"] = "application/json";
    const res = await fetch(base + path, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const set = res.headers.get("set-cookie");
    if (set) cookie = set.split(";")[0];
    const json = await res.json().catch(() => undefined);
    if (json?.csrfToken) csrf = json.csrfToken;
    return { status: res.status, json };
  };
  const expect = (what, got, want) => {
    if (got !== want) throw new Error(`${what}: got ${got}, want ${want}`);
    step(`${what}: ${got}`);
  };
  const email = "owner@example.org";
  const password = "a fine pack-test passphrase";
  expect("sign up", (await call("POST", "/v1/auth/signup", { email, password })).status, 202);
  let token;
  for (let i = 0; i < 50 && !token; i++) {
    const dir = join(data, "mail");
    const mails = (() => {
      try {
        return readdirSync(dir).map((f) => readFileSync(join(dir, f), "utf8"));
      } catch {
        return [];
      }
    })();
    // Quoted-printable mail: unfold soft line breaks before reading the link.
    token = mails
      .map(
        (m) =>
          /verify-email\?token=([A-Za-z0-9_-]+)/.exec(m.replace(/=\r?\n/g, "").replaceAll("=3D", "="))?.[1],
      )
      .find(Boolean);
    if (!token) await new Promise((r) => setTimeout(r, 100));
  }
  const verified = await call("POST", "/v1/auth/verify-email", { token });
  expect("verify the address", verified.status, 200);
  expect("sign in", (await call("POST", "/v1/auth/login", { email, password })).status, 200);
  const org = await call("POST", "/v1/orgs", { name: "Pack test" });
  expect("create an organisation", org.status, 201);
  const notes = `/v1/orgs/${org.json.org.id}/notes`;
  const empty = await call("POST", notes, { body: " " });
  expect("the extension's own error code", empty.json?.error?.code, "NOTE_EMPTY");
  expect("write with the extension's own action", (await call("POST", notes, { body: "hello" })).status, 201);
  const list = await call("GET", notes);
  expect("read it back from the extension's own table", list.json?.notes?.[0]?.body, "hello");
  cookie = "";
  expect("no session, no notes", (await call("GET", notes)).status, 401);
  step("passed");
} finally {
  server?.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  if (!process.env.KEEP) rmSync(work, { recursive: true, force: true });
  else console.log(work);
}
