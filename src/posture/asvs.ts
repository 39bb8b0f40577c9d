/**
 * The posture's mapping to OWASP ASVS 5.0 (POST-4). Each Bulwark requirement (REQUIREMENTS.md) names the
 * ASVS 5.0.0 requirements its text, as written, meets; the coverage table is then computed from the
 * controls that are on, so it shrinks with the configuration exactly as the security page does (POST-1).
 *
 * The mapping is deliberately conservative: an ASVS requirement is listed only where the Bulwark
 * requirement's own wording meets the ASVS wording, not where the code happens to do more than the
 * requirement promises. A requirement that demands something of *every* use (every cookie, every hash,
 * every token) is mapped only when a Bulwark requirement makes that statement, so a partial match stays
 * in the not-covered list, where it is visible, instead of inflating the count.
 *
 * The ASVS text is the 5.0.0 release (asvs-5.0.json, which names its source commit and path). IDs use the
 * short `V<chapter>.<section>.<n>` form; the formal reference is `v5.0.0-<chapter>.<section>.<n>`.
 */
import data from "./asvs-5.0.json" with { type: "json" };

export interface AsvsRequirement {
  /** Short form, e.g. `V6.2.1`. */
  readonly id: string;
  /** 1, 2 or 3: the lowest ASVS level that requires it. */
  readonly level: number;
  readonly chapter: string;
  readonly section: string;
  /** The first sentence, or a faithful shortening, of the requirement (at most 200 characters). */
  readonly text: string;
}

/** The ASVS release the table is computed against. */
export const ASVS_VERSION: string = data.version;

/** Every ASVS 5.0.0 requirement, levels 1 to 3, in the standard's order. */
export const ASVS_REQUIREMENTS: readonly AsvsRequirement[] = Object.freeze(
  data.requirements.map((r) => Object.freeze({ ...r })),
);

const BY_ID = new Map(ASVS_REQUIREMENTS.map((r) => [r.id, r]));

/**
 * Bulwark requirement → ASVS 5.0 requirements it satisfies. Requirements absent here (webhooks,
 * idempotency, posture, operations, most of KEY) add security ASVS does not ask for, or meet ASVS only
 * in combination with wording REQUIREMENTS.md does not (yet) contain. L3 IDs are listed where met.
 */
export const ASVS_MAP: Readonly<Record<string, readonly string[]>> = freeze({
  "HDR-1": ["V4.1.2", "V12.2.1"], // production refuses HTTP (no transparent redirect of API calls)
  "HDR-2": ["V3.4.1"],
  // "Strict" CSP on every response, read as object-src/base-uri 'none' (V3.4.3); nosniff on every
  // response keeps API bodies from being rendered in the wrong context (V3.2.1).
  // Its settings show the CSP in force, with frame-ancestors 'none' (V3.4.6).
  "HDR-3": ["V3.2.1", "V3.4.3", "V3.4.4", "V3.4.5", "V3.4.6"],
  "HDR-4": ["V12.1.1"], // only when Bulwark terminates TLS itself
  "CORS-1": ["V3.4.2"],
  "AUTH-1": ["V11.4.2"],
  // Not V6.2.4: the offline list holds only ~300 passwords of the policy's 12+ characters, not 3000.
  "AUTH-2": ["V6.2.1", "V6.2.12"],
  "AUTH-3": ["V6.4.1"],
  "AUTH-5": [
    "V3.3.2",
    "V3.3.3",
    "V3.3.4",
    "V7.1.1",
    "V7.2.1",
    "V7.2.2",
    "V7.3.1",
    "V7.3.2",
    "V7.4.1",
    "V7.4.3",
    "V3.5.1", // the claim: state-changing requests need a per-session CSRF token
  ],
  "AUTH-6": ["V8.2.1"],
  "AUTH-7": ["V2.4.1", "V6.1.1", "V6.3.1"],
  "AUTH-8": ["V6.5.1"], // the claim: each code works once
  "AUTH-9": ["V7.2.2", "V10.4.5"],
  // The claim: the authorization code flow only, PKCE S256 required of every client.
  "AUTH-10": ["V9.1.1", "V9.2.1", "V9.2.3", "V9.2.4", "V10.3.1", "V10.4.4", "V10.4.6"],
  // The claim: code flow with PKCE S256, state and nonce; the ID token's signature, issuer, audience
  // and expiry verified.
  "AUTH-11": ["V6.8.2", "V10.2.1", "V10.5.1", "V10.5.4"],
  "AUTH-14": ["V7.5.1", "V7.5.3"],
  "AUTHZ-1": ["V8.1.1", "V8.2.1", "V8.3.1"],
  "AUTHZ-2": ["V8.2.2", "V8.3.1", "V8.4.1"],
  "AUTHZ-3": ["V8.2.1", "V6.3.2"], // the claim: admins are created only from the command line
  "AUTHZ-5": ["V6.4.1"],
  "AUTHZ-6": ["V16.3.2"],
  "KEY-1": ["V8.2.2", "V8.4.1"],
  "KEY-2": ["V8.2.1"],
  "RATE-2": ["V2.3.2", "V2.4.1"],
  "RATE-3": ["V2.3.2", "V2.4.1", "V15.2.2"],
  "RATE-5": ["V16.5.2"],
  "RATE-6": ["V2.3.2", "V2.4.1"],
  "AUDIT-1": ["V16.2.1"],
  "AUDIT-2": ["V16.3.1", "V16.3.2"],
  "AUDIT-3": ["V16.4.2"],
  "AUDIT-4": ["V16.4.2"],
  "AUDIT-5": ["V16.2.4"],
  "HOOK-4": ["V15.2.2"],
  "HOOK-5": ["V16.5.2"],
  "HOOK-7": ["V1.3.6", "V15.3.2"], // public-address rule, not a domain allowlist: webhook targets are the tenants' own
  "INPUT-1": ["V2.2.1", "V2.2.2", "V15.3.3", "V15.3.5"],
  "INPUT-2": ["V1.2.4"],
  "INPUT-3": ["V15.3.5", "V15.3.7"],
  "INPUT-4": ["V1.3.1"],
  "INPUT-5": ["V1.5.2", "V15.2.2", "V15.3.6"], // JSON is Bulwark's only deserialisation; poisoning is its risk
  "OBS-1": ["V16.5.1"],
  "OBS-2": ["V16.2.4", "V16.2.5", "V16.4.1"],
  "OBS-3": ["V14.2.3", "V16.3.4"],
  "DATA-1": ["V11.3.1", "V11.3.2", "V11.3.3"],
  "DATA-3": ["V5.2.1", "V5.3.1"], // files go to object storage, never to a folder Bulwark serves or runs
  "DATA-4": ["V13.2.3"],
  "GDPR-3": ["V14.2.7"],
  "SUPPLY-1": ["V15.1.2", "V15.2.1"],
  "OPS-1": ["V16.5.2"],
});

/**
 * ASVS L1/L2 requirements that cannot apply to Bulwark, each with the fact that rules it out. Anything
 * merely unimplemented stays applicable (and shows as not covered).
 */
export const NOT_APPLICABLE: Readonly<Record<string, string>> = Object.freeze({
  "V1.2.6": "No LDAP: Bulwark queries no directory.",
  "V1.2.7": "No XML or XPath processing.",
  "V1.2.8": "No LaTeX processing.",
  "V1.3.8": "No JNDI: Bulwark runs on Node.js, not Java.",
  "V1.3.9": "No memcache (the shared store is Redis, through a RESP client with length-prefixed arguments).",
  "V1.4.1": "Managed runtime (TypeScript on Node.js); V1.4 covers systems languages and unmanaged code.",
  "V1.4.2": "Managed runtime; V1.4 covers systems languages and unmanaged code.",
  "V1.4.3": "Managed runtime (garbage-collected); V1.4 covers systems languages and unmanaged code.",
  "V1.5.1": "No XML parser: OAuth/OIDC, webhooks and the API are JSON; no SAML.",
  "V3.5.5": "The console listens to no postMessage events.",
  "V4.3.1": "No GraphQL API.",
  "V4.3.2": "No GraphQL API.",
  "V4.4.1": "No WebSocket endpoints.",
  "V4.4.2": "No WebSocket endpoints.",
  "V4.4.3": "No WebSocket endpoints.",
  "V4.4.4": "No WebSocket endpoints.",
  "V5.2.3": "Bulwark never decompresses uploaded files: they go to object storage untouched (DATA-3).",
  "V6.6.1": "No phone or SMS one-time passwords.",
  "V6.6.2": "No out-of-band authenticator (email links verify addresses and reset passwords, not sign-ins).",
  "V6.6.3": "No out-of-band authenticator.",
  "V6.8.3": "No SAML: external sign-in is OpenID Connect only (AUTH-11).",
  "V10.4.7": "The OpenID provider offers no dynamic client registration; organisations register clients.",
  "V10.5.5": "As an OIDC client (AUTH-11) Bulwark accepts no back-channel logout tokens.",
  "V11.4.4": "No key is derived from a password (data keys are random or from a high-entropy secret).",
  "V12.1.3": "No mutual-TLS client authentication.",
  "V17.1.1": "No WebRTC (TURN server).",
  "V17.2.1": "No WebRTC media server.",
  "V17.2.2": "No WebRTC media server.",
  "V17.2.3": "No WebRTC media server.",
  "V17.2.4": "No WebRTC media server.",
  "V17.3.1": "No WebRTC signaling server.",
  "V17.3.2": "No WebRTC signaling server.",
});

export interface AsvsCoverage {
  /** The ASVS level assessed: requirements of this level and below count. */
  readonly level: number;
  /** Requirements at or below the level, less the not-applicable ones. */
  readonly applicable: number;
  /** Applicable IDs mapped from at least one enabled control, in ASVS order. */
  readonly covered: string[];
  /** Applicable IDs no enabled control meets, in ASVS order. */
  readonly notCovered: { id: string; text: string }[];
  /** Requirements at or below the level that do not apply to Bulwark. */
  readonly notApplicable: number;
}

/** The ASVS 5.0 IDs a Bulwark requirement satisfies (none for an unmapped or unknown ID). */
export function asvsOf(id: string): readonly string[] {
  return Object.hasOwn(ASVS_MAP, id) ? (ASVS_MAP[id] ?? []) : [];
}

/**
 * The coverage table for the controls that are on (the security page passes its enabled claims' IDs),
 * at ASVS level 1, 2 (the default: what a multi-tenant SaaS security core should meet) or 3.
 */
export function asvsCoverage(enabledIds: readonly string[], level = 2): AsvsCoverage {
  const met = new Set(enabledIds.flatMap(asvsOf));
  const inScope = ASVS_REQUIREMENTS.filter((r) => r.level <= level);
  const applicable = inScope.filter((r) => !Object.hasOwn(NOT_APPLICABLE, r.id));
  return {
    level,
    applicable: applicable.length,
    covered: applicable.filter((r) => met.has(r.id)).map((r) => r.id),
    notCovered: applicable.filter((r) => !met.has(r.id)).map((r) => ({ id: r.id, text: r.text })),
    notApplicable: inScope.length - applicable.length,
  };
}

/** The ASVS requirement with this short ID, if the 5.0.0 release has one. */
export function asvsRequirement(id: string): AsvsRequirement | undefined {
  return BY_ID.get(id);
}

function freeze(map: Record<string, string[]>): Readonly<Record<string, readonly string[]>> {
  for (const ids of Object.values(map)) Object.freeze(ids);
  return Object.freeze(map);
}
