import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { Ajv, type ValidateFunction } from "ajv";
import formats from "ajv-formats";
import { describe, expect, it } from "vitest";
import { PRODUCTION_ENV, testApp } from "../../test/harness.js";
import { SELF_CHECK_ADDRESS, SELF_CHECK_HEADER, SELF_CHECK_TOKEN } from "../http/self-check.js";
import {
  assessmentResults,
  type CheckOutcome,
  componentDefinition,
  type OscalMeta,
  uuidV5,
} from "./oscal.js";
import type { Control } from "./registry.js";

const vectors = new URL("../../test/vectors/oscal/", import.meta.url);
const schemaText = (file: string): string => readFileSync(new URL(file, vectors), "utf8");

/** The official schemas, compiled as NIST publishes them (draft-07; patterns use Unicode escapes). */
function validator(file: string): ValidateFunction {
  const ajv = new Ajv({ strict: false, allErrors: true });
  formats.default(ajv); // CommonJS: under NodeNext the default import is the module
  return ajv.compile(JSON.parse(schemaText(file)) as object);
}
const validComponentDefinition = validator("oscal_component_schema.json");
const validAssessmentResults = validator("oscal_assessment-results_schema.json");

const expectValid = (validate: ValidateFunction, doc: unknown): void => {
  const ok = validate(doc);
  expect(ok, JSON.stringify(validate.errors, null, 2)).toBe(true);
};

const claims: Control[] = [
  {
    id: "HDR-2",
    title: "Strict-Transport-Security",
    claim: "Every HTTPS response tells browsers to use HTTPS only, for 31536000 seconds.",
    settings: { maxAge: 31536000, includeSubDomains: true, preload: false },
    enabled: true,
  },
  {
    id: "HDR-5",
    title: "Content-Security-Policy",
    claim: "Every HTML page carries a strict Content-Security-Policy.",
    settings: { policy: "default-src 'self'" },
    enabled: true,
  },
  {
    id: "POST-2",
    title: "security.txt",
    claim: "An RFC 9116 security.txt names our security contact.",
    settings: { contact: ["mailto:security@example.org", "https://example.org/report"], expiresInDays: 365 },
    enabled: true,
  },
  {
    id: "SUPPLY-1",
    title: "Software bill of materials",
    claim: "The packages this server runs with are listed in a CycloneDX SBOM.",
    // Values OSCAL's StringDatatype would refuse as they are: a trailing space, an empty list.
    settings: { format: "CycloneDX ", mirrors: [] },
    enabled: true,
  },
];

const outcomes: Record<string, CheckOutcome> = {
  "HDR-2": { holds: true, checkedAt: "2026-05-01T10:00:01.000Z" },
  "HDR-5": {
    holds: false,
    checkedAt: "2026-05-01T10:00:02.000Z",
    detail: "no content-security-policy header",
  },
};
const checks = (id: string): CheckOutcome | undefined => outcomes[id];

const meta: OscalMeta = {
  generatedAt: "2026-05-01T10:00:00.000Z",
  profile: "production",
  version: "0.1.0",
  publicUrl: "https://bulwark.example",
  asvsOf: (id) => (id === "HDR-2" ? ["V3.4.1", "V3.4.2"] : []),
};

interface ImplementedRequirement {
  uuid: string;
  "control-id": string;
  description: string;
  props?: { name: string; ns: string; value: string }[];
  "set-parameters"?: { "param-id": string; values: string[] }[];
}
interface Finding {
  target: { "target-id": string; status: { state: string; reason: string } };
  "related-observations": { "observation-uuid": string }[];
}
interface Result {
  start: string;
  end?: string;
  observations?: { uuid: string; description: string; collected: string }[];
  findings?: Finding[];
  "reviewed-controls": {
    "control-selections": {
      "include-controls": { "control-id": string }[];
      "exclude-controls"?: unknown[];
    }[];
  };
}
const requirementsOf = (doc: object): ImplementedRequirement[] =>
  (doc as { "component-definition": { components: { "control-implementations": object[] }[] } })[
    "component-definition"
  ].components[0]!["control-implementations"].flatMap(
    (ci) => (ci as { "implemented-requirements": ImplementedRequirement[] })["implemented-requirements"],
  );
const resultOf = (doc: object): Result =>
  (doc as { "assessment-results": { results: Result[] } })["assessment-results"].results[0]!;

/** A copy of `doc` with the value at `path` replaced, or removed when `value` is undefined. */
function defect(doc: object, path: readonly (string | number)[], value: unknown): object {
  const copy = structuredClone(doc);
  let node = copy as Record<string | number, unknown>;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (value === undefined) delete node[last];
  else node[last] = value;
  return copy;
}

describe("POST-4 OSCAL component definition and assessment results", () => {
  it("POST-4: the vendored OSCAL schemas are the official 1.2.2 release files (pinned sha256)", () => {
    const sha256 = (file: string) =>
      createHash("sha256")
        .update(readFileSync(new URL(file, vectors)))
        .digest("hex");
    expect(sha256("oscal_component_schema.json")).toBe(
      "3b6e0765c44037c4d1bfb2cdb972713917d3eca73e566c0e6c6881a565638830",
    );
    expect(sha256("oscal_assessment-results_schema.json")).toBe(
      "d4e1e7e17c6662814882810ad64075266964ee1a575759ce3955302fd74edcd9",
    );
    expect(JSON.parse(schemaText("oscal_component_schema.json")).$id).toBe(
      "http://csrc.nist.gov/ns/oscal/1.2.2/oscal-component-definition-schema.json",
    );
  });

  it("POST-4: the component definition validates against the official OSCAL 1.2 schema", () => {
    const doc = componentDefinition(claims, meta);
    expectValid(validComponentDefinition, doc);
    // With no claims there is no control implementation (OSCAL allows none, but not an empty one).
    expectValid(validComponentDefinition, componentDefinition([], meta));
  });

  it("POST-4: the component definition lists every claim, its settings as parameters and its ASVS requirements", () => {
    const reqs = requirementsOf(componentDefinition(claims, meta));
    expect(reqs.map((r) => r["control-id"])).toEqual(["hdr-2", "hdr-5", "post-2", "supply-1"]);
    expect(reqs[0]!.description).toBe(claims[0]!.claim);
    expect(reqs[0]!["set-parameters"]).toEqual([
      { "param-id": "hdr-2_prm_max-age", values: ["31536000"] },
      { "param-id": "hdr-2_prm_include-sub-domains", values: ["true"] },
      { "param-id": "hdr-2_prm_preload", values: ["false"] },
    ]);
    expect(reqs[0]!.props).toEqual([
      { name: "asvs-requirement", ns: "https://bulwark.dev/ns/oscal", value: "V3.4.1" },
      { name: "asvs-requirement", ns: "https://bulwark.dev/ns/oscal", value: "V3.4.2" },
    ]);
    expect(reqs[1]!.props).toBeUndefined();
    expect(reqs[2]!["set-parameters"]).toEqual([
      {
        "param-id": "post-2_prm_contact",
        values: ["mailto:security@example.org", "https://example.org/report"],
      },
      { "param-id": "post-2_prm_expires-in-days", values: ["365"] },
    ]);
    // A trailing space is trimmed; an empty list sets nothing.
    expect(reqs[3]!["set-parameters"]).toEqual([
      { "param-id": "supply-1_prm_format", values: ["CycloneDX"] },
    ]);
  });

  it("POST-4: the assessment results validate against the official OSCAL 1.2 schema", () => {
    expectValid(validAssessmentResults, assessmentResults(claims, checks, meta));
    // Nothing probed yet (as at start-up): still a valid document, with no findings.
    const none = assessmentResults(claims, () => undefined, meta);
    expectValid(validAssessmentResults, none);
    expect(resultOf(none).findings).toBeUndefined();
  });

  it("POST-4: findings carry each probed claim's self-check outcome; unprobed claims are excluded as not assessed", () => {
    const result = resultOf(assessmentResults(claims, checks, meta));
    const byTarget = Object.fromEntries((result.findings ?? []).map((f) => [f.target["target-id"], f]));
    expect(Object.keys(byTarget)).toEqual(["hdr-2", "hdr-5"]);
    expect(byTarget["hdr-2"]!.target.status).toEqual({ state: "satisfied", reason: "pass" });
    expect(byTarget["hdr-5"]!.target.status).toEqual({ state: "not-satisfied", reason: "fail" });
    // Each finding points at the observation that records what its check saw, and when.
    const observations = new Map(result.observations?.map((o) => [o.uuid, o]));
    const seen = observations.get(byTarget["hdr-5"]!["related-observations"][0]!["observation-uuid"]);
    expect(seen?.description).toContain("no content-security-policy header");
    expect(seen?.collected).toBe("2026-05-01T10:00:02.000Z");
    expect(result.start).toBe("2026-05-01T10:00:01.000Z");
    expect(result.end).toBe("2026-05-01T10:00:02.000Z");
    const [selection] = result["reviewed-controls"]["control-selections"];
    expect(selection!["include-controls"]).toHaveLength(claims.length);
    expect(selection!["exclude-controls"]).toEqual([
      { "control-id": "post-2" },
      { "control-id": "supply-1" },
    ]);
  });

  it("POST-4: the same posture gives the same documents but for timestamps, with RFC 4122 version 5 UUIDs", () => {
    // RFC 4122's own example namespace (DNS) and a well-known name.
    expect(uuidV5("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "www.example.com")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
    const later = { ...meta, generatedAt: "2026-06-01T10:00:00.000Z" };
    const laterChecks = (id: string) => {
      const o = outcomes[id];
      return o && { ...o, checkedAt: "2026-06-01T10:00:05.000Z" };
    };
    const stamps = /"(last-modified|start|end|collected)":"[^"]*"/g;
    const text = (doc: object) => JSON.stringify(doc).replace(stamps, "");
    expect(text(componentDefinition(claims, later))).toBe(text(componentDefinition(claims, meta)));
    expect(text(assessmentResults(claims, laterChecks, later))).toBe(
      text(assessmentResults(claims, checks, meta)),
    );
    // A changed outcome is a changed document: a new document UUID; the finding keeps its own.
    const flipped = assessmentResults(
      claims,
      (id) => (id === "HDR-5" ? { ...outcomes["HDR-5"]!, holds: true } : checks(id)),
      meta,
    );
    const uuidOf = (doc: object) =>
      (doc as { "assessment-results": { uuid: string } })["assessment-results"].uuid;
    expect(uuidOf(flipped)).not.toBe(uuidOf(assessmentResults(claims, checks, meta)));
  });

  it("POST-4: the schema check is not vacuous: a defective document fails it", () => {
    const cd = componentDefinition(claims, meta);
    const req = [
      "component-definition",
      "components",
      0,
      "control-implementations",
      0,
      "implemented-requirements",
      0,
    ];
    for (const broken of [
      defect(cd, [...req, "uuid"], undefined),
      defect(cd, [...req, "uuid"], "not-a-uuid"),
      defect(cd, [...req, "control-id"], "HDR 2"),
      defect(cd, [...req, "set-parameters", 0, "values"], [" 1"]),
    ])
      expect(validComponentDefinition(broken)).toBe(false);

    const ar = assessmentResults(claims, checks, meta);
    const result = ["assessment-results", "results", 0];
    for (const broken of [
      defect(ar, [...result, "findings", 0, "target", "status", "state"], "not-assessed"),
      defect(ar, ["assessment-results", "import-ap"], undefined),
      defect(ar, [...result, "observations", 0, "collected"], "2026-05-01 10:00"),
    ])
      expect(validAssessmentResults(broken)).toBe(false);
  });
});

describe("POST-4 OSCAL documents of a running server", () => {
  it("POST-4: the server's own OSCAL documents, in production with a claim failing its check, validate and say so", async () => {
    const t = await testApp({ ...PRODUCTION_ENV }, (app) => {
      app.addHook("onSend", async (_request, reply, payload) => {
        reply.removeHeader("x-frame-options");
        return payload;
      });
    });
    try {
      await t.app.bulwark.posture.settled();
      const get = async (url: string) =>
        (
          await t.app.inject({
            url,
            remoteAddress: SELF_CHECK_ADDRESS,
            headers: { [SELF_CHECK_HEADER]: SELF_CHECK_TOKEN },
          })
        ).json();
      const cd = await get("/security/oscal/component-definition.json");
      const ar = await get("/security/oscal/assessment-results.json");
      expectValid(validComponentDefinition, cd);
      expectValid(validAssessmentResults, ar);
      const requirements = cd["component-definition"].components[0]["control-implementations"][0][
        "implemented-requirements"
      ] as { "control-id": string; props?: { value: string }[] }[];
      const ids = (await get("/security.json")).controls.map((c: { id: string }) => c.id.toLowerCase());
      expect(requirements.map((r) => r["control-id"])).toEqual(ids);
      expect(requirements.find((r) => r["control-id"] === "hdr-2")?.props?.length).toBeGreaterThan(0);
      const findings = ar["assessment-results"].results[0].findings as {
        target: { "target-id": string; status: { state: string } };
      }[];
      const state = (id: string) => findings.find((f) => f.target["target-id"] === id)?.target.status.state;
      expect(state("hdr-3")).toBe("not-satisfied");
      expect(state("hdr-2")).toBe("satisfied");
    } finally {
      await t.close();
    }
  });
});
