import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAdmin, signedIn } from "../../test/admins.js";
import { hashLeaf, openSignedNote, verifyConsistency, verifyInclusion } from "../../test/audit-reference.js";
import { createUser, ENGINE, login, type TestApp, testApp } from "../../test/harness.js";
import { runCli } from "../cli/main.js";
import type { AuditEvent } from "./entry.js";
import type { AuditService } from "./service.js";

const PW = "audit passphrase 42";
const b64 = (s: string) => Buffer.from(s, "base64");

describe(`audit log over HTTP (${ENGINE})`, () => {
  let t: TestApp;
  let audit: AuditService;
  let org: string;
  let ownerId: string;
  let owner: Record<string, string>;
  let key: string;
  let keyId: string;
  let admin: Record<string, string>;
  let root: { code(offsetMs?: number): string };

  beforeAll(async () => {
    t = await testApp();
    audit = t.app.bulwark.service("audit");
    ownerId = await createUser(t, "owner@example.org", PW);
    const s = await login(t, "owner@example.org", PW);
    owner = { cookie: s.cookie, "x-csrf-token": s.csrf, "user-agent": "audit-test/1.0" };
    org = (
      await t.app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Ledger" } })
    ).json().org.id;
    const made = (
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org}/api-keys`,
        headers: owner,
        payload: { name: "siem", scopes: ["audit:read", "audit:write", "org:read"] },
      })
    ).json();
    key = made.key;
    keyId = made.apiKey.id;
    root = await createAdmin(t, "root@example.org", PW);
    admin = await signedIn(t, "/v1/admin/auth/login", {
      email: "root@example.org",
      password: PW,
      code: root.code(),
    });
  });
  afterAll(() => t.close());

  /** The admin's session, signed in again (with the next TOTP step: each is accepted once) if it ended. */
  const adminSession = async () => {
    if ((await t.app.inject({ url: "/v1/admin/orgs", headers: admin })).statusCode !== 200)
      admin = await signedIn(t, "/v1/admin/auth/login", {
        email: "root@example.org",
        password: PW,
        code: root.code(30_000),
      });
    return admin;
  };

  /** Every entry of every log, oldest first. */
  const all = async () => {
    await audit.flush();
    const rows = await audit.query({}, 200);
    // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON entries.
    return rows.reverse().map((r) => JSON.parse(r.entry!) as Record<string, any>);
  };
  const recordsOf = async (requestId: string) =>
    (await all()).filter((e) => e.type === "request" && e.request.requestId === requestId);

  it("AUDIT-1: a state-changing request on each surface leaves exactly one request record with every field", async () => {
    const cases = [
      // A member's session, a key, an admin, and nobody.
      {
        method: "PATCH",
        url: `/v1/orgs/${org}`,
        headers: owner,
        payload: { name: "Ledger & Co" },
        actor: ["USER", ownerId, "owner@example.org"],
        log: "org",
        status: 200,
      },
      {
        method: "POST",
        url: `/v1/orgs/${org}/audit-events`,
        headers: { "x-api-key": key, "user-agent": "siem/2" },
        payload: { action: "invoice.paid" },
        actor: ["API_KEY", keyId, null],
        log: "org",
        status: 201,
      },
      {
        method: "POST",
        url: "/v1/admin/auth/logout",
        headers: admin,
        payload: {},
        actor: ["ADMIN", undefined, "root@example.org"],
        log: "platform",
        status: 204,
      },
      {
        method: "POST",
        url: "/v1/auth/password/forgot",
        headers: { "user-agent": "curl/8" },
        payload: { email: "nobody@example.org" },
        actor: ["ANONYMOUS", null, null],
        log: "platform",
        status: 202,
      },
    ] as const;
    for (const c of cases) {
      const res = await t.app.inject({
        method: c.method,
        url: c.url,
        headers: c.headers,
        payload: c.payload,
        remoteAddress: "203.0.113.9",
      });
      expect(res.statusCode, c.url).toBe(c.status);
      const records = await recordsOf(String(res.headers["x-request-id"]));
      expect(records, c.url).toHaveLength(1);
      const r = records[0]!;
      expect([r.actor.type, r.actor.id ?? undefined, r.actor.email].slice(0, 3)).toEqual([
        c.actor[0],
        c.actor[1] ?? (c.actor[0] === "ADMIN" ? r.actor.id : undefined),
        c.actor[2],
      ]);
      expect(r.log).toBe(c.log === "org" ? org : "platform");
      expect(r.org).toBe(c.log === "org" ? org : null);
      expect(r.action).toBe("http.request");
      expect(r.request).toMatchObject({
        method: c.method,
        route: c.url.replace(org, ":orgId"),
        status: c.status,
        ip: "203.0.113.9",
        userAgent: (c.headers as Record<string, string>)["user-agent"] ?? "lightMyRequest",
      });
      expect(typeof r.request.durationMs).toBe("number");
      expect(r.impersonator).toBeNull();
    }
    // Reads are not recorded.
    const read = await t.app.inject({ url: `/v1/orgs/${org}`, headers: owner });
    expect(await recordsOf(String(read.headers["x-request-id"]))).toHaveLength(0);
  });

  it("AUDIT-1, AUTHZ-6: a refused request is recorded too, and its denial with the actor, action and route", async () => {
    const s = await login(t, "owner@example.org", PW);
    const stranger = await createUser(t, "stranger@example.org", PW);
    const st = await login(t, "stranger@example.org", PW);
    const res = await t.app.inject({
      method: "PATCH",
      url: `/v1/orgs/${org}`,
      headers: { cookie: st.cookie, "x-csrf-token": st.csrf },
      payload: { name: "Mine now" },
    });
    expect(res.statusCode).toBe(404);
    const id = String(res.headers["x-request-id"]);
    const [record] = await recordsOf(id);
    expect(record).toMatchObject({
      log: "platform",
      actor: { type: "USER", id: stranger },
      request: { status: 404 },
    });
    const denial = (await all()).find((e) => e.action === "permission.denied" && e.metadata.requestId === id);
    expect(denial).toMatchObject({
      log: "platform",
      actor: { id: stranger },
      entity: { type: "route", id: "/v1/orgs/:orgId" },
      metadata: { orgId: org, action: "org:update", reason: "not_member" },
    });
    // A refused write by a key lacking the scope lands in the organisation's log.
    const limited = (
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${org}/api-keys`,
        headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
        payload: { name: "ro", scopes: ["org:read"] },
      })
    ).json().key;
    const refused = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/audit-events`,
      headers: { "x-api-key": limited },
      payload: { action: "x.y" },
    });
    expect(refused.statusCode).toBe(403);
    const scopeDenial = (await all()).find(
      (e) => e.action === "permission.denied" && e.metadata.requestId === refused.headers["x-request-id"],
    );
    expect(scopeDenial).toMatchObject({
      log: org,
      actor: { type: "API_KEY" },
      metadata: { action: "audit:write", reason: "scope" },
    });
  });

  it("AUTHZ-6, AUTHZ-4: a refusal by the impersonation rule is recorded with both identities", async () => {
    const adm = await adminSession();
    const started = await t.app.inject({
      method: "POST",
      url: "/v1/admin/impersonations",
      headers: adm,
      payload: { userId: ownerId, reason: "Customer ticket 4711: cannot see invoices" },
    });
    expect(started.statusCode).toBe(201);
    const as = {
      cookie: String(started.headers["set-cookie"]).split(";")[0]!,
      "x-csrf-token": started.json().csrfToken,
    };
    const refused = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/api-keys`,
      headers: as,
      payload: { name: "mine", scopes: ["org:read"] },
    });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe("IMPERSONATION_FORBIDDEN");
    const denial = (await all()).find(
      (e) => e.action === "permission.denied" && e.metadata.requestId === refused.headers["x-request-id"],
    );
    // Refused before the tenant check ran (no membership proved): the platform's log, naming the org.
    expect(denial).toMatchObject({
      log: "platform",
      actor: { type: "USER", id: ownerId },
      impersonator: expect.stringMatching(/^adm_/),
      metadata: { orgId: org, action: "apikeys:manage", reason: "impersonation_forbidden" },
    });
  });

  it("AUDIT-4: the API's inclusion and consistency proofs verify with an independent implementation and the published key", async () => {
    const keys = (await t.app.inject({ url: "/.well-known/audit-keys.json" })).json();
    const vkey = keys.keys.find((k: { current: boolean }) => k.current).vkey as string;
    // A checkpoint covering what is there, so the proof below needs none of its own (the API signs at
    // most one a second per log: one signed just before by a timer would leave the newest entry bare).
    await audit.flush();
    await audit.checkpoint(org);
    const first = (
      await t.app.inject({ url: `/v1/orgs/${org}/audit-events?limit=1`, headers: { "x-api-key": key } })
    ).json().items[0];
    const p1 = (
      await t.app.inject({
        url: `/v1/orgs/${org}/audit-events/${first.id}/proof`,
        headers: { "x-api-key": key },
      })
    ).json();
    await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/audit-events`,
      headers: { "x-api-key": key },
      payload: { action: "invoice.sent" },
    });
    await audit.checkpoint(org);
    const p2 = (
      await t.app.inject({
        url: `/v1/orgs/${org}/audit-events/${first.id}/proof`,
        headers: { "x-api-key": key },
      })
    ).json();
    expect(p2.treeSize).toBeGreaterThan(p1.treeSize);
    for (const p of [p1, p2]) {
      const text = openSignedNote(p.checkpoint.note, vkey);
      const [origin, size, root] = text.split("\n");
      expect(origin).toBe(`localhost:3000/audit/${org}`);
      expect(Number(size)).toBe(p.treeSize);
      // The leaf is the hash of the entry exactly as the API and exports give it.
      const stored = (await audit.byId(org, first.id))!.entry!;
      expect(b64(p.leafHash)).toEqual(hashLeaf(Buffer.from(stored)));
      expect(verifyInclusion(p.leafIndex, p.treeSize, b64(p.leafHash), p.proof.map(b64), b64(root!))).toBe(
        true,
      );
    }
    const c = (
      await t.app.inject({
        url: `/v1/orgs/${org}/audit-checkpoints/consistency?from=${p1.treeSize}&to=${p2.treeSize}`,
        headers: { "x-api-key": key },
      })
    ).json();
    const rootOf = (note: string) => b64(openSignedNote(note, vkey).split("\n")[2]!);
    expect(
      verifyConsistency(p1.treeSize, p2.treeSize, c.proof.map(b64), rootOf(c.from.note), rootOf(c.to.note)),
    ).toBe(true);
    // Another organisation's entry id is not found here.
    const bad = await t.app.inject({
      url: `/v1/orgs/${org}/audit-events/aud_01JF3Q5ZX9R7V2K8H4M6W1B3CD/proof`,
      headers: { "x-api-key": key },
    });
    expect(bad.statusCode).toBe(404);
  });

  it("AUDIT-4: an export bundle verifies offline with the CLI, and a one-byte change in it fails", async () => {
    const res = await t.app.inject({
      url: `/v1/orgs/${org}/audit-events/export?format=bundle`,
      headers: { "x-api-key": key },
    });
    expect(res.statusCode).toBe(200);
    const dir = mkdtempSync(join(tmpdir(), "bulwark-bundle-"));
    const file = join(dir, "bundle.ndjson");
    writeFileSync(file, res.body);
    const vkey = (await t.app.inject({ url: "/.well-known/audit-keys.json" })).json().keys[0].vkey;
    const run = async (f: string, extra: string[] = []) => {
      let out = "";
      const sink = {
        write: (s: string) => {
          out += s;
        },
      };
      const code = await runCli(["audit", "verify", "--bundle", f, ...extra], {
        stdout: sink,
        stderr: sink,
        env: {},
      });
      return { code, out };
    };
    const ok = await run(file, ["--key", vkey]);
    expect(ok.out).toMatch(new RegExp(`^ok {3}${org}: \\d+ entries, \\d+ signed checkpoints`));
    expect(ok.code).toBe(0);
    // One byte changed in an entry, in a checkpoint, in a leaf.
    const lines = res.body.split("\n");
    const entryLine = lines.findIndex((l) => l.includes('"entry":"{') && l.includes("invoice.paid"));
    const flip = (i: number, from: string, to: string) => {
      const copy = [...lines];
      copy[i] = copy[i]!.replace(from, to);
      expect(copy[i]).not.toBe(lines[i]);
      const f = join(dir, `tampered-${i}-${to}.ndjson`);
      writeFileSync(f, copy.join("\n"));
      return f;
    };
    const pinned = ["--key", vkey];
    const edited = await run(flip(entryLine, "invoice.paid", "invoice.paie"), pinned);
    expect(edited.out).toMatch(/FAIL .*: entry \d+ \(aud_\w+\) was modified/);
    expect(edited.code).toBe(1);
    const cp = lines.findIndex((l) => l.startsWith('{"checkpoint"'));
    const sizeLine = /\\n(\d+)\\n/.exec(lines[cp]!)!;
    const forgedNote = await run(flip(cp, sizeLine[0], `\\n${Number(sizeLine[1]) + 1}\\n`), pinned);
    expect(forgedNote.out).toMatch(/checkpoint of size \d+: note: bad signature/);
    expect(forgedNote.code).toBe(1);
    const leafLine = lines.findIndex((l, i) => i > cp && l.includes('"leaf":"'));
    const leaf = /"leaf":"([0-9a-f])/.exec(lines[leafLine]!)![1]!;
    const forgedLeaf = await run(
      flip(leafLine, `"leaf":"${leaf}`, `"leaf":"${leaf === "0" ? "1" : "0"}`),
      pinned,
    );
    expect(forgedLeaf.code).toBe(1);
    // Hidden content, a malformed line, an unsigned entry appended: each fails, none crashes.
    const hidden = await run(
      flip(entryLine, /"entry":"(?:[^"\\]|\\.)*"/.exec(lines[entryLine]!)![0], '"entry":null'),
      pinned,
    );
    expect(hidden.out).toMatch(/lost its content before its retention period ended/);
    expect(hidden.code).toBe(1);
    expect((await run(flip(cp, '{"checkpoint":{', '{"checkpoint":null,"x":{'), pinned)).code).toBe(1);
    const appended = join(dir, "appended.ndjson");
    writeFileSync(
      appended,
      `${res.body}${lines[lines.length - 2]!.replace(/"seq":\d+/, `"seq":${lines.length}`)}\n`,
    );
    expect((await run(appended, pinned)).code).toBe(1);
    // Without a pinned key there is nothing to trust: refused outright.
    expect((await run(file)).code).toBe(2);
    // A bundle signed by a key the auditor does not trust is refused when the key is pinned.
    const other = await run(file, [
      "--key",
      "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
    ]);
    expect(other.out).toMatch(/no signature by a known key/);
    expect(other.code).toBe(1);
    expect(readFileSync(file, "utf8")).toBe(res.body);
    expect((await all()).filter((e) => e.action === "audit.exported").at(-1)).toMatchObject({
      log: org,
      actor: { type: "API_KEY", id: keyId },
      metadata: { format: "bundle", filters: {} },
    });
  });

  it("AUDIT-5: the query filters by actor, action, entity and time, newest first, and pages with a cursor", async () => {
    const events: AuditEvent[] = Array.from({ length: 5 }, (_, i) => ({
      action: "product.updated",
      actor: { type: "USER", id: ownerId, email: "owner@example.org" },
      orgId: org,
      entity: { type: "product", id: `prd_${i % 2}` },
    }));
    await t.db.withOrg(org, (tx) => audit.record(tx, events));
    const get = async (q: string) =>
      (
        await t.app.inject({ url: `/v1/orgs/${org}/audit-events?${q}`, headers: { "x-api-key": key } })
      ).json();
    const byEntity = await get("entityType=product&entityId=prd_1&limit=1");
    expect(byEntity.items).toHaveLength(1);
    expect(byEntity.items[0]).toMatchObject({ action: "product.updated", entity: { id: "prd_1" } });
    const next = await get(`entityType=product&entityId=prd_1&limit=1&cursor=${byEntity.nextCursor}`);
    expect(next.items[0].seq).toBeLessThan(byEntity.items[0].seq);
    expect(
      (await get(`entityType=product&entityId=prd_1&limit=1&cursor=${next.nextCursor}`)).items,
    ).toHaveLength(0);
    expect((await get(`actor=${ownerId}&action=product.updated`)).items).toHaveLength(5);
    expect((await get("from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z")).items).toHaveLength(0);
    // An app's event is bounded: entries are kept for years.
    const huge = await t.app.inject({
      method: "POST",
      url: `/v1/orgs/${org}/audit-events`,
      headers: { "x-api-key": key },
      payload: { action: "blob.stored", metadata: { blob: "x".repeat(20_000) } },
    });
    expect(huge.statusCode).toBe(413);
    expect(huge.json().error.code).toBe("PAYLOAD_TOO_LARGE");
    const bad = await t.app.inject({
      url: `/v1/orgs/${org}/audit-events?cursor=bm9wZQ`,
      headers: { "x-api-key": key },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe("BAD_REQUEST");
    // The platform admin sees every log, or one.
    admin = await adminSession();
    const adm = (
      await t.app.inject({ url: `/v1/admin/audit-events?log=${org}&action=product.updated`, headers: admin })
    ).json();
    expect(adm.items).toHaveLength(5);
  });

  it("AUDIT-6, OBS-6: the retention job's runs are recorded with status, duration and rows, and listed for admins", async () => {
    const jobs = t.app.bulwark.service("jobs");
    const { purgeAudit } = await import("./retention.js");
    const run = await jobs.run("audit.retention", () => purgeAudit(t.db, audit.retentionCutoff()));
    expect(run).toMatchObject({ name: "audit.retention", status: "succeeded", rows: 0 });
    const failed = await jobs.run("audit.retention", async () => {
      throw new Error("storage unreachable");
    });
    expect(failed).toMatchObject({ status: "failed", error: "storage unreachable" });
    const listed = (
      await t.app.inject({ url: "/v1/admin/jobs?name=audit.retention", headers: await adminSession() })
    ).json();
    const items = listed.items as Array<{ status: string }>;
    expect(items.map((r) => r.status).sort()).toEqual(["failed", "succeeded"]);
    expect(items.find((r) => r.status === "succeeded")).toMatchObject({
      rows: 0,
      durationMs: expect.any(Number),
      finishedAt: expect.any(String),
    });
  });

  it("AUDIT-5: an export of 100,000 events streams with bounded memory and parses back to the same entries", async () => {
    const big = (
      await t.app.inject({ method: "POST", url: "/v1/orgs", headers: owner, payload: { name: "Big" } })
    ).json().org.id;
    const bigKey = (
      await t.app.inject({
        method: "POST",
        url: `/v1/orgs/${big}/api-keys`,
        headers: owner,
        payload: { name: "x", scopes: ["audit:read"] },
      })
    ).json().key;
    const N = 100_000;
    for (let i = 0; i < N; i += 1000)
      await t.db.withOrg(big, (tx) =>
        audit.record(
          tx,
          Array.from({ length: 1000 }, (_, j) => ({
            action: "order.created",
            actor: { type: "API_KEY" as const, id: "key_01JF3Q5ZX9R7V2K8H4M6W1B3CD", email: null },
            orgId: big,
            entity: { type: "order", id: `ord_${i + j}` },
            after: { totalCents: i + j, note: "x".repeat(200) },
          })),
        ),
      );
    await audit.flush();
    const size = await audit.size(big);
    const leaves: string[] = [];
    for await (const batch of audit.rows(big, size)) for (const r of batch) leaves.push(r.leaf);
    await t.app.listen({ port: 0, host: "127.0.0.1" });
    const address = t.app.server.address() as { port: number };
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const res = await fetch(
      `http://127.0.0.1:${address.port}/v1/orgs/${big}/audit-events/export?format=ndjson`,
      {
        headers: { "x-api-key": bigKey, "x-forwarded-proto": "https" },
      },
    );
    expect(res.status).toBe(200);
    let bytes = 0;
    let n = 0;
    let rest = "";
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      bytes += chunk.length;
      const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
      rest = lines.pop()!;
      for (const line of lines) {
        const e = JSON.parse(line);
        expect(e.seq).toBe(n);
        // The same bytes the log hashed: its leaf.
        if (hashLeaf(Buffer.from(line)).toString("hex") !== leaves[n])
          throw new Error(`line ${n} differs from its entry`);
        n++;
      }
      if (n % 10_000 < 100) {
        global.gc?.();
        peak = Math.max(peak, process.memoryUsage().heapUsed);
      }
    }
    expect(rest).toBe("");
    expect(n).toBe(size);
    expect(n).toBeGreaterThanOrEqual(N);
    // The export is far larger than what the process held at any time while streaming it.
    expect(bytes).toBeGreaterThan(30_000_000);
    // Live memory stays flat: a fraction of the export, whatever its size.
    expect(typeof global.gc).toBe("function");
    expect(peak - before).toBeLessThan(Math.min(20_000_000, bytes / 4));
  }, 180_000);
});
