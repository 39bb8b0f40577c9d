// Baseline: a bare Fastify server (no logger, no hooks) serving the same route and body.
import "./cpu.js";
import Fastify from "fastify";

const app = Fastify();
app.get("/health/live", async () => ({ status: "ok" }));
const address = await app.listen({ port: 0, host: "127.0.0.1" });
process.send?.({ port: Number(new URL(address).port) });
// Exit cleanly on the runner's SIGTERM, so a BENCH_PROFILE CPU profile is written.
process.once("SIGTERM", () => process.exit(0));
