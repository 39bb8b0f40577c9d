// Bulwark with its full hook stack in the production profile: request id, security headers, HTTPS policy
// (behind a trusted proxy on loopback), CORS, metrics and one access-log line per request at info level.

import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, start } from "../../dist/src/index.js";

const config = loadConfig({
  ...process.env,
  NODE_ENV: "production",
  PORT: "0",
  HOST: "127.0.0.1",
  PUBLIC_URL: "https://bench.example.org",
  BULWARK_SECRET: randomBytes(32).toString("base64url"),
  SECURITY_CONTACT: "mailto:security@bench.example.org",
  CORS_ORIGINS: "https://console.bench.example.org",
  TRUSTED_PROXIES: "127.0.0.1",
  BULWARK_DATA_DIR: process.env.BULWARK_DATA_DIR ?? mkdtempSync(join(tmpdir(), "bulwark-bench-")),
  LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
});
const running = await start(config, { routes: globalThis.benchRoutes });
process.send?.({ port: Number(new URL(running.url).port) });
