import { hkdfSync } from "node:crypto";
import type { Capability } from "../capability.js";
import { LocalObjectStore } from "./local.js";
import { type ObjectStore, objectKey } from "./objects.js";
import { storageRoutes, uploadRoutes } from "./plugin.js";
import { UploadService } from "./service.js";
import { uploadMigrations } from "./store.js";
import "./tables.js";

declare module "../context.js" {
  interface Services {
    uploads: UploadService;
  }
}

/**
 * Pre-signed uploads (DATA-3): an S3-compatible bucket when UPLOAD_BUCKET is set, else the local-disk
 * store under the data directory with its two signed-link routes. Either way the API hands out links
 * and never carries a body.
 */
export const uploadsCapability: Capability = {
  name: "uploads",
  migrations: uploadMigrations,
  personalData: [{ table: "uploads", column: "created_by", tenant: true, erase: "pseudonymise" }],
  async register(app, ctx) {
    const config = ctx.config.uploads;
    let objects: ObjectStore;
    if (config.store.kind === "s3") {
      // The AWS SDK is loaded only when a bucket is configured: the embedded default never pays for it.
      const { S3ObjectStore } = await import("./s3.js");
      const s3 = new S3ObjectStore(ctx.config.s3, config.store.bucket);
      app.addHook("onClose", async () => s3.close());
      objects = s3;
    } else {
      const key = Buffer.from(hkdfSync("sha256", ctx.config.secret, "bulwark", "local upload links v1", 32));
      const local = new LocalObjectStore(config.dir, ctx.config.publicUrl, key);
      await app.register(storageRoutes, { store: local, maxBytes: config.maxBytes });
      objects = local;
    }
    // Where the bucket's links point, from a link signed here (no request is made): the console's CSP
    // admits exactly that origin. Without credentials the link cannot be signed, nor can any upload.
    let origin: string | undefined;
    if (objects.kind === "s3") {
      const now = Date.now();
      const probe = objectKey("org_probe", "upl_00000000000000000000000000");
      origin = await objects
        .putUrl(probe, "image/png", 1, now, now + 60_000)
        .then((url) => new URL(url).origin)
        .catch((err: Error) => {
          ctx.log.warn({ reason: err.message }, "uploads: cannot sign links for the bucket");
          return undefined;
        });
    }
    const quotas = ctx.service("quotas");
    const uploads = new UploadService(ctx.db, config, objects, origin, (orgId, bytes) =>
      quotas.meter(orgId, "upload_bytes", bytes),
    );
    ctx.provide("uploads", uploads);
    ctx.service("jobs").schedule("uploads.sweep", { everyMs: 86_400_000 }, () => uploads.sweep(Date.now()));
    await app.register(uploadRoutes, { uploads });
    ctx.health.add({ name: "uploads", required: false, probe: () => objects.ping() });
    const where =
      config.store.kind === "s3"
        ? "an S3-compatible bucket, which checks the link's signature"
        : "Bulwark's local-disk store, which checks the link as S3 would and streams the body to disk unparsed";
    ctx.posture.register({
      id: "DATA-3",
      title: "Uploads through pre-signed links",
      claim: `Files go from the browser to ${where}; the API's own routes never carry them. A link is issued per file, writes one key under its organisation's prefix, takes exactly the announced size (at most ${config.maxBytes} bytes) and media type (${config.contentTypes.join(", ")}), and expires after ${config.ttlMs / 1000} seconds; a body of another type or size is refused. Once the app attaches a file, it is moved to a key no link can write; files nobody attached are deleted, with their record, a day after their link expired. Types a browser runs or renders as a page (HTML, any XML or SVG, scripts, CSS) cannot be allowed.`,
      settings: {
        store: config.store.kind,
        maxBytes: config.maxBytes,
        contentTypes: [...config.contentTypes],
        linkSeconds: config.ttlMs / 1000,
      },
      enabled: true,
    });
  },
};
