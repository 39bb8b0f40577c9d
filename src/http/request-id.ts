import { randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";

/** A caller's id is reused only if it is short and plain: it lands in logs, and log injection is an attack. */
const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;

/** OBS-1: accept a well-formed incoming `X-Request-Id`, else make one. */
export function requestId(req: IncomingMessage): string {
  const incoming = req.headers["x-request-id"];
  return typeof incoming === "string" && WELL_FORMED.test(incoming) ? incoming : randomUUID();
}
