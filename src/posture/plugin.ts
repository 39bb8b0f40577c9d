import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { Config } from "../config/load.js";
import { PAGE_CSP, renderSecurityPage } from "./page.js";
import type { PostureRegistry } from "./registry.js";

const SettingsSchema = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.String())]),
);
const SecurityJson = Type.Object({
  product: Type.String(),
  generatedAt: Type.String(),
  profile: Type.String(),
  controls: Type.Array(
    Type.Object({ id: Type.String(), title: Type.String(), claim: Type.String(), settings: SettingsSchema }),
  ),
});

/** RFC 9116 security.txt, built once from configuration; Expires counts from start-up. */
export function securityTxt(config: Config, now = new Date()): string {
  const expires = new Date(now.getTime() + config.securityTxt.expiresDays * 86_400_000);
  const lines = [
    ...config.securityTxt.contact.map((c) => `Contact: ${c}`),
    `Expires: ${expires.toISOString()}`,
    ...(config.securityTxt.policyUrl ? [`Policy: ${config.securityTxt.policyUrl}`] : []),
    ...(config.securityTxt.languages.length
      ? [`Preferred-Languages: ${config.securityTxt.languages.join(", ")}`]
      : []),
    `Canonical: ${config.publicUrl}/.well-known/security.txt`,
  ];
  return `${lines.join("\n")}\n`;
}

/** POST-1 and POST-2: the security overview (HTML and JSON) and security.txt. */
export async function posturePlugin(
  app: FastifyInstance,
  opts: { config: Config; posture: PostureRegistry },
): Promise<void> {
  const { config, posture } = opts;
  posture.register({
    id: "POST-1",
    title: "Security overview generated from configuration",
    claim:
      "This page and /security.json are rendered from the running configuration: a control appears only while it is switched on, with its configured values.",
    enabled: true,
  });
  posture.register({
    id: "POST-2",
    title: "security.txt",
    claim: "An RFC 9116 security.txt names our security contact, with an expiry renewed at every deployment.",
    settings: { contact: config.securityTxt.contact, expiresInDays: config.securityTxt.expiresDays },
    enabled: config.securityTxt.contact.length > 0,
  });

  // Rendered on first request, once every capability has registered (the registry is complete when the
  // server serves) and configuration is frozen, then cached: the page cannot change while the process runs.
  let rendered: { page: string; json: unknown } | undefined;
  const render = (): { page: string; json: unknown } => {
    if (!rendered) {
      const claims = posture.claims();
      const meta = { product: "Bulwark", generatedAt: new Date().toISOString(), profile: config.profile };
      rendered = {
        page: renderSecurityPage(claims, meta),
        json: {
          ...meta,
          controls: claims.map((c) => ({
            id: c.id,
            title: c.title,
            claim: c.claim,
            settings: c.settings ?? {},
          })),
        },
      };
    }
    return rendered;
  };
  const txt = securityTxt(config);

  app.get(
    "/security",
    { schema: { tags: ["posture"], summary: "Security overview (HTML)" } },
    async (_req, reply) =>
      reply.header("content-security-policy", PAGE_CSP).type("text/html; charset=utf-8").send(render().page),
  );
  app.get(
    "/security.json",
    { schema: { tags: ["posture"], summary: "Security overview (JSON)", response: { 200: SecurityJson } } },
    async () => render().json,
  );
  app.get(
    "/.well-known/security.txt",
    { schema: { tags: ["posture"], summary: "RFC 9116 security.txt" } },
    async (_req, reply) => reply.type("text/plain; charset=utf-8").send(txt),
  );
}
