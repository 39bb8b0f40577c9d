import { Type } from "@sinclair/typebox";
import type { FastifyBaseLogger } from "fastify";
import type { NoteSigner } from "../audit/note.js";
import type { Config } from "../config/load.js";
import { ASVS_VERSION, asvsCoverage, asvsOf } from "./asvs.js";
import type { Evidence } from "./evidence.js";
import type { PostureChange } from "./history.js";
import { renderSecurityPage } from "./page.js";
import type { Control, PostureRegistry } from "./registry.js";
import type { Sbom } from "./sbom.js";
import { type PostureSignature, type PostureState, postureState, signPosture } from "./signed.js";

const SettingsSchema = Type.Record(
  Type.String(),
  Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Array(Type.String())]),
);
export const SecurityJsonSchema = Type.Object({
  product: Type.String(),
  generatedAt: Type.String(),
  profile: Type.String(),
  controls: Type.Array(
    Type.Object({
      id: Type.String(),
      title: Type.String(),
      claim: Type.String(),
      settings: SettingsSchema,
      evidence: Type.Optional(
        Type.Object({
          tests: Type.Integer({ description: "Tests whose titles name this requirement." }),
          passed: Type.Optional(Type.Integer()),
          failed: Type.Optional(Type.Integer()),
          commit: Type.Optional(Type.String({ description: "The commit CI ran them at." })),
        }),
      ),
      asvs: Type.Array(Type.String(), { description: "The OWASP ASVS 5.0 requirements this claim meets." }),
      check: Type.Optional(
        Type.Object(
          {
            holds: Type.Boolean(),
            checkedAt: Type.String(),
            detail: Type.Optional(Type.String({ description: "What was seen when the claim did not hold." })),
          },
          { description: "The last live self-check of this claim against the running server (POST-3)." },
        ),
      ),
    }),
  ),
  asvs: Type.Object(
    {
      version: Type.String(),
      level: Type.Integer(),
      applicable: Type.Integer({
        description: "Requirements of this level and below that apply to Bulwark.",
      }),
      covered: Type.Array(Type.String(), {
        description: "Applicable requirements a claim that is on meets.",
      }),
      notCovered: Type.Array(Type.String(), {
        description: "Applicable requirements no claim that is on meets.",
      }),
    },
    { description: "POST-4: OWASP ASVS coverage at level 2 by the claims that are on." },
  ),
  signature: Type.Object(
    {
      algorithm: Type.Literal("EdDSA"),
      keyId: Type.String(),
      jwk: Type.Object({
        kty: Type.Literal("OKP"),
        crv: Type.Literal("Ed25519"),
        x: Type.String(),
        kid: Type.String(),
      }),
      hash: Type.String({ description: "SHA-256 (hex) of the signed bytes." }),
      jws: Type.String({ description: "Compact JWS (EdDSA) with a detached payload: the signed bytes." }),
      signed: Type.String({ description: "What the signed bytes are." }),
    },
    {
      description:
        "POST-4: the posture signed with the audit log's Ed25519 key; see README 'Verifying the security page'.",
    },
  ),
  history: Type.Array(
    Type.Object({
      at: Type.String(),
      hash: Type.String(),
      previous: Type.Union([Type.String(), Type.Null()]),
      changed: Type.Array(Type.String(), {
        description: 'The claims ("<ID> <title>") or profile that changed.',
      }),
    }),
    {
      description:
        "POST-4: the latest changes of posture, newest first, as recorded in the platform's audit log.",
    },
  ),
});

/** How long a rendering's history is reused: other nodes' starts show up within this. */
const HISTORY_MS = 60_000;

/**
 * The security page and /security.json (POST-1…POST-4), rendered from the registry once every capability
 * has registered, then cached until a self-check's outcome changes or the history is a minute old. The
 * posture and its signature are computed once: the claims cannot change while the process runs.
 */
export class PostureDocument {
  private rendered: { page: string; json: unknown; revision: number; at: number } | undefined;
  private signed: { state: PostureState; signature: PostureSignature } | undefined;

  constructor(
    private readonly posture: PostureRegistry,
    private readonly config: Config,
    private readonly parts: {
      signer: NoteSigner;
      sbom?: Sbom;
      evidence?: Evidence;
      history: () => Promise<PostureChange[]>;
      log: FastifyBaseLogger;
    },
  ) {}

  state(): PostureState {
    return this.sign().state;
  }

  signature(): PostureSignature {
    return this.sign().signature;
  }

  private sign(): { state: PostureState; signature: PostureSignature } {
    if (!this.signed) {
      const state = postureState(this.posture.claims(), { product: "Bulwark", profile: this.config.profile });
      this.signed = { state, signature: signPosture(this.parts.signer, state) };
    }
    return this.signed;
  }

  async render(now = Date.now()): Promise<{ page: string; json: unknown }> {
    const r = this.rendered;
    if (r && r.revision === this.posture.revision && now - r.at < HISTORY_MS) return r;
    const { evidence, sbom } = this.parts;
    const revision = this.posture.revision;
    // The page never fails for want of its history: the chain is read again at the next rendering.
    const history = await this.parts.history().catch((err: Error) => {
      this.parts.log.error({ reason: err.message }, "posture history not read");
      return [];
    });
    const claims = this.posture.claims();
    const meta = {
      product: "Bulwark",
      generatedAt: new Date(now).toISOString(),
      profile: this.config.profile,
    };
    const check = (c: Control) => this.posture.outcome(c);
    const signature = this.signature();
    const coverage = asvsCoverage(claims.map((c) => c.id));
    this.rendered = {
      revision,
      at: now,
      page: renderSecurityPage(
        claims,
        {
          ...meta,
          sbom: sbom !== undefined,
          hash: signature.hash,
          keyId: signature.keyId,
          subprocessors: this.config.subprocessors,
        },
        {
          ...(evidence ? { proof: (id: string) => evidence.of(id) } : {}),
          check,
          history,
          asvs: { of: asvsOf, coverage },
        },
      ),
      json: {
        ...meta,
        controls: claims.map((c) => {
          const outcome = check(c);
          return {
            id: c.id,
            title: c.title,
            claim: c.claim,
            settings: c.settings ?? {},
            ...(evidence ? { evidence: evidence.of(c.id) } : {}),
            ...(outcome ? { check: outcome } : {}),
            asvs: [...asvsOf(c.id)],
          };
        }),
        asvs: {
          version: ASVS_VERSION,
          level: coverage.level,
          applicable: coverage.applicable,
          covered: coverage.covered,
          notCovered: coverage.notCovered.map((r) => r.id),
        },
        signature,
        history,
      },
    };
    return this.rendered;
  }
}
