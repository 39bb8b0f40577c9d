import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import { AppError } from "../http/errors.js";
import { type LocalObjectStore, STORAGE_PATH } from "./local.js";
import type { UploadService } from "./service.js";

const tags = ["uploads"];
const UploadId = Type.String({ pattern: "^upl_[0-9A-Z]{26}$" });
const Upload = Type.Object({
  id: UploadId,
  contentType: Type.String(),
  size: Type.Integer(),
  createdAt: Type.String({ format: "date-time" }),
  expiresAt: Type.String({ format: "date-time", description: "When the upload link stops working." }),
  status: Type.Union([Type.Literal("pending"), Type.Literal("uploaded"), Type.Literal("attached")]),
});

/** `POST /v1/orgs/{orgId}/uploads` and `GET …/uploads/{id}` (DATA-3). */
export async function uploadRoutes(app: FastifyInstance, opts: { uploads: UploadService }): Promise<void> {
  const { uploads } = opts;
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.post(
    "/v1/orgs/:orgId/uploads",
    {
      schema: {
        tags,
        summary: "A link to upload a file to",
        description:
          "Returns a short-lived pre-signed URL that accepts one PUT of exactly `size` bytes with the announced Content-Type, under the organisation's own storage prefix. Send the body there, not here: the API never carries it. Then attach the upload by id (a product's image).",
        params: Type.Object({ orgId: Type.String({ maxLength: 40 }) }),
        body: Type.Object(
          {
            contentType: Type.String({ minLength: 3, maxLength: 129, examples: ["image/png"] }),
            size: Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, examples: [48213] }),
          },
          { additionalProperties: false },
        ),
        response: {
          201: Type.Object({
            upload: Upload,
            url: Type.String({ description: "PUT the body here before expiresAt." }),
            method: Type.Literal("PUT"),
            headers: Type.Object(
              { "content-type": Type.String() },
              { description: "Headers the PUT must carry exactly (and a Content-Length of `size`)." },
            ),
          }),
        },
      },
      config: { errors: ["UPLOAD_NOT_ALLOWED", "QUOTA_EXCEEDED"] },
    },
    async (req, reply) => {
      const t = req.tenant!;
      const made = await uploads.create(t.orgId, req.principal!.id, req.body, Date.now());
      reply.code(201);
      return {
        ...made,
        method: "PUT" as const,
        headers: { "content-type": made.upload.contentType },
      };
    },
  );

  r.get(
    "/v1/orgs/:orgId/uploads/:id",
    {
      schema: {
        tags,
        summary: "An upload",
        description: "Whether its body has arrived in the store (`uploaded`) and whether something uses it.",
        params: Type.Object({ orgId: Type.String({ maxLength: 40 }), id: UploadId }),
        response: { 200: Type.Object({ upload: Upload }) },
      },
      config: { errors: ["NOT_FOUND"] },
    },
    async (req) => ({ upload: await uploads.get(req.tenant!.orgId, req.params.id) }),
  );
}

/**
 * The local-disk store's links (DATA-3, no S3 configured): `PUT` and `GET /v1/storage/orgs/{orgId}/{id}`,
 * answered only for a link Bulwark signed, checked like S3 checks its own: signature, expiry, and for a
 * PUT the exact Content-Type and Content-Length. The body streams to disk, never parsed or buffered;
 * these two routes are the only ones that take a body other than JSON.
 */
export async function storageRoutes(
  app: FastifyInstance,
  opts: { store: LocalObjectStore; maxBytes: number },
): Promise<void> {
  const { store, maxBytes } = opts;
  // Any media type (JSON too) reaches the handler unparsed; the link says which one it takes.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_req, payload, done) => done(null, payload));
  const params = Type.Object({
    orgId: Type.String({ maxLength: 40 }),
    id: Type.String({ maxLength: 40 }),
  });
  const querystring = Type.Object({
    type: Type.Optional(Type.String({ maxLength: 129 })),
    length: Type.Optional(Type.String({ maxLength: 16 })),
    expires: Type.Optional(Type.String({ maxLength: 16 })),
    signature: Type.Optional(Type.String({ maxLength: 64 })),
  });
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const key = (p: { orgId: string; id: string }) => `orgs/${p.orgId}/${p.id}`;

  r.put(
    `${STORAGE_PATH}/orgs/:orgId/:id`,
    {
      schema: {
        tags,
        summary: "Upload a file through a signed link (local store)",
        description:
          "Only with a link from `POST /v1/orgs/{orgId}/uploads`, before it expires, with exactly its Content-Type and Content-Length.",
        params,
        querystring,
        response: { 204: { type: "null", description: "Stored." } },
      },
      config: {
        streamedBody: true,
        errors: ["UPLOAD_LINK_INVALID", "UNSUPPORTED_MEDIA_TYPE", "LENGTH_REQUIRED", "PAYLOAD_TOO_LARGE"],
      },
    },
    async (req, reply) => {
      // A refusal leaves the body unread: close the connection rather than read a file to discard it.
      reply.header("connection", "close");
      const grant = store.verify("PUT", key(req.params), req.query, Date.now());
      const type = (req.headers["content-type"] ?? "").toLowerCase();
      if (type !== grant.contentType)
        throw new AppError("UNSUPPORTED_MEDIA_TYPE", `This link takes ${grant.contentType} only.`);
      const declared = req.headers["content-length"];
      if (declared === undefined) throw new AppError("LENGTH_REQUIRED");
      const length = grant.length!;
      if (Number(declared) > length || length > maxBytes)
        throw new AppError("PAYLOAD_TOO_LARGE", `This link takes ${length} bytes.`);
      if (Number(declared) !== length)
        throw new AppError("BAD_REQUEST", `This link takes exactly ${length} bytes.`);
      await store.write(key(req.params), req.raw, grant.contentType, length);
      reply.removeHeader("connection").code(204);
    },
  );

  r.get(
    `${STORAGE_PATH}/orgs/:orgId/:id`,
    {
      schema: {
        tags,
        summary: "Read a file through a signed link (local store)",
        description: "Only with a link Bulwark gave out (a product's image URL), before it expires.",
        params,
        querystring,
      },
      config: { errors: ["UPLOAD_LINK_INVALID", "NOT_FOUND"] },
    },
    async (req, reply) => {
      const grant = store.verify("GET", key(req.params), req.query, Date.now());
      const found = await store.read(key(req.params));
      if (!found) throw new AppError("NOT_FOUND");
      // Whatever the bytes are, they are shown as the signed type and can run nothing; only pictures,
      // sound, video and PDF are shown in place, anything else is a download. Pages of other origins may
      // embed them: the signed link is the permission.
      const inline = /^(image|audio|video)\/|^application\/pdf$/.test(grant.contentType);
      return reply
        .header("content-type", grant.contentType)
        .header("content-length", String(found.size))
        .header("content-disposition", inline ? "inline" : "attachment")
        .header("cross-origin-resource-policy", "cross-origin")
        .header("content-security-policy", "default-src 'none'; sandbox")
        .header("cache-control", "private, no-store")
        .send(found.body);
    },
  );
}
