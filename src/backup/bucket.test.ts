import { readdirSync } from "node:fs";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BackupWorld, backupWorld } from "../../test/backup-world.js";
import { createUser, ENGINE, login } from "../../test/harness.js";
import { type LocalS3, startS3 } from "../../test/s3.js";
import { s3Client } from "../util/s3.js";
import { BackupService } from "./service.js";

const PW = "correct horse battery staple";
const USERS = ["kept@example.org", "also-kept@example.org"];
const PREFIX = "nightly/";

/**
 * DATA-2 with an S3-compatible destination (s3rver in-process): `bulwark backup` seals the snapshot
 * locally, uploads it and removes the local copy; `bulwark restore latest` fetches it back; retention,
 * `/health` and the age metric read the bucket.
 */
describe(`DATA-2 encrypted backups kept in an S3 bucket (${ENGINE})`, { timeout: 120_000 }, () => {
  let s3: LocalS3;
  let w: BackupWorld;
  let client: S3Client;
  let orgId = "";

  beforeAll(async () => {
    s3 = await startS3("backups");
    w = await backupWorld({
      BACKUP_BUCKET: s3.bucket,
      BACKUP_PREFIX: PREFIX,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: "true",
      S3_ACCESS_KEY_ID: s3.accessKeyId,
      S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
    });
    client = s3Client(w.config.s3);
  });
  afterAll(async () => {
    client?.destroy();
    await w?.close();
    await s3?.close();
  });

  const keys = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? []).map((o) => o.Key!);

  it("DATA-2: bulwark backup uploads the encrypted file to the bucket and keeps no copy; /health reads the bucket", async () => {
    await w.served(async (t) => {
      for (const email of USERS) await createUser(t, email, PW);
      const s = await login(t, USERS[0]!, PW);
      const made = await t.app.inject({
        method: "POST",
        url: "/v1/orgs",
        headers: { cookie: s.cookie, "x-csrf-token": s.csrf },
        payload: { name: "In The Bucket" },
      });
      orgId = made.json().org.id;
      expect((await t.app.inject({ url: "/health" })).json().checks.backup.error).toBe("no backup yet");
    });
    expect(await w.cli("backup"), w.out()).toBe(0);
    expect(w.out()).toMatch(
      new RegExp(
        `^Backed up to s3://backups/${PREFIX}bulwark-\\d{8}T\\d{9}Z\\.(sqlite|pg)\\.age \\(\\d+ bytes`,
      ),
    );
    const [key, ...more] = await keys();
    expect(more).toEqual([]);
    expect(key).toMatch(new RegExp(`^${PREFIX}bulwark-`));
    const body = Buffer.from(
      await (
        await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }))
      ).Body!.transformToByteArray(),
    );
    expect(body.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    for (const email of USERS) expect(body.includes(Buffer.from(email))).toBe(false);
    // Nothing is left in BACKUP_DIR: not the sealed file, not the plaintext.
    expect(readdirSync(w.config.backup.dir)).toEqual([]);
    await w.served(async (t) => {
      expect((await t.app.inject({ url: "/health" })).json().checks.backup.status).toBe("up");
      const metrics = (await t.app.inject({ url: "/metrics" })).body;
      expect(metrics).toMatch(/bulwark_backup_last_success_timestamp_seconds [1-9]\d+/);
    });
  });

  it("DATA-2: backup, wipe, restore latest from the bucket: every user signs in and the audit log verifies", async () => {
    await w.wipe();
    expect(await w.cli("restore", "latest"), w.out()).toBe(0);
    expect(w.out()).toMatch(new RegExp(`^Restored bulwark-\\S+ from s3://backups/${PREFIX} into `));
    await w.served(async (t) => {
      for (const email of USERS) expect((await login(t, email, PW)).cookie).toMatch(/bulwark_session=/);
    });
    expect(await w.cli("audit", "verify"), w.out()).toBe(0);
    expect(w.out()).toContain(`ok   ${orgId}`);
    // A name the bucket does not hold is refused by name, and nothing is touched.
    expect(await w.cli("restore", "bulwark-20200101T000000000Z.sqlite.age")).toBe(1);
    expect(w.out()).toContain(`nor by that name in s3://backups/${PREFIX}`);
  });

  it("DATA-2: a backup altered in the bucket is refused", async () => {
    const [key] = await keys();
    const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    bytes[Math.floor(bytes.length / 2)]! ^= 1;
    const name = "bulwark-20991231T235959999Z.sqlite.age";
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: PREFIX + name, Body: bytes }));
    await w.wipe();
    expect(await w.cli("restore", name)).toBe(1);
    expect(w.out()).toContain("does not open with BACKUP_IDENTITY, or was altered");
    await client.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: PREFIX + name }));
  });

  it("DATA-2: retention deletes the bucket's backups older than BACKUP_RETENTION_DAYS at the boundary, keeping the newest", async () => {
    const now = Date.UTC(2100, 0, 1, 12);
    const stamp = (at: number) => new Date(at).toISOString().replace(/[-:]/g, "").replace(".", "");
    const name = (at: number) => `bulwark-${stamp(at)}.sqlite.age`;
    const kept = now - w.config.backup.retentionDays * 86_400_000;
    for (const at of [kept - 1, kept, now])
      await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: PREFIX + name(at), Body: "x" }));
    // Dated in the future (a fast clock, a name written by hand): never the newest, never pruned.
    const future = name(now + 365 * 86_400_000);
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: PREFIX + future, Body: "x" }));
    // Another prefix's objects are not backups of this installation: never listed, never deleted.
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `other/${name(kept - 1)}`, Body: "x" }));
    // The service's clock frozen at `now` (S3 signs with the real one: s3rver refuses a skewed request).
    const service = new BackupService(undefined as never, w.config, () => now);
    const before = await keys();
    const pruned = await service.prune();
    const after = await keys();
    // The one a millisecond past the boundary and every older one (the first test's) are gone.
    expect(after.sort()).toEqual(
      [PREFIX + name(kept), PREFIX + name(now), PREFIX + future, `other/${name(kept - 1)}`].sort(),
    );
    expect(pruned).toBe(before.length - after.length);
    expect(await service.newest()).toBe(now);
  });

  it("DATA-2: an unreachable bucket neither stops the server from starting nor leaves backups on disk", async () => {
    // Nothing listens on port 9: every request to the bucket fails at once.
    const down = await backupWorld({
      BACKUP_BUCKET: "backups",
      S3_ENDPOINT: "http://127.0.0.1:9",
      S3_FORCE_PATH_STYLE: "true",
      S3_ACCESS_KEY_ID: "S3RVER",
      S3_SECRET_ACCESS_KEY: "S3RVER",
    });
    try {
      await down.served(async (t) => {
        const health = (await t.app.inject({ url: "/health" })).json();
        expect(health.status).toBe("degraded");
        expect(health.checks.backup.error).toMatch(/^the backup destination did not answer/);
        expect((await t.app.inject({ url: "/health/live" })).statusCode).toBe(200);
      });
      expect(await down.cli("backup")).toBe(1);
      expect(readdirSync(down.config.backup.dir)).toEqual([]);
    } finally {
      await down.close();
    }
  });
});
