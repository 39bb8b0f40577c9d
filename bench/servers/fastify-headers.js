// Baseline: bare Fastify plus the response headers Bulwark must send on every response (its security
// headers and a request id). The floor Bulwark cannot go below without dropping a header it promises:
// each header costs the server (validation, serialisation) and the load generator (parsing) per response.
import "./cpu.js";
import { randomBytes, randomUUID } from "node:crypto";
import Fastify from "fastify";
import { securityHeaders } from "../../dist/src/http/headers.js";
import { loadConfig } from "../../dist/src/index.js";

const headers = securityHeaders(
  loadConfig({
    NODE_ENV: "production",
    PUBLIC_URL: "https://bench.example.org",
    BULWARK_SECRET: randomBytes(32).toString("base64url"),
    DATA_KEYS: `k1:${randomBytes(32).toString("base64")}`,
    SECURITY_CONTACT: "mailto:security@bench.example.org",
  }),
);
const app = Fastify();
app.get("/health/live", async (_request, reply) => {
  reply.headers(headers);
  reply.header("x-request-id", randomUUID());
  return { status: "ok" };
});
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.send?.({ port: Number(new URL(address).port) });
// Exit cleanly on the runner's SIGTERM, so a BENCH_PROFILE CPU profile is written.
process.once("SIGTERM", () => process.exit(0));
