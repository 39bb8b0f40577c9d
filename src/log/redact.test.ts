import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

/** Bulwark's own logger writing into memory: every line as written to stdout. */
function capture() {
  const lines: string[] = [];
  const log = createLogger({ level: "info", stream: { write: (s: string) => void lines.push(s) } });
  return { log, text: () => lines.join("") };
}

const SESSION = "bws_Qm9vZ2llV29vZ2llQm9vZ2llV29vZ2ll";
const RESET = "bwr_c2VjcmV0LXJlc2V0LXRva2VuLXZhbHVl";

describe("log redaction at any depth (OBS-2)", () => {
  it("OBS-2: secrets nested in request dumps, arrays and errors are redacted by key name", () => {
    const { log, text } = capture();
    log.info({ req: { body: { password: "hunter2-nested-pw", token: "tok-nested-secret" } } }, "dump");
    log.info({
      batch: [{ user: { apiKey: "api-key-in-array" } }, { headers: { "x-csrf-token": "csrf-deep" } }],
    });
    log.info({ a: { b: { c: { d: { e: { f: { currentPassword: "six-levels-down" } } } } } } });
    const err = Object.assign(new Error("boom"), { details: { secret: "error-field-secret" } });
    log.error({ err }, "failed");
    const out = text();
    for (const s of [
      "hunter2-nested-pw",
      "tok-nested-secret",
      "api-key-in-array",
      "csrf-deep",
      "six-levels-down",
      "error-field-secret",
    ])
      expect(out).not.toContain(s);
    expect(out.match(/\[REDACTED\]/g)?.length).toBeGreaterThanOrEqual(6);
    // The rest of the line survives: redaction is targeted, not a blanket.
    expect(out).toContain('"msg":"dump"');
    expect(out).toContain('"message":"boom"');
  });

  it("OBS-2: values that look like Bulwark's own secrets are redacted under any key and in the message", () => {
    const { log, text } = capture();
    log.info(
      { note: `session was ${SESSION}`, list: [RESET] },
      `reset link https://x.example/reset-password?token=${RESET}`,
    );
    log.warn(new Error(`could not revoke ${SESSION}`));
    log.info({ header: "Bearer eyJhbGciOiJFZERTQSJ9.payload.sig" }, "auth");
    const out = text();
    expect(out).not.toContain(SESSION.slice(4));
    expect(out).not.toContain(RESET.slice(4));
    expect(out).not.toContain("eyJhbGciOiJFZERTQSJ9");
    expect(out).toContain("session was [REDACTED]");
  });

  it("OBS-2, DATA-3: an upload link's signature is redacted wherever the link is logged", () => {
    const { log, text } = capture();
    log.info({
      url: "/v1/storage/orgs/o/upl_1?type=image%2Fpng&expires=1&signature=LocalSig_0123456789abcdef",
    });
    log.info(
      "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F2026&X-Amz-Security-Token=SessTok0123456789&X-Amz-Signature=deadbeef0123456789",
    );
    const out = text();
    for (const secret of ["LocalSig_0123456789abcdef", "SessTok0123456789", "deadbeef0123456789"])
      expect(out).not.toContain(secret);
    expect(out).toContain("signature=[REDACTED]");
  });

  it("OBS-2: an error carrying its message and stack as own fields (the AWS SDK's) is logged, redacted", () => {
    const { log, text } = capture();
    // As the AWS SDK builds its service errors: message and stack assigned, so enumerable own fields.
    const err = Object.assign(new Error(), {
      name: "AccessDenied",
      message: `denied for ${SESSION}`,
      $metadata: { httpStatusCode: 403 },
    });
    expect(Object.keys(err)).toContain("message");
    log.error({ err }, "store refused");
    const out = text();
    expect(out).toContain('"msg":"store refused"');
    expect(out).toContain("denied for [REDACTED]");
    expect(out).toContain('"httpStatusCode":403');
  });

  it("OBS-2: a cycle or a class instance in a logged object neither crashes nor dumps the instance", () => {
    const { log, text } = capture();
    const loop: Record<string, unknown> = { name: "loop" };
    loop.self = loop;
    class Connection {
      secretish = "should-not-be-walked";
    }
    log.info({ loop, conn: new Connection() });
    const out = text();
    expect(out).toContain("[CIRCULAR]");
    expect(out).toContain("[Connection]");
    expect(out).not.toContain("should-not-be-walked");
  });

  it("OBS-2: every secret format Bulwark issues is redacted by value", () => {
    const { log, text } = capture();
    const tail = "Q2hlY2tpbmdFdmVyeVByZWZpeEZvcm1hdA";
    const secrets = ["bws", "bwa", "bwr", "bwv", "bwi", "bwm", "bwk", "whsec", "brt", "ocs"].map(
      (p) => `${p}_${tail}`,
    );
    log.info({ note: secrets.join(" ") }, `issued ${secrets.join(", ")}`);
    expect(text()).not.toContain(tail);
    expect(JSON.parse(text()).note.split(" ")).toEqual(secrets.map(() => "[REDACTED]"));
  });

  it("OBS-2: an OpenID Connect address logged whole keeps no token or hint", () => {
    const { log, text } = capture();
    const hint = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1c3JfMDEifQ.c2lnbmF0dXJlLWJ5dGVz";
    log.info(
      {
        url: `/oidc/session/end?id_token_hint=${hint}&login_hint=ann%40example.org&client_secret=s3cr3t-value`,
      },
      "request",
    );
    expect(text()).not.toContain(hint);
    expect(text()).not.toContain("ann%40example.org");
    expect(text()).not.toContain("s3cr3t-value");
  });

  it("OBS-2, AUTH-11: an external sign-in's callback and an encoded token inside `next` keep no secret", () => {
    const { log, text } = capture();
    const state = "bwx_c3RhdGUtb2YtYS1yb3VuZC10cmlw";
    log.info(
      {
        url: `/v1/auth/external/acme/callback?code=Y29kZS1mcm9tLXByb3ZpZGVy&state=${state}&iss=https%3A%2F%2Fid.example`,
        next: `/?next=%2Freset-password%3Ftoken%3D${RESET}`,
      },
      "request",
    );
    expect(text()).not.toContain("Y29kZS1mcm9tLXByb3ZpZGVy");
    expect(text()).not.toContain(state);
    expect(text()).not.toContain(RESET);
  });

  it("OBS-2: every line the server writes is one JSON object, the access line included", async () => {
    const { testApp } = await import("../../test/harness.js");
    const t = await testApp({ ACCESS_LOG: "all" });
    try {
      await t.app.inject({ url: "/health/live" });
      await t.app.inject({ url: "/nope?token=bwv_x" });
      expect(t.rawLogs.length).toBeGreaterThan(1);
      for (const line of t.rawLogs) {
        expect(line.endsWith("\n")).toBe(true);
        expect(line.trimEnd().includes("\n")).toBe(false);
        expect(typeof JSON.parse(line)).toBe("object");
      }
    } finally {
      await t.close();
    }
  });
});
