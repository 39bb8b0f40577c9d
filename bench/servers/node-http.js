// Baseline: the bare node:http server.
import "./cpu.js";
import { createServer } from "node:http";

const body = JSON.stringify({ status: "ok" });
const server = createServer((_req, res) => {
  res.writeHead(200, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
});
server.listen(0, "127.0.0.1", () => process.send?.({ port: server.address().port }));
// Exit cleanly on the runner's SIGTERM, so a BENCH_PROFILE CPU profile is written.
process.once("SIGTERM", () => process.exit(0));
