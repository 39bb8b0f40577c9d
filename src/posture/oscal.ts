import { createHash } from "node:crypto";
import type { CheckOutcome, Control, SettingValue } from "./registry.js";

export type { CheckOutcome } from "./registry.js";

/**
 * POST-4: the posture in NIST OSCAL, for tools that read it rather than people. The component definition
 * says what Bulwark claims and with which configured values; the assessment results say what the
 * self-checks (POST-3) last saw. Both are built from the same claims as the security page, by pure
 * functions, and a test validates them against the official OSCAL JSON schemas in test/vectors/oscal/.
 */

/** The OSCAL release the documents declare: the one whose schemas the test validates them against. */
export const OSCAL_VERSION = "1.2.2";

/** Where the documents, and those they refer to, are served under the public URL. */
export const OSCAL_PATHS = {
  componentDefinition: "/security/oscal/component-definition.json",
  assessmentResults: "/security/oscal/assessment-results.json",
  // No OSCAL catalog nor assessment plan is published: the claims (and which are checked, how often) are
  // defined by the security overview, which both references point at.
  assessmentPlan: "/security.json",
  catalog: "/security.json",
} as const;

/** OSCAL wants names that are not NIST's qualified by a namespace URI of their owner. */
export const BULWARK_NS = "https://bulwark.dev/ns/oscal";

export interface OscalMeta {
  /** ISO 8601 with a time zone: the documents' last-modified. */
  generatedAt: string;
  profile: string;
  /** The documents' version: the running Bulwark's. */
  version: string;
  publicUrl: string;
  /** The OWASP ASVS 5.0 requirements a claim meets, e.g. `["V3.4.1"]`. */
  asvsOf?: (id: string) => readonly string[];
}

const URL_NAMESPACE = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

/**
 * An RFC 4122 name-based (version 5, SHA-1) UUID. OSCAL requires a UUID on nearly every object, and one
 * that stays the same while the object does lets a reader follow a claim across versions of a document;
 * random UUIDs would make every rendering look like a new posture.
 */
export function uuidV5(namespace: string, name: string): string {
  const h = createHash("sha1")
    .update(Buffer.from(namespace.replaceAll("-", ""), "hex"))
    .update(name, "utf8")
    .digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** UUIDs scoped to one deployment (its public URL), so two deployments' documents never share one. */
const scope = (meta: OscalMeta): { url: string; id: (name: string) => string } => {
  const url = meta.publicUrl.replace(/\/+$/, "");
  const ns = uuidV5(URL_NAMESPACE, url);
  return { url, id: (name) => uuidV5(ns, name) };
};

/**
 * A document's own UUID names its content: OSCAL asks for a new one whenever the document changes, so it
 * is derived from everything in it but the timestamps, and the same posture keeps the same UUID.
 */
const digest = (content: unknown): string =>
  createHash("sha256").update(JSON.stringify(content)).digest("hex");

/** OSCAL strings (StringDatatype) are one line without leading or trailing space; "" is dropped. */
const oneLine = (s: string): string => s.replace(/\s+/g, " ").trim();

/** OSCAL control IDs are lower case, as in NIST's catalogs ("ac-2"): `HDR-2` becomes `hdr-2`. */
const controlId = (id: string): string => id.toLowerCase();

/** NIST's parameter naming (`ac-1_prm_1`), with the setting's key: `maxAge` of HDR-2 is `hdr-2_prm_max-age`. */
const paramId = (cid: string, key: string): string =>
  `${cid}_prm_${key
    .replace(/([\p{Ll}\p{N}])(\p{Lu})/gu, "$1-$2")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}._-]+/gu, "-")}`;

/** Parameter values are strings; a list gives one value each; empty values say nothing and are left out. */
const values = (v: SettingValue): string[] =>
  (Array.isArray(v) ? v : [v]).map((x) => oneLine(String(x))).filter((x) => x !== "");

const metadata = (title: string, meta: OscalMeta) => {
  const profile = oneLine(meta.profile);
  return {
    title,
    "last-modified": meta.generatedAt,
    version: oneLine(meta.version),
    "oscal-version": OSCAL_VERSION,
    ...(profile ? { props: [{ name: "profile", ns: BULWARK_NS, value: profile }] } : {}),
  };
};

const BULWARK = {
  type: "software",
  title: "Bulwark",
  description: "The security core of a multi-tenant SaaS, as configured in this deployment.",
};

/**
 * The OSCAL component definition: one component, Bulwark, implementing each claim. Each claim is an
 * implemented requirement whose control ID is its requirement ID, whose description is the claim, whose
 * configured values are set-parameters, and whose ASVS 5.0 requirements are `asvs-requirement` props.
 */
export function componentDefinition(claims: readonly Control[], meta: OscalMeta): object {
  const { url, id } = scope(meta);
  const requirements = claims.map((c) => {
    const cid = controlId(c.id);
    const asvs = (meta.asvsOf?.(c.id) ?? []).map(oneLine).filter((x) => x !== "");
    const params = Object.entries(c.settings ?? {}).flatMap(([key, v]) => {
      const vs = values(v);
      return vs.length > 0 ? [{ "param-id": paramId(cid, key), values: vs }] : [];
    });
    return {
      uuid: id(`implemented-requirement:${c.id}:${c.title}`),
      "control-id": cid,
      description: c.claim,
      ...(asvs.length > 0
        ? { props: asvs.map((value) => ({ name: "asvs-requirement", ns: BULWARK_NS, value })) }
        : {}),
      ...(params.length > 0 ? { "set-parameters": params } : {}),
    };
  });
  const implementation = {
    uuid: id("control-implementation"),
    source: `${url}${OSCAL_PATHS.catalog}`,
    description: "The security claims this deployment makes, each with its configured values.",
    "implemented-requirements": requirements,
  };
  // OSCAL wants at least one implemented requirement in a control implementation: none, no list.
  const component = {
    uuid: id("component:Bulwark"),
    ...BULWARK,
    ...(requirements.length > 0 ? { "control-implementations": [implementation] } : {}),
  };
  const content = { component, profile: meta.profile, version: meta.version };
  return {
    "component-definition": {
      uuid: id(`component-definition:${digest(content)}`),
      metadata: metadata("Bulwark security posture", meta),
      components: [component],
    },
  };
}

/**
 * The OSCAL assessment results: one result holding, for each claim whose self-check has run, an
 * observation (what the check saw, when) and a finding on the claim, "satisfied" when it held and
 * "not-satisfied" when it did not. OSCAL has no third finding state, so a claim with no self-check is not
 * given a finding: the reviewed controls include every claim and exclude those, naming them as not
 * assessed.
 */
export function assessmentResults(
  claims: readonly Control[],
  checks: (id: string, title: string) => CheckOutcome | undefined,
  meta: OscalMeta,
): object {
  const { url, id } = scope(meta);
  const component = id("component:Bulwark");
  const observation = (c: Control): string => id(`observation:${c.id}:${c.title}`);
  const outcomes = claims.map((c) => ({ c, o: checks(c.id, c.title) }));
  const probed = outcomes.flatMap(({ c, o }) => (o ? [{ c, o }] : []));
  const unprobed = outcomes.filter(({ o }) => !o).map(({ c }) => ({ "control-id": controlId(c.id) }));
  const times = probed.map(({ o }) => o.checkedAt).sort((a, b) => Date.parse(a) - Date.parse(b));

  const observations = probed.map(({ c, o }) => ({
    uuid: observation(c),
    title: oneLine(`Self-check of ${c.id}: ${c.title}`),
    description: o.holds
      ? "Bulwark's self-check found that the claim holds on the running server."
      : `Bulwark's self-check found that the claim does not hold: ${o.detail ?? "no detail was recorded"}.`,
    methods: ["TEST"],
    types: ["control-objective"],
    origins: [{ actors: [{ type: "tool", "actor-uuid": component }] }],
    subjects: [{ "subject-uuid": component, type: "component" }],
    collected: o.checkedAt,
  }));
  const findings = probed.map(({ c, o }) => ({
    uuid: id(`finding:${c.id}:${c.title}`),
    title: oneLine(c.title),
    description: c.claim,
    target: {
      type: "objective-id",
      "target-id": controlId(c.id),
      status: { state: o.holds ? "satisfied" : "not-satisfied", reason: o.holds ? "pass" : "fail" },
    },
    "related-observations": [{ "observation-uuid": observation(c) }],
  }));

  const reviewed = {
    description:
      "Every claim of the component definition; those excluded have no self-check and were not assessed.",
    ...(claims.length > 0
      ? { "include-controls": claims.map((c) => ({ "control-id": controlId(c.id) })) }
      : { "include-all": {} }),
    ...(unprobed.length > 0 ? { "exclude-controls": unprobed } : {}),
  };
  const content = {
    claims: outcomes.map(({ c, o }) => [c.id, c.title, c.claim, o?.holds, o?.detail]),
    profile: meta.profile,
    version: meta.version,
  };
  const result = {
    uuid: id(`result:${digest(content)}`),
    title: "Bulwark self-checks",
    description: "The last outcome of each claim's self-check against the running server (POST-3).",
    start: times[0] ?? meta.generatedAt,
    ...(times.length > 0 ? { end: times[times.length - 1] } : {}),
    "local-definitions": { components: [{ uuid: component, ...BULWARK, status: { state: "operational" } }] },
    "reviewed-controls": { "control-selections": [reviewed] },
    ...(probed.length > 0 ? { observations, findings } : {}),
  };
  return {
    "assessment-results": {
      uuid: id(`assessment-results:${digest(content)}`),
      metadata: metadata("Bulwark security self-check results", meta),
      "import-ap": { href: `${url}${OSCAL_PATHS.assessmentPlan}` },
      results: [result],
    },
  };
}
