import { hkdfSync } from "node:crypto";
import type { Capability } from "../capability.js";
import { LocalObjectStore } from "./local.js";
import type { ObjectStore } from "./objects.js";
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
    const uploads = new UploadService(ctx.db, config, objects);
    ctx.provide("uploads", uploads);
    await app.register(uploadRoutes, { uploads });
    ctx.health.add({ name: "uploads", required: false, probe: () => objects.ping() });
    const where =
      config.store.kind === "s3"
        ? `an S3-compatible bucket (${config.store.bucket})`
        : "a local-disk store whose links Bulwark checks itself";
    ctx.posture.register({
      id: "DATA-3",
      title: "Uploads through pre-signed links",
      claim: `Files go from the browser straight to ${where} through a pre-signed PUT link; the API never carries the body. Each link writes one key under its organisation's prefix, takes exactly the announced size (at most ${config.maxBytes} bytes) and media type (${config.contentTypes.join(", ")}), and expires after ${config.ttlMs / 1000} seconds; a body of another type or size is refused. Types a browser would run (HTML, SVG, scripts) cannot be allowed.`,
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
